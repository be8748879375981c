"""Two instances on one PostgreSQL, one Redis and one S3 bucket behave as one service (RAILWAY_SETUP.md,
"More than one instance"): what one stores the other serves, a file raced into both is stored once, a
session signed in on one is valid on the other, and each one's /metrics counts what it served.

Real parts only: two gunicorn masters on loopback ports, PostgreSQL (``TEST_DATABASE_URL``), Redis
(``TEST_REDIS_URL``, database 6 by default) and moto's S3 server (``tests/helpers/instances.py``).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from app.uploads.storage import S3_PART_SIZE, key_for
from config import instance_name
from tests.helpers.instances import Cluster, shared_services_missing, two_instances
from tests.helpers.raw_http import read_response
from tests.helpers.servers import run_gunicorn

pytestmark = pytest.mark.gunicorn
METRICS_TOKEN = "two-instances-scraper"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    missing = shared_services_missing()
    if missing:
        pytest.skip(missing)
    with two_instances(tmp_path_factory.mktemp("instances"), {"METRICS_TOKEN": METRICS_TOKEN}) as running:
        yield running


@pytest.fixture(scope="module")
def headers(cluster: Cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.token('admin')}"}


def pdf(size: int) -> bytes:
    return (b"%PDF-1.7\n" + os.urandom(size))[:size]


def upload(url: str, data: bytes, name: str, headers: dict[str, str]) -> requests.Response:
    return requests.post(url, files={"file": (name, data, "application/pdf")}, headers=headers, timeout=60)


def stored_keys(cluster: Cluster, headers: dict[str, str], ids: set[int]) -> set[str]:
    """The storage keys of documents ``ids`` as instance B reports them (their sha256 gives the key)."""
    keys = set()
    for document_id in ids:
        body = requests.get(cluster.b.url(f"/api/uploads/{document_id}"), headers=headers, timeout=10).json()
        keys.add(key_for(body["sha256"]))
    return keys


def test_upload_on_a_is_listed_and_downloaded_on_b(cluster, headers):
    data = pdf(S3_PART_SIZE + 4321)  # multipart, then the server-side copy to the final key
    stored = upload(cluster.a.url("/api/uploads"), data, "factura.pdf", headers)
    assert stored.status_code == 201, stored.text
    document = stored.json()
    on_b = requests.get(cluster.b.url(f"/api/uploads/{document['id']}"), headers=headers, timeout=10)
    assert on_b.status_code == 200
    assert on_b.json()["sha256"] == hashlib.sha256(data).hexdigest() == document["sha256"]
    content = requests.get(cluster.b.url(document["content_url"]), headers=headers, timeout=30)
    assert content.status_code == 200 and content.content == data
    part = requests.get(cluster.b.url(document["content_url"]), headers={**headers, "Range": "bytes=10-99"}, timeout=30)
    assert part.status_code == 206 and part.content == data[10:100]
    objects, open_uploads = cluster.bucket()
    assert key_for(document["sha256"]) in objects
    assert not [key for key in objects if key.startswith("tmp/")] and open_uploads == []


@pytest.mark.parametrize("size", [200_000, S3_PART_SIZE + 99], ids=["one-put", "multipart"])
def test_the_same_new_file_raced_into_both_is_stored_once(cluster, headers, size):
    before, _ = cluster.bucket()
    answers: dict[str, requests.Response] = {}
    for round_number in range(4):
        data = pdf(size)
        start = threading.Barrier(2)

        def send(name: str, url: str, data: bytes = data, start: threading.Barrier = start) -> None:
            start.wait()
            answers[name] = upload(url, data, f"{name}.pdf", headers)

        threads = [
            threading.Thread(target=send, args=(name, server.url("/api/uploads")))
            for name, server in (("a", cluster.a), ("b", cluster.b))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        statuses = sorted(answer.status_code for answer in answers.values())
        assert statuses == [200, 201], (round_number, [answer.text for answer in answers.values()])
        bodies = [answer.json() for answer in answers.values()]
        assert bodies[0]["id"] == bodies[1]["id"], "both answers name the one document"
        assert sorted(body["duplicate"] for body in bodies) == [False, True]
        objects, open_uploads = cluster.bucket()
        new = set(objects) - set(before)
        assert new == {key_for(hashlib.sha256(data).hexdigest())}, f"one object, no temporary: {sorted(new)}"
        assert open_uploads == [], "no multipart upload left open"
        before = objects


def test_every_object_in_the_bucket_belongs_to_a_document(cluster, headers):
    """Nothing orphaned: after the uploads above, each object is the file of one document row, and vice versa."""
    assert upload(cluster.b.url("/api/uploads"), pdf(10_000), "one-more.pdf", headers).status_code == 201
    objects, open_uploads = cluster.bucket()
    assert objects and open_uploads == []
    engine = create_engine(cluster.env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, sha256, storage_key FROM stored_files")).all()
    finally:
        engine.dispose()
    assert sorted(row.storage_key for row in rows) == objects
    assert all(row.storage_key == key_for(row.sha256) for row in rows)
    assert stored_keys(cluster, headers, {row.id for row in rows}) == set(objects), "and B serves each of them"


def test_a_session_signed_in_on_a_is_valid_on_b(cluster):
    cluster.flask(
        "users",
        "create",
        "--email",
        "ana@plg.sv",
        "--name",
        "Ana",
        "--role",
        "jefe_operaciones",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    with requests.Session() as browser:
        page = browser.get(cluster.a.url("/login"), timeout=10).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        signed_in = browser.post(
            cluster.a.url("/login"),
            data={"email": "ana@plg.sv", "password": PASSWORD, "csrf_token": csrf},
            headers={"Accept": "application/json"},
            timeout=10,
        )
        assert signed_in.status_code == 200, signed_in.text
        on_b = browser.get(cluster.b.url("/api/session"), timeout=10)
        assert on_b.status_code == 200, on_b.text
        assert on_b.json()["user"]["email"] == "ana@plg.sv"
        listing = browser.get(cluster.b.url("/api/invoices?limit=1"), timeout=10)
        assert listing.status_code == 200, "the session authenticates the API on B"
    assert requests.get(cluster.b.url("/api/session"), timeout=10).status_code == 401, "and without the cookie, not"


def scrape(server) -> dict[tuple[str, tuple], float]:
    response = requests.get(server.url("/metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def health_count(scraped: dict) -> float:
    return scraped.get(("nextops_http_request_seconds_count", (("endpoint", "health.health"), ("status", "200"))), 0.0)


def test_each_instances_metrics_count_what_it_served(cluster):
    before_a, before_b = scrape(cluster.a), scrape(cluster.b)
    for _ in range(7):
        assert requests.get(cluster.a.url("/health"), timeout=10).status_code == 200
    for _ in range(3):
        assert requests.get(cluster.b.url("/health"), timeout=10).status_code == 200
    after_a, after_b = scrape(cluster.a), scrape(cluster.b)
    assert health_count(after_a) - health_count(before_a) == 7
    assert health_count(after_b) - health_count(before_b) == 3
    pids = [
        {labels for name, labels in scraped if name == "nextops_worker_pss_bytes"} for scraped in (after_a, after_b)
    ]
    assert len(pids[0]) == len(pids[1]) == 2 and not pids[0] & pids[1], "each instance reports its own two workers"


def test_an_instance_starting_leaves_the_others_uploads_in_flight(cluster, headers, tmp_path):
    """A master's start-up clean-up removes only its own instance's S3 temporaries (``tmp/<instance>/``)."""
    data = pdf(S3_PART_SIZE + 200_000)
    token = headers["Authorization"].split()[1]
    sock = socket.create_connection(("127.0.0.1", cluster.a.port), timeout=60)
    with sock:
        sock.sendall(
            f"POST /api/uploads?filename=slow.pdf HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data[: S3_PART_SIZE + 100_000]
        )
        deadline = time.monotonic() + 30
        while not cluster.bucket()[1]:
            assert time.monotonic() < deadline, "A never opened its multipart upload"
            time.sleep(0.1)
        (in_flight,) = cluster.bucket()[1]
        assert in_flight.startswith(f"tmp/{instance_name({'GUNICORN_BIND': f'127.0.0.1:{cluster.a.port}'})}/")
        env_c = {**cluster.env, "STORAGE_DIR": str(tmp_path / "storage-c")}
        with run_gunicorn(env_c, tmp_path / "instance-c.log") as third:
            assert "Gunicorn starting" in third.log_text()
            assert cluster.bucket()[1] == [in_flight], "C's start left A's upload open"
        sock.sendall(data[S3_PART_SIZE + 100_000 :])
        response = read_response(sock)
    assert response.status == 201, response.body[:300]
    objects, open_uploads = cluster.bucket()
    assert key_for(hashlib.sha256(data).hexdigest()) in objects and open_uploads == []


# ---------------------------------------------------------------- background exports (one worker for both)

EXPORT_INVOICES = 10_000


@pytest.fixture(scope="module")
def export_worker(cluster: Cluster) -> Iterator[object]:
    """Seeded invoices and one ``flask rq-worker`` (chunks of one row: a job lasts long enough to be killed)."""
    from redis import Redis
    from rq import Worker

    cluster.flask("seed", "--ots", "100", "--invoices", str(EXPORT_INVOICES), "--seed", "15")
    process = cluster.start_worker(env={"EXPORT_CHUNK_SIZE": "1"})
    deadline = time.monotonic() + 60
    with Redis.from_url(cluster.env["REDIS_URL"]) as connection:
        while not any(found.pid == process.pid for found in Worker.all(connection=connection)):
            assert process.poll() is None and time.monotonic() < deadline, "flask rq-worker did not start"
            time.sleep(0.1)
    yield process


def follow(url: str, headers: dict[str, str], states: tuple[str, ...]) -> dict:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = requests.get(url, headers=headers, timeout=30).json()
        if body["status"] in states:
            return body
        time.sleep(0.1)
    raise AssertionError(f"{url} still {body['status']}")


def test_a_background_export_created_on_a_is_followed_and_downloaded_on_b(cluster, headers, export_worker):
    import io

    import openpyxl

    a, b = cluster.instances
    created = requests.post(a.url("/api/exports"), json={"resource": "ots", "format": "xlsx"}, headers=headers)
    assert created.status_code == 202, created.text
    job = follow(b.url(created.json()["url"]), headers, ("finished", "failed"))
    assert job["status"] == "finished", job
    redirect = requests.get(b.url(job["download_url"]), headers=headers, allow_redirects=False, timeout=30)
    assert redirect.status_code == 302
    data = requests.get(redirect.headers["Location"], timeout=60).content
    values = list(openpyxl.load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True))
    streamed = requests.get(a.url("/api/ots/export?format=xlsx"), headers=headers, timeout=120).content
    assert values == list(
        openpyxl.load_workbook(io.BytesIO(streamed), read_only=True).active.iter_rows(values_only=True)
    )
    assert len(values) == job["rows_written"] + 1 > 1
    assert requests.delete(b.url(job["url"]), headers=headers, timeout=30).status_code == 204
    assert not [key for key in cluster.bucket()[0] if key.startswith("exports/")]


def test_the_worker_killed_mid_job_leaves_a_failed_job_and_no_multipart_upload(cluster, headers, export_worker):
    import signal

    a, b = cluster.instances
    created = requests.post(a.url("/api/exports"), json={"resource": "invoices", "format": "xlsx"}, headers=headers)
    assert created.status_code == 202, created.text
    engine = create_engine(cluster.env["DATABASE_URL"])
    deadline = time.monotonic() + 120
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            status, horse = conn.execute(
                text("SELECT status, worker_pid FROM export_jobs WHERE id = :id"), {"id": created.json()["id"]}
            ).one()
            conn.rollback()
            if status != "queued":
                break
            time.sleep(0.01)
    engine.dispose()
    assert status == "running" and horse, status
    os.kill(horse, signal.SIGSTOP)  # frozen mid-way: the multipart upload is open now
    assert cluster.bucket()[1], "an upload is open while the job runs"
    os.kill(horse, signal.SIGKILL)
    failed = follow(b.url(created.json()["url"]), headers, ("failed", "finished"))
    assert failed["status"] == "failed" and "killed" in failed["error"], failed
    keys, uploads = cluster.bucket()
    assert uploads == [] and not [key for key in keys if key.startswith("exports/")]

    retried = requests.post(b.url(f"{failed['url']}/retry"), headers=headers, timeout=30)
    assert retried.status_code == 202
    done = follow(a.url(failed["url"]), headers, ("finished", "failed"))
    assert done["status"] == "finished" and done["rows_written"] >= EXPORT_INVOICES, done
    assert requests.delete(a.url(done["url"]), headers=headers, timeout=30).status_code == 204
    assert cluster.bucket()[1] == []
