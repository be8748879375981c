"""Background exports: ``/api/exports`` with a real Redis (database 5), a real ``flask rq-worker`` and real storage.

Each worker test starts ``flask rq-worker`` as a subprocess on the test's database and storage, and
stops it by PID. Files written in the background are compared with the streamed endpoint's for the
same request. The kill tests SIGKILL the work horse (or the whole worker) while it is writing, and
check the job ends failed with nothing left in the bucket or the storage directory, and can be retried.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import signal
import string
import time
import uuid
from collections.abc import Iterator

import openpyxl
import pytest
import requests
from moto.server import ThreadedMotoServer
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import insert, select, update

from app.extensions import db
from app.models import ExportJob, Invoice, Provider
from app.uploads.storage import EXTENSION_KEY as STORAGE_KEY
from app.uploads.storage import S3_PART_SIZE, get_storage
from tests.conftest import TEST_SECRET_KEY
from tests.helpers.rq_worker import TEST_REDIS_URL, rq_worker

pytestmark = pytest.mark.gunicorn  # real processes: left out of `make test-fast` like the server tests
WAIT_SECONDS = 180  # generous: the machine's cores are shared with other suites


@pytest.fixture
def redis_db() -> Iterator[Redis]:
    connection = Redis.from_url(TEST_REDIS_URL)
    try:
        connection.ping()
    except RedisError as exc:
        pytest.skip(f"background exports need Redis at {TEST_REDIS_URL}: {exc}")
    connection.flushdb()  # database 5 belongs to these tests
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture
def jobs_app(app, redis_db):
    app.config["REDIS_URL"] = TEST_REDIS_URL
    return app


@pytest.fixture
def worker_env(app, database_url) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "STORAGE_DIR": app.config["STORAGE_DIR"],
        "SECRET_KEY": TEST_SECRET_KEY,
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(jobs_app, s3_endpoint, worker_env) -> dict[str, str]:
    """The test app and the worker's environment switched to one fresh bucket on moto's server."""
    bucket = f"exports-{uuid.uuid4().hex[:12]}"
    settings = {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": s3_endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "test",
        "S3_SECRET_ACCESS_KEY": "test",
    }
    jobs_app.config.update(settings)
    jobs_app.extensions.pop(STORAGE_KEY, None)
    get_storage(jobs_app).client.create_bucket(Bucket=bucket)
    return {**worker_env, **settings}


def bucket_state(app) -> tuple[list[str], list[str]]:
    """(object keys, keys of multipart uploads still open)."""
    storage = get_storage(app)
    objects = storage.client.list_objects_v2(Bucket=storage.bucket).get("Contents", [])
    uploads = storage.client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])
    return sorted(obj["Key"] for obj in objects), [upload["Key"] for upload in uploads]


def create(client, auth, status=202, **body):
    response = client.post("/api/exports", json=body, headers=auth)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def wait_for(client, auth, job_id, states=("finished", "failed"), timeout=WAIT_SECONDS, worker=None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/exports/{job_id}", headers=auth).get_json()
        if body["status"] in states:
            return body
        if worker is not None and not worker.alive():
            raise AssertionError(f"the worker died:\n{worker.log_text()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(
        f"job {job_id} still {body['status']} after {timeout} s; worker log:\n"
        + (worker.log_text()[-3000:] if worker else "")
    )


def download(client, auth, job_id) -> bytes:
    with client.get(f"/api/exports/{job_id}/download", headers=auth) as response:
        data = response.get_data()
    if response.status_code == 302:  # S3: a presigned URL, fetched like a browser would
        fetched = requests.get(response.headers["Location"], timeout=60)
        assert fetched.status_code == 200
        return fetched.content
    assert response.status_code == 200, data[:300]
    return data


def streamed(client, auth, path) -> bytes:
    with client.get(path, headers=auth) as response:
        data = response.get_data()
    assert response.status_code == 200
    return data


def sheet_values(data: bytes) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


# ---------------------------------------------------------------- without a worker


def test_without_redis_background_exports_answer_503_naming_the_variable(app, client, auth):
    response = client.post("/api/exports", json={"resource": "invoices", "format": "csv"}, headers=auth)
    assert response.status_code == 503
    assert "REDIS_URL" in response.get_json()["error"]["message"]
    assert client.get("/api/invoices/export?format=csv", headers=auth).status_code == 200  # streamed: unchanged


@pytest.mark.parametrize(
    ("body", "parameter", "words"),
    [
        ({"resource": "invoices", "columns": "id,nope"}, "columns", "'nope'"),
        ({"resource": "invoices", "columns": ["amount", "amount"]}, "columns", "more than once"),
        ({"resource": "ots", "format": "pdf"}, "format", "pdf"),
        ({"resource": "invoices", "billing_statu": "pending"}, "billing_statu", "unknown parameter"),
        ({"resource": "clients"}, "resource", "invoices"),
    ],
)
def test_a_bad_request_is_a_400_before_anything_is_queued(jobs_app, client, auth, redis_db, body, parameter, words):
    response = client.post("/api/exports", json=body, headers=auth)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["parameter"] == parameter and words in error["message"]
    with jobs_app.app_context():
        assert db.session.scalar(select(ExportJob.id)) is None
    assert not redis_db.keys("rq:job:*")


def test_queued_jobs_per_account_are_limited_and_only_the_owner_sees_them(jobs_app, client, auth, user_token):
    jobs_app.config["EXPORT_JOB_MAX_QUEUED"] = 2
    mine = {"Authorization": f"Bearer {user_token}"}
    first = create(client, mine, resource="invoices", format="csv")
    create(client, mine, resource="ots", format="xlsx", lang="en")
    refused = client.post("/api/exports", json={"resource": "invoices"}, headers=mine)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_export_jobs"
    assert first["status"] == "queued" and first["url"] == f"/api/exports/{first['id']}"
    from app.exports.jobs import job_states

    with jobs_app.app_context():  # what /metrics reports as nextops_background_jobs
        assert job_states() == {"queued": 2, "running": 0, "finished": 0, "failed": 0, "cancelled": 0, "expired": 0}

    from app.auth import create_token

    with jobs_app.app_context():
        other = {"Authorization": f"Bearer {create_token('someone-else', 'jefe_operaciones')}"}
    assert client.get(first["url"], headers=other).status_code == 404
    assert client.delete(first["url"], headers=other).status_code == 404
    assert client.get(first["url"], headers=auth).status_code == 200  # an admin sees every job
    assert [job["id"] for job in client.get("/api/exports", headers=mine).get_json()["items"]][-1] == first["id"]

    cancelled = client.delete(first["url"], headers=mine)
    assert cancelled.status_code == 202 and cancelled.get_json()["status"] == "cancelled"
    assert create(client, mine, resource="invoices")["status"] == "queued"  # a slot is free again
    assert client.get(f"{first['url']}/download", headers=mine).status_code == 409


# ---------------------------------------------------------------- with a worker, local storage


def test_background_csv_and_xlsx_are_the_streamed_files(jobs_app, seeded, client, auth, worker_env, tmp_path):
    with rq_worker(worker_env, tmp_path / "worker.log") as worker:
        csv_job = create(client, auth, resource="invoices", format="csv", billing_status="pending")
        xlsx_job = create(client, auth, resource="ots", format="xlsx", lang="en")
        narrow = create(client, auth, resource="invoices", format="csv", columns=["amount", "id", "created_at"])
        done = [wait_for(client, auth, job["id"], worker=worker) for job in (csv_job, xlsx_job, narrow)]
    assert [job["status"] for job in done] == ["finished"] * 3, done

    csv_file = download(client, auth, csv_job["id"])
    assert csv_file == streamed(client, auth, "/api/invoices/export?format=csv&billing_status=pending")
    assert done[0]["rows_written"] == done[0]["rows_estimate"] == csv_file.count(b"\r\n") - 1 > 0
    assert done[0]["size"] == len(csv_file) and done[0]["file_name"].endswith("-America-El_Salvador.csv")

    xlsx_file = download(client, auth, xlsx_job["id"])
    values = sheet_values(xlsx_file)
    assert values == sheet_values(streamed(client, auth, "/api/ots/export?format=xlsx&lang=en"))
    assert len(values) == 31 and values[0][:2] == ("Operativo", "OT number")

    narrow_file = download(client, auth, narrow["id"])
    assert narrow_file.splitlines()[0] == "\ufeffMonto (USD),ID,Creado".encode()
    assert narrow_file == streamed(client, auth, "/api/invoices/export?format=csv&columns=amount,id,created_at")

    ranged = client.get(f"/api/exports/{csv_job['id']}/download", headers={**auth, "Range": "bytes=10-99"})
    assert ranged.status_code == 206 and ranged.data == csv_file[10:100]


def test_expired_results_are_purged_by_the_cli_and_a_cancelled_job_never_runs(
    jobs_app, seeded, client, auth, worker_env, tmp_path, runner
):
    cancelled = create(client, auth, resource="invoices", format="csv")
    assert client.delete(cancelled["url"], headers=auth).status_code == 202
    with rq_worker(worker_env, tmp_path / "worker.log") as worker:
        job = create(client, auth, resource="invoices", format="xlsx")
        assert wait_for(client, auth, job["id"], worker=worker)["status"] == "finished"
    assert client.get(cancelled["url"], headers=auth).get_json()["status"] == "cancelled"
    storage_dir = jobs_app.config["STORAGE_DIR"]
    files = [name for _, _, names in os.walk(storage_dir) for name in names]
    assert len(files) == 1 and files[0].endswith(".xlsx"), files  # the finished one, no partial file

    with jobs_app.app_context():
        db.session.execute(update(ExportJob).values(expires_at=dt.datetime(2020, 1, 1)))
        db.session.commit()
    result = runner.invoke(args=["exports", "purge"])
    assert result.exit_code == 0 and "1 export jobs" in result.output
    assert client.get(job["url"], headers=auth).get_json()["status"] == "expired"
    assert client.get(f"{job['url']}/download", headers=auth).status_code == 409
    assert not [name for _, _, names in os.walk(storage_dir) for name in names]


# ---------------------------------------------------------------- S3, and workers killed mid-job


def _seed_wide_invoices(app, count: int) -> None:
    """Invoices with long random notes: an export of several 5 MiB parts that takes a while to write."""
    rng = random.Random(15)
    with app.app_context():
        provider = Provider(name="Naviera Grande", nit="0614-1", type="naviera")
        db.session.add(provider)
        db.session.flush()
        rows = [
            {
                "invoice_number": f"BIG-{index}",
                "provider_id": provider.id,
                "cost_type": "OTRO",
                "amount": index,
                "issue_date": dt.date(2026, 11, 1),
                "needs_review": False,
                "provision_status": "pending",
                "billing_status": "pending",
                "assignment_method": "manual",
                "notes": "".join(rng.choices(string.ascii_letters, k=600)),
                "created_at": dt.datetime(2026, 11, 1, 15, 0),
            }
            for index in range(count)
        ]
        db.session.execute(insert(Invoice), rows)
        db.session.commit()


def _running_with_a_part(app, client, auth, job_id, worker) -> int:
    """Wait until the job runs and the bucket holds at least one part of its upload; return the horse's PID."""
    storage = get_storage(app)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        body = wait_for(client, auth, job_id, states=("running", "finished", "failed"), worker=worker)
        assert body["status"] == "running", f"the job ended before it could be killed: {body}"
        uploads = storage.client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])
        if uploads:
            parts = storage.client.list_parts(
                Bucket=storage.bucket, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"]
            )
            if parts.get("Parts"):
                with app.app_context():
                    return db.session.get(ExportJob, job_id).worker_pid
        time.sleep(0.02)
    raise AssertionError("no part was uploaded")


