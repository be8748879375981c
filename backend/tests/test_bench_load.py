"""The load benchmark's moving parts: the OLD-setup routes it compares against, and its bookkeeping.

A wrong baseline would make every before/after figure wrong, so the old export and upload are run
here for real (both databases) and checked for complete output; the harness helpers that decide what
counts as an error are checked too, and so are the memory samples behind the memory-over-time
picture (bounded, the peak kept, load.json readable by bench/plots.py). Timing is never asserted:
that is the benchmark's job.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import baseline_app  # noqa: E402
import load  # noqa: E402


@pytest.fixture
def old_client(seeded: Flask) -> FlaskClient:
    """The seeded test app with the export and upload views swapped for the old ones."""
    baseline_app.replace_route(seeded, baseline_app.EXPORT_PATH, "GET", baseline_app.old_export)
    baseline_app.replace_route(seeded, baseline_app.UPLOAD_PATH, "POST", baseline_app.old_upload)
    return seeded.test_client()


def test_replace_route_swaps_the_existing_view_in_place(app: Flask) -> None:
    endpoint = baseline_app.replace_route(app, baseline_app.EXPORT_PATH, "GET", baseline_app.old_export)

    assert app.view_functions[endpoint] is baseline_app.old_export
    assert not endpoint.startswith("baseline_"), "our route exists, so its endpoint is reused"


def test_old_csv_export_has_every_row(old_client: FlaskClient, auth: dict[str, str]) -> None:
    response = old_client.get("/api/invoices/export?format=csv", headers=auth)

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 301 and rows[0][0] == "id"


def test_old_xlsx_export_is_a_complete_workbook(old_client: FlaskClient, auth: dict[str, str]) -> None:
    response = old_client.get("/api/invoices/export?format=xlsx", headers=auth)

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    assert sum(1 for _ in sheet.iter_rows()) == 301


def test_old_upload_stores_the_whole_file(old_client: FlaskClient, auth: dict[str, str], seeded: Flask) -> None:
    data = b"%PDF-1.7\n" + os.urandom(100_000)
    response = old_client.post(
        "/api/uploads",
        headers=auth,
        data={"file": (io.BytesIO(data), "invoice.pdf")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 201
    digest = hashlib.sha256(data).hexdigest()
    assert response.json["sha256"] == digest
    stored = Path(seeded.config["STORAGE_DIR"]) / "baseline" / digest[:2] / digest
    assert stored.read_bytes() == data


def test_roles_give_every_heavy_kind_a_tenth_of_the_clients() -> None:
    assert sorted(load.roles(20)) == sorted(["export_xlsx"] * 2 + ["export_csv"] * 2 + ["upload"] * 2 + ["list"] * 14)
    assert sorted(load.roles(4)) == ["export_csv", "export_xlsx", "list", "upload"]


def test_a_missing_endpoint_counts_as_an_error_of_its_kind() -> None:
    outcomes = [load.Outcome("list", 0.01, "ok"), load.Outcome("export_csv", 1.0, "throttled", "10")]
    run = load.RunResult(load.SETUPS[1], 2, 0, 0, 0, 0, 0, 1.0, outcomes, {"upload": "endpoint missing"})

    assert run.count(status="error") == 1
    assert run.count("upload", "error") == 1
    assert run.count("export_csv", "throttled") == 1
    assert run.count("list", "error") == 0


def test_list_latency_quantiles_use_successful_list_calls_only() -> None:
    outcomes = [load.Outcome("list", s / 1000, "ok") for s in range(1, 101)]
    outcomes += [load.Outcome("list", 99.0, "error"), load.Outcome("export_csv", 50.0, "ok")]
    run = load.RunResult(load.SETUPS[1], 2, 0, 0, 0, 0, 0, 1.0, outcomes, {})

    assert run.list_latency_ms(50) == pytest.approx(50.5)
    assert run.list_latency_ms(99) == pytest.approx(99.01)


def test_tree_sampler_reads_pss_and_rss_of_a_real_process_tree() -> None:
    rss, pss, count = load.TreeMemorySampler(os.getpid(), 0.2).read()

    assert count >= 1
    assert rss > 0
    assert 0 < pss <= rss * 1.01  # PSS never exceeds RSS (allowing for the two reads being apart)


def test_error_notes_stay_on_one_table_line() -> None:
    note = load.one_line("HTTP 500: <html>\n  <head>\n | x")
    assert "\n" not in note and "|" not in note


def sample(seconds: float, pss: int) -> load.TreeSample:
    return load.TreeSample(seconds, pss * 2, pss, 3)


def test_series_stays_bounded_and_keeps_the_peak() -> None:
    series = load.PeakSeries(limit=10)
    for index in range(1000):
        series.add(sample(index * 0.2, 500 if index == 777 else 100 + index % 7))
    series.close()

    assert 5 <= len(series.points) < 10
    assert max(point.pss for point in series.points) == 500
    times = [point.seconds for point in series.points]
    assert times == sorted(times) and times[0] < 30 < 170 < times[-1]  # the whole run, in order


def test_series_keeps_every_reading_below_its_limit() -> None:
    series = load.PeakSeries(limit=100)
    for index in range(7):
        series.add(sample(index, index))
    series.close()

    assert [point.pss for point in series.points] == list(range(7))


def test_sampler_series_counts_seconds_from_the_start_of_the_load() -> None:
    with load.TreeMemorySampler(os.getpid(), 0.1) as sampler:
        time.sleep(0.35)

    points = sampler.series.points
    assert len(points) == sampler.samples >= 2
    assert 0 <= points[0].seconds < 0.1
    assert all(point.pss > 0 and point.processes >= 1 for point in points)


def load_results(samples: list[load.TreeSample]) -> dict[str, object]:
    runs = [
        load.RunResult(setup, 2, 90 * load.MB, 80 * load.MB, 0, 0, len(samples), 12.0, [], {}, 100, samples)
        for setup in load.SETUPS
    ]
    args = argparse.Namespace(duration=10.0, interval=0.2, clients=20, rows=100)
    return json.loads(load.series_json(runs, args))


def test_load_json_holds_every_setups_samples_in_mb() -> None:
    results = load_results([sample(0.0, 100 * load.MB), sample(0.2, 150 * load.MB)])

    assert list(results["setups"]) == ["before", "after"]
    before = results["setups"]["before"]
    assert before["figures"]["idle_pss_mb"] == 80.0
    assert before["samples"] == [[0.0, 100.0, 200.0, 3], [0.2, 150.0, 300.0, 3]]
    assert before["figures"]["errors"] == 0
    assert results["settings"]["columns"] == ["seconds", "pss_mb", "rss_mb", "processes"]


def test_memory_picture_is_drawn_from_load_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    import plots

    source = tmp_path / "load.json"
    source.write_text(json.dumps(load_results([sample(s / 5, (100 + s) * load.MB) for s in range(50)])))
    monkeypatch.setattr(plots, "LOAD_PNG", tmp_path / "load-memory.png")

    drawn = plots._load_memory(source)

    assert drawn == tmp_path / "load-memory.png"
    assert drawn.read_bytes().startswith(b"\x89PNG")
