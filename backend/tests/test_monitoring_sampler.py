"""The per-request memory sampler: seeded sampling, the HIGH MEMORY alert, size logs, streamed bodies.

The sampler does not touch the database, so these tests build their own app on in-memory SQLite
(created in fixtures: the app factory installs the logging config, which must happen before caplog
attaches its handler for the test body).
"""

from __future__ import annotations

import os
import random

import psutil
import pytest
from flask import Response
from werkzeug.test import EnvironBuilder

from app import create_app
from app.monitoring.process_memory import MB, StatmReader
from app.monitoring.sampler import EXTENSION_KEY

STREAM_CHUNKS = 10
CHUNK = b"x" * (200 * 1024)


class NoDraws(random.Random):
    """An RNG that fails the test if the sampler consults it."""

    def random(self) -> float:
        raise AssertionError("the sampler drew a random number at rate 0 or 1")


@pytest.fixture
def sampled_app():
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "MEMORY_SAMPLE_RATE": 1.0,
            "MEMORY_LARGE_REQUEST_MB": 1,
            "MEMORY_ALERT_MB": 1500,
        }
    )
    produced: list[int] = []

    def stream():
        def generate():
            for index in range(STREAM_CHUNKS):
                produced.append(index)
                yield CHUNK

        return Response(generate(), mimetype="application/octet-stream")

    app.add_url_rule("/stream", view_func=stream)
    app.add_url_rule("/big", "big", view_func=lambda: Response(CHUNK * STREAM_CHUNKS))
    app.add_url_rule("/upload", "upload", view_func=lambda: "ok", methods=["POST"])
    app.extensions["produced"] = produced
    return app


def sampler_of(app):
    return app.extensions[EXTENSION_KEY]


def records(caplog, message):
    return [record for record in caplog.records if record.getMessage().startswith(message)]


def test_sampling_rate_is_honoured_with_a_seeded_rng(sampled_app, caplog):
    sampler = sampler_of(sampled_app)
    sampler.sample_rate = 0.25
    sampler.rng = random.Random(2026)
    client = sampled_app.test_client()
    requests_made = 400
    for _ in range(requests_made):
        assert client.get("/health", buffered=True).status_code == 200

    replay = random.Random(2026)
    expected = sum(replay.random() < 0.25 for _ in range(requests_made))
    samples = records(caplog, "memory sample")
    assert len(samples) == expected
    assert 0 < expected < requests_made


def test_sample_record_fields(sampled_app, caplog):
    sampled_app.test_client().get("/health", buffered=True)
    (sample,) = records(caplog, "memory sample")
    assert sample.levelname == "INFO"
    assert sample.path == "/health"
    assert sample.method == "GET"
    assert sample.status == 200
    assert sample.pid == os.getpid()
    assert sample.rss_mb > 10
    assert sample.vms_mb >= sample.rss_mb
    assert isinstance(sample.rss_delta_mb, float)
    assert sample.duration_ms >= 0


@pytest.mark.parametrize(("rate", "expected"), [(0.0, 0), (1.0, 30)])
def test_rates_zero_and_one_never_draw(sampled_app, caplog, rate, expected):
    sampler = sampler_of(sampled_app)
    sampler.sample_rate = rate
    sampler.rng = NoDraws()
    client = sampled_app.test_client()
    for _ in range(30):
        client.get("/health", buffered=True)
    assert len(records(caplog, "memory sample")) == expected


def test_alert_fires_only_above_the_threshold(sampled_app, caplog):
    sampler = sampler_of(sampled_app)
    sampler.sample_rate = 0.0
    client = sampled_app.test_client()

    sampler.read = lambda: (1400 * MB, 2000 * MB)
    client.get("/health")
    assert records(caplog, "HIGH MEMORY USAGE") == []

    sampler.read = lambda: (1600 * MB, 2000 * MB)
    client.get("/health")
    (alert,) = records(caplog, "HIGH MEMORY USAGE")
    assert alert.levelname == "ERROR"
    assert alert.rss_mb == 1600
    assert alert.alert_mb == 1500
    assert "/health" in alert.getMessage()