def test_s3_export_a_killed_work_horse_fails_the_job_and_leaves_no_upload(jobs_app, s3_env, client, auth, tmp_path):
    _seed_wide_invoices(jobs_app, 40_000)
    env = {**s3_env, "EXPORT_CHUNK_SIZE": "5"}
    with rq_worker(env, tmp_path / "worker.log") as worker:
        job = create(client, auth, resource="invoices", format="csv")
        horse = _running_with_a_part(jobs_app, client, auth, job["id"], worker)
        assert horse not in (None, worker.pid)
        os.kill(horse, signal.SIGKILL)
        failed = wait_for(client, auth, job["id"], states=("failed", "finished"), worker=worker)
        assert failed["status"] == "failed" and "killed (signal 9)" in failed["error"], failed
        assert bucket_state(jobs_app) == ([], []), "no object and no open multipart upload"

        retried = client.post(f"{job['url']}/retry", headers=auth)
        assert retried.status_code == 202 and retried.get_json()["attempt"] == 2
        done = wait_for(client, auth, job["id"], worker=worker)
    assert done["status"] == "finished", done
    assert done["size"] > 2 * S3_PART_SIZE  # several parts
    redirect = client.get(f"{job['url']}/download", headers=auth)
    assert redirect.status_code == 302 and "Signature=" in redirect.headers["Location"]
    data = download(client, auth, job["id"])
    assert data.count(b"\r\n") == 40_001
    keys, uploads = bucket_state(jobs_app)
    assert keys == [f"exports/{job['id']}/{done['file_name']}"] and uploads == []


