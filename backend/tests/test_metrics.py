"""``GET /metrics``: who may read it, what it counts, and the multiprocess files across worker recycling."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.servers import BACKEND_DIR, run_gunicorn

METRICS_TOKEN = "scraper-secret-for-tests"
PASSWORD = "correct horse battery"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape by (name, sorted labels): the parser fails on anything malformed."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client, headers) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return samples(response.get_data(as_text=True))


def test_metrics_needs_the_metrics_token_or_an_admin(app, client, auth, user_token):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {user_token}"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 401, "not set"
    app.config["METRICS_TOKEN"] = METRICS_TOKEN
    assert client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers=auth).status_code == 200, "an admin token still works"
    assert client.get("/metrics", headers=auth).get_json() is None, "text, not JSON"


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("jefe_operaciones", 403)])
def test_a_signed_in_admin_reads_metrics(app, client, role, status):
    from app.accounts.users import create_user

    with app.app_context():
        create_user(f"{role}@plg.sv", "Someone", role, PASSWORD)
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    signed_in = client.post(
        "/login",
        data={"email": f"{role}@plg.sv", "password": PASSWORD, "csrf_token": csrf},
        headers={"Accept": "application/json"},
    )
    assert signed_in.status_code == 200, signed_in.get_json()
    assert client.get("/metrics").status_code == status


def test_requests_are_counted_by_endpoint_and_status(client, auth):
    before = scrape(client, auth)
    for _ in range(3):
        assert client.get("/health").status_code == 200
    assert client.get("/api/invoices").status_code == 401
    assert client.get("/no/such/page").status_code == 404
    after = scrape(client, auth)
    assert (
        value(after, "nextops_http_request_seconds_count", endpoint="health.health", status="200")
        - value(before, "nextops_http_request_seconds_count", endpoint="health.health", status="200")
        == 3
    )
    assert (
        value(after, "nextops_http_request_seconds_count", endpoint="api.list_invoices", status="401")
        - value(before, "nextops_http_request_seconds_count", endpoint="api.list_invoices", status="401")
        == 1
    )
    assert (
        value(after, "nextops_http_request_seconds_count", endpoint="unmatched", status="404")
        - value(before, "nextops_http_request_seconds_count", endpoint="unmatched", status="404")
        == 1
    )
    fast = {"endpoint": "health.health", "status": "200", "le": "+Inf"}
    assert (
        value(after, "nextops_http_request_seconds_bucket", **fast)
        - value(before, "nextops_http_request_seconds_bucket", **fast)
        == 3
    ), "every request lands in the +Inf bucket"
    assert value(after, "nextops_worker_rss_bytes", pid=str(os.getpid())) > 0


def test_exports_and_uploads_are_counted(seeded, client, auth):
    before = scrape(client, auth)
    export = client.get("/api/invoices/export?format=csv", headers=auth)
    assert export.status_code == 200
    size = len(export.data)
    rows = export.data.count(b"\n") - 1
    pdf = b"%PDF-1.7\n" + b"x" * 500
    assert client.post("/api/uploads", data={"file": (io.BytesIO(pdf), "a.pdf")}, headers=auth).status_code == 201
    assert client.post("/api/uploads", data={"file": (io.BytesIO(pdf), "b.pdf")}, headers=auth).status_code == 200
    refused = client.post(
        "/api/uploads", data={"file": (io.BytesIO(b"MZ\x90\x00 not a document"), "x.exe")}, headers=auth
    )
    assert refused.status_code == 415, refused.get_json()
    seeded.config["MAX_UPLOAD_MB"] = 1
    too_big = client.post("/api/uploads", data={"file": (io.BytesIO(b"%PDF-1.7\n" * 200_000), "big.pdf")}, headers=auth)
    assert too_big.status_code == 413, too_big.get_json()
    after = scrape(client, auth)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("nextops_export_rows_total", format="csv", mode="streamed") == rows == 300
    assert delta("nextops_export_bytes_total", format="csv", mode="streamed") == size
    assert delta("nextops_export_seconds_count", format="csv", mode="streamed") == 1
    assert delta("nextops_exports_aborted_total", format="csv", mode="streamed") == 0
    assert delta("nextops_upload_bytes_total") == len(pdf)
    assert delta("nextops_upload_duplicates_total") == 1
    assert delta("nextops_upload_rejections_total", reason=refused.get_json()["error"]["code"]) == 1
    assert delta("nextops_upload_rejections_total", reason=too_big.get_json()["error"]["code"]) == 1


def test_an_export_cut_short_counts_as_aborted(seeded, client, auth):
    before = scrape(client, auth)
    response = client.get("/api/invoices/export?format=csv", headers=auth, buffered=False)
    next(iter(response.response))
    response.close()
    after = scrape(client, auth)
    assert value(after, "nextops_db_pool_in_use") == value(before, "nextops_db_pool_in_use"), "connection returned"
    labels = {"format": "csv", "mode": "streamed"}
    assert (
        value(after, "nextops_exports_aborted_total", **labels)
        - value(before, "nextops_exports_aborted_total", **labels)
        == 1
    )


def test_pool_connections_in_use_are_counted(app, client, auth):
    from app.extensions import db

    before = value(scrape(client, auth), "nextops_db_pool_in_use")
    with app.app_context():
        held = [db.engine.connect(), db.engine.connect()]
        during = value(scrape(client, auth), "nextops_db_pool_in_use")
        for connection in held:
            connection.close()
    assert during == before + 2
    assert value(scrape(client, auth), "nextops_db_pool_in_use") == before


def test_job_states_hook_is_scraped(app, client, auth):
    """The background exports register their export_jobs counts; any registered hook is what a scrape shows."""
    from app.extensions import db
    from app.models import ExportJob
    from app.monitoring.metrics import register_job_states

    with app.app_context():
        db.session.add(
            ExportJob(
                id="a" * 32,
                owner="t",
                resource="ots",
                format="csv",
                request={"resource": "ots", "args": []},
                status="queued",
                attempt=1,
                rows_written=0,
                bytes_written=0,
            )
        )
        db.session.commit()
    real = scrape(client, auth)
    assert value(real, "nextops_background_jobs", state="queued") == 1
    assert value(real, "nextops_background_jobs", state="failed") == 0
    register_job_states(app, lambda: {"queued": 2, "running": 1})
    after = scrape(client, auth)
    assert value(after, "nextops_background_jobs", state="queued") == 2
    assert value(after, "nextops_background_jobs", state="running") == 1


def test_metrics_disabled_is_a_404(app, database_url, tmp_path, auth):
    from app import create_app

    off = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "METRICS_ENABLED": False,
            "STORAGE_DIR": str(tmp_path),
            "SECRET_KEY": "x",
        }
    )
    assert off.test_client().get("/metrics", headers=auth).status_code == 404


# The merge in a clean interpreter: prometheus_client picks multiprocess storage at its first import.
RECYCLE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    directory = sys.argv[1]
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from ops.metrics_files import prepare_directory, retire_process, value_files
    from ops import metrics
    prepare_directory(directory)
    counts = []
    for generation in range(40):
        pid = os.fork()
        if pid == 0:
            metrics.record_request("health.health", "200", 0.003)
            metrics.record_request("health.health", "200", 0.2)
            metrics.record_retirement("max_requests")
            metrics.db_connection_checked_out()
            os._exit(0)
        os.waitpid(pid, 0)
        retire_process(directory, pid)
        counts.append(len(value_files(directory)))
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    print(json.dumps({"files": counts, "names": sorted(p.name for p in value_files(directory)),
                      "text": generate_latest(registry).decode()}))
    """
)


