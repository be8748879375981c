"""A worker killed mid-upload leaves nothing behind; a stopped server lets an upload finish.

SIGKILL is what the OOM killer sends when a 1 GB container reaches its limit: the worker runs no clean-up,
so its temp files (``STORAGE_DIR/tmp/*.part``, S3 multipart uploads under ``tmp/``) are the master's to
remove (``child_exit``), and at master start whatever an earlier run left (``on_starting``).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from moto.server import ThreadedMotoServer

from config import instance_name
from ops.leftovers import s3_client
from ops.process_memory import process_tree
from tests.helpers.raw_http import read_response
from tests.helpers.servers import free_port, run_gunicorn

pytestmark = [pytest.mark.gunicorn, pytest.mark.faults]
PDF_HEAD = b"%PDF-1.7\n"


def _workers(server) -> set[int]:
    return set(process_tree(server.pid)) - {server.pid}


def _parts(storage: Path) -> list[Path]:
    directory = storage / "tmp"
    return sorted(directory.glob("*.part")) if directory.exists() else []


def _wait(predicate, what: str, server=None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        log = server.log_text()[-3000:] if server else ""
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{log}"
        time.sleep(0.05)


def _start_slow_upload(server, token: str, path: str, declared: int, first: bytes) -> socket.socket:
    """Headers and the first bytes of a body, then nothing: an upload in flight for as long as we like."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
    )
    sock.sendall(head.encode() + first)
    return sock


def _kill_worker_and_wait_for_replacement(server) -> None:
    (worker,) = _workers(server)
    os.kill(worker, signal.SIGKILL)
    _wait(lambda: _workers(server) and worker not in _workers(server), "a replacement worker", server)
    _wait(lambda: requests.get(server.url("/health"), timeout=5).status_code == 200, "/health", server)


def test_sigkill_mid_upload_leaves_no_part_file(server_env, admin_token, tmp_path):
    storage = Path(server_env["STORAGE_DIR"])
    env = dict(server_env, GUNICORN_WORKERS="1")
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        for path, body in (("/api/uploads?filename=big.pdf", PDF_HEAD), ("/api/ots/import", b"ot_number,client\n")):
            (worker,) = _workers(server)
            with _start_slow_upload(server, admin_token, path, 10_000_000, body + b"x" * 200_000):
                _wait(lambda: _parts(storage), f"the temp file of {path}", server)
                assert [p.name.split("-")[1] for p in _parts(storage)] == [str(worker)], "named by the worker's PID"
                _kill_worker_and_wait_for_replacement(server)
            assert _parts(storage) == [], f"{path}: the master removed the dead worker's temp file"
            assert [p for p in storage.rglob("*") if p.is_file()] == []
    assert server.log_text().count("exited leaving 1 upload temp file(s); removed") == 2


def test_master_start_removes_every_leftover_part(server_env, tmp_path):
    storage = Path(server_env["STORAGE_DIR"])
    (storage / "tmp").mkdir(parents=True)
    left = ["upload-999999-abc.part", "import-999998-xyz.part", f"{uuid.uuid4().hex}.part"]  # the last: old names
    for name in left:
        (storage / "tmp" / name).write_bytes(b"half a file")
    kept = storage / "ab" / "cd" / "abcd-stored"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"a stored document")
    with run_gunicorn(dict(server_env, GUNICORN_WORKERS="1"), tmp_path / "gunicorn.log"):
        assert _parts(storage) == []
        assert kept.read_bytes() == b"a stored document", "stored files are not temp files"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(server_env, s3_endpoint):
    bucket = f"nextops-{uuid.uuid4().hex[:12]}"
    env = dict(
        server_env,
        GUNICORN_WORKERS="1",
        STORAGE_BACKEND="s3",
        S3_BUCKET=bucket,
        S3_ENDPOINT_URL=s3_endpoint,
        S3_REGION="us-east-1",
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
    )
    config = {key: env[key] for key in ("S3_ENDPOINT_URL", "S3_REGION", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY")}
    client = s3_client(config)
    client.create_bucket(Bucket=bucket)
    return env, client, bucket


def _open_uploads(client, bucket: str) -> list[str]:
    return [upload["Key"] for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def _objects(client, bucket: str) -> list[str]:
    return sorted(obj["Key"] for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_s3_sigkill_mid_multipart_upload_is_aborted(s3_env, admin_token, tmp_path):
    env, client, bucket = s3_env
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        (worker,) = _workers(server)
        first = PDF_HEAD + os.urandom(6 * 1024 * 1024)  # past one 5 MiB part: a multipart upload is open
        with _start_slow_upload(server, admin_token, "/api/uploads?filename=big.pdf", 12_000_000, first):
            _wait(lambda: _open_uploads(client, bucket), "the multipart upload", server)
            assert re.fullmatch(rf"tmp/[^/]+-{server.port}/{worker}-[0-9a-f]+", _open_uploads(client, bucket)[0])
            _kill_worker_and_wait_for_replacement(server)
        assert _open_uploads(client, bucket) == []
        assert _objects(client, bucket) == []


def test_s3_master_start_aborts_leftover_multipart_uploads(s3_env, tmp_path):
    env, client, bucket = s3_env
    port = free_port()
    own = f"tmp/{instance_name({'GUNICORN_BIND': f'127.0.0.1:{port}'})}/"
    client.create_multipart_upload(Bucket=bucket, Key=f"{own}12345-leftover")
    client.put_object(Bucket=bucket, Key=f"{own}12345-completed-never-copied", Body=b"x")
    client.create_multipart_upload(Bucket=bucket, Key="tmp/12345-an-older-release")
    client.create_multipart_upload(Bucket=bucket, Key="tmp/other-replica-8000/77-in-flight")
    client.put_object(Bucket=bucket, Key="ab/cd/abcd", Body=b"a stored document")
    with run_gunicorn(env, tmp_path / "gunicorn.log", port=port):
        assert _open_uploads(client, bucket) == ["tmp/other-replica-8000/77-in-flight"], "another replica's stays"
        assert _objects(client, bucket) == ["ab/cd/abcd"]


def test_sigterm_mid_upload_lets_it_finish(server_env, admin_token, tmp_path):
    storage = Path(server_env["STORAGE_DIR"])
    data = PDF_HEAD + os.urandom(300_000)
    with run_gunicorn(dict(server_env, GUNICORN_WORKERS="1"), tmp_path / "gunicorn.log") as server:
        sock = _start_slow_upload(server, admin_token, "/api/uploads?filename=term.pdf", len(data), data[:100_000])
        with sock:
            _wait(lambda: _parts(storage), "the upload's temp file", server)
            os.kill(server.pid, signal.SIGTERM)  # graceful stop: in-flight requests finish
            _wait(lambda: "Handling signal: term" in server.log_text(), "the master to take the SIGTERM", server)
            sock.sendall(data[100_000:])
            response = read_response(sock)
        assert response.status == 201, response
        server.process.wait(30)
    assert server.process.returncode == 0
    assert _parts(storage) == []
    assert [p.name for p in storage.rglob("*") if p.is_file()] == [response.json()["sha256"]]