def test_a_worker_killed_whole_mid_job_leaves_a_failed_job_and_no_partial_file(
    jobs_app, client, auth, worker_env, tmp_path
):
    _seed_wide_invoices(jobs_app, 40_000)
    jobs_app.config["EXPORT_JOB_STALE_SECONDS"] = 2
    with rq_worker({**worker_env, "EXPORT_CHUNK_SIZE": "5"}, tmp_path / "worker.log") as worker:
        job = create(client, auth, resource="invoices", format="xlsx")
        running = wait_for(client, auth, job["id"], states=("running", "finished", "failed"), worker=worker)
        assert running["status"] == "running", running
        with jobs_app.app_context():
            horse = db.session.get(ExportJob, job["id"]).worker_pid
        os.kill(horse, signal.SIGSTOP)  # frozen mid-way, then the horse and the worker die together
        worker.kill()
        os.kill(horse, signal.SIGKILL)
    partial = [name for _, _, names in os.walk(jobs_app.config["STORAGE_DIR"]) for name in names]
    assert len(partial) == 1 and partial[0].endswith(".part"), partial  # what the dead job left...
    failed = wait_for(client, auth, job["id"], states=("failed",), timeout=30)
    assert "no progress" in failed["error"]
    assert not [name for _, _, names in os.walk(jobs_app.config["STORAGE_DIR"]) for name in names]  # ...is gone