def test_streamed_response_is_not_consumed_by_the_size_logger(sampled_app, caplog):
    """Called as a WSGI server calls it (the test client pre-reads one chunk itself)."""
    produced = sampled_app.extensions["produced"]
    started = []
    body_iter = sampled_app(EnvironBuilder(path="/stream").get_environ(), lambda *args: started.append(args))

    # The app has returned (after_request ran, headers are out) but the generator is untouched.
    status, headers = started[0]
    assert status == "200 OK"
    assert "Content-Length" not in dict(headers)
    assert produced == []
    assert records(caplog, "large response") == []
    assert records(caplog, "memory sample") == []  # deferred until the body has been sent

    body = b"".join(body_iter)
    assert len(body) == STREAM_CHUNKS * len(CHUNK)
    assert produced == list(range(STREAM_CHUNKS))
    assert records(caplog, "memory sample") == []
    body_iter.close()
    (sample,) = records(caplog, "memory sample")
    assert sample.path == "/stream"
    assert sample.status == 200


def test_large_bodies_are_logged_from_their_headers(sampled_app, caplog):
    client = sampled_app.test_client()
    client.post("/upload", data=b"y" * (2 * MB))
    client.get("/big")
    client.post("/upload", data=b"y" * 1000)
    client.get("/health")

    (large_request,) = records(caplog, "large request")
    assert large_request.levelname == "WARNING"
    assert large_request.content_length_mb == 2.0
    (large_response,) = records(caplog, "large response")
    assert large_response.path == "/big"
    assert large_response.content_length_mb == pytest.approx(len(CHUNK) * STREAM_CHUNKS / MB, abs=0.1)


def test_config_values_reach_the_sampler():
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "MEMORY_SAMPLE_RATE": 0.5, "MEMORY_ALERT_MB": 700}
    )
    sampler = sampler_of(app)
    assert sampler.sample_rate == 0.5
    assert sampler.alert_bytes == 700 * MB


def test_statm_reader_matches_psutil_and_falls_back_without_proc():
    expected = psutil.Process().memory_info()
    rss, vms = StatmReader().read()
    assert abs(rss - expected.rss) < 20 * MB
    assert abs(vms - expected.vms) < 20 * MB
    fallback_rss, _ = StatmReader("/nonexistent/statm").read()
    assert abs(fallback_rss - expected.rss) < 20 * MB


def test_statm_reader_reports_the_child_after_fork():
    """A descriptor opened in the parent (the gunicorn master) must not keep reporting the parent."""
    reader = StatmReader()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: grow by 64 MiB of written memory, then report what the inherited reader sees
        os.close(read_end)
        # The baseline is read in the child: its RSS right after fork is below the parent's by the
        # parent's resident file-backed pages (fork does not copy their page tables), tens of MB
        # once the suite has loaded psycopg's bundled libraries.
        before_rss, _ = reader.read()
        ballast = b"\x01" * (64 * MB)
        child_rss, _ = reader.read()
        os.write(write_end, f"{child_rss - before_rss} {len(ballast)}".encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        growth = int(pipe.read().split()[0])
    os.waitpid(pid, 0)
    assert growth > 32 * MB  # the parent's descriptor would show ~0


def test_statm_readers_do_not_leak_descriptors():
    """Every app has a reader; the test suite alone builds hundreds of apps."""
    import gc

    def statm_descriptors() -> int:
        targets = []
        for entry in os.listdir("/proc/self/fd"):
            try:
                targets.append(os.readlink(f"/proc/self/fd/{entry}"))
            except OSError:
                continue
        return sum(target.endswith("/statm") for target in targets)

    gc.collect()  # earlier tests' apps (and their readers) go first
    before = statm_descriptors()
    readers = [StatmReader() for _ in range(50)]
    for reader in readers:
        reader.read()
    assert statm_descriptors() == before + 50
    del readers, reader
    gc.collect()
    assert statm_descriptors() == before