def test_dead_workers_files_fold_into_the_archive_and_totals_stay(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", RECYCLE_SCRIPT, str(tmp_path / "metrics")],
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert max(report["files"]) == 2, report["files"]
    assert report["names"] == ["counter_archive.db", "histogram_archive.db"]
    scraped = samples(report["text"])
    assert value(scraped, "nextops_http_request_seconds_count", endpoint="health.health", status="200") == 80
    health = {"endpoint": "health.health", "status": "200"}
    assert value(scraped, "nextops_http_request_seconds_bucket", **health, le="0.005") == 40
    assert value(scraped, "nextops_http_request_seconds_bucket", **health, le="0.25") == 80
    assert value(scraped, "nextops_http_request_seconds_sum", **health) == pytest.approx(40 * 0.203)
    assert value(scraped, "nextops_worker_retirements_total", reason="max_requests") == 40
    assert value(scraped, "nextops_db_pool_in_use") == 0, "the dead workers' live gauges are gone"


def wait_for_workers(master: int, count: int, directory: Path, timeout: float = 20) -> list[str]:
    """Once the retired workers have exited (each lingers up to a second), the value files in the directory."""
    deadline = time.monotonic() + timeout
    while len(psutil.Process(master).children()) != count:
        assert time.monotonic() < deadline, "the retired workers did not exit"
        time.sleep(0.1)
    time.sleep(0.5)  # child_exit runs in the master's loop right after the exit
    return sorted(p.name for p in directory.glob("*.db"))


@pytest.mark.gunicorn
def test_recycled_workers_keep_the_totals_without_piling_up_files(server_env, tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"left by an earlier master")
    (directory / "keep.txt").write_text("not ours")
    env = dict(
        server_env,
        GUNICORN_MAX_REQUESTS="5",
        GUNICORN_MAX_REQUESTS_JITTER="0",
        METRICS_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(directory),
        GUNICORN_MAX_WORKER_MEMORY_MB="0",
    )
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    health = {"endpoint": "health.health", "status": "200"}
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        before = samples(requests.get(server.url("/metrics"), headers=headers, timeout=10).text)
        for _ in range(100):  # a new connection each time: a retiring worker may finish a keep-alive one
            assert requests.get(server.url("/health"), timeout=10).status_code == 200
        settled = wait_for_workers(server.pid, 2, directory)
        response = requests.get(server.url("/metrics"), headers=headers, timeout=10)
        assert response.status_code == 200
        scraped = samples(response.text)
        log = server.log_text()
    served = value(scraped, "nextops_http_request_seconds_count", **health) - value(
        before, "nextops_http_request_seconds_count", **health
    )
    assert served == 100
    timed = value(scraped, "nextops_http_request_seconds_sum", **health)
    assert timed > value(before, "nextops_http_request_seconds_sum", **health)
    retired = log.count("retiring after")
    # A retiring worker may accept for up to a second more, so the count depends on the machine's speed; without the
    # merge, 3 files per worker ever started would stay (more than the bound below from 3 retirements on).
    assert retired >= 3, "the workers really were recycled"
    assert value(scraped, "nextops_worker_retirements_total", reason="max_requests") == retired
    # Per live worker: counter, histogram, pool gauge (plus the retiring one's, until child_exit), and 2 archives.
    # Each live worker has 3 files (counters, histograms, the pool gauge); the dozen dead ones left only the archives.
    assert len(settled) <= 2 * 3 + 2, settled
    assert {"counter_archive.db", "histogram_archive.db"} <= set(settled)
    assert sorted(p.name for p in directory.glob("*.db")) == ["counter_archive.db", "histogram_archive.db"]
    assert (directory / "keep.txt").exists()
    assert not (directory / "counter_999999.db").exists(), "emptied at master start"
    pss = [v for (name, _), v in scraped.items() if name == "nextops_worker_pss_bytes"]
    # The scrape is itself a request: when it is a worker's fifth, the replacement starts while it is answered.
    assert len(pss) in (2, 3) and all(v > 0 for v in pss), "one PSS figure per live worker"