def test_the_worker_runs_the_purge_on_rq_s_scheduler(jobs_app, client, auth, worker_env, tmp_path):
    """An expired result is removed by the purge job the worker schedules, without `flask exports purge`."""
    storage = jobs_app.config["STORAGE_DIR"]
    key = "exports/0123456789abcdef0123456789abcdef/old.csv"
    os.makedirs(os.path.dirname(os.path.join(storage, key)))
    with open(os.path.join(storage, key), "wb") as handle:
        handle.write(b"old")
    with jobs_app.app_context():
        db.session.add(
            ExportJob(
                id=key.split("/")[1],
                owner="test",
                resource="invoices",
                format="csv",
                request={"resource": "invoices", "args": []},
                status="finished",
                attempt=1,
                rows_written=0,
                bytes_written=3,
                size=3,
                result_key=key,
                file_name="old.csv",
                expires_at=dt.datetime(2020, 1, 1),
            )
        )
        db.session.commit()
    with rq_worker(worker_env, tmp_path / "worker.log") as worker:
        expired = wait_for(client, auth, key.split("/")[1], states=("expired",), worker=worker)
    assert expired["status"] == "expired" and not os.path.exists(os.path.join(storage, key))


def test_a_result_missing_from_local_storage_is_a_clear_404(app, client, auth):
    """A worker on another machine wrote it elsewhere: say so, rather than start a response that breaks."""
    with app.app_context():
        db.session.add(
            ExportJob(
                id="f" * 32,
                owner="test",
                resource="invoices",
                format="csv",
                request={"resource": "invoices", "args": []},
                status="finished",
                attempt=1,
                rows_written=1,
                bytes_written=3,
                size=3,
                result_key="exports/elsewhere/x.csv",
                file_name="x.csv",
                expires_at=dt.datetime(2999, 1, 1),
            )
        )
        db.session.commit()
    response = client.get(f"/api/exports/{'f' * 32}/download", headers=auth)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "export_file_missing"
    assert "S3" in response.get_json()["error"]["message"]
