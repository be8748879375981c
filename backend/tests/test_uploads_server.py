"""Uploads through a real gunicorn (gevent): chunked bodies, a client that hangs up mid-upload, and a
chunked body over the limit. Raw sockets, because HTTP clients will not send a broken request."""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select as sql_select

from app.extensions import db
from app.models import StoredFile
from ops.process_memory import process_tree
from tests.helpers.servers import run_gunicorn
from values import MB

pytestmark = pytest.mark.gunicorn


def _connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _head(path: str, token: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _response(sock: socket.socket) -> tuple[int, dict]:
    raw = b""
    while b"\r\n\r\n" not in raw or len(raw.split(b"\r\n\r\n", 1)[1]) < _length(raw):
        part = sock.recv(65536)
        if not part:
            break
        raw += part
    head, body = raw.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def _length(raw: bytes) -> int:
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(20)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _messages(server) -> list[str]:
    return [json.loads(line)["message"] for line in server.log_text().splitlines() if line.startswith("{")]


def _wait_for_log(server, fragment: str) -> None:
    """Poll the JSON log (the access line is written once the server has finished with the request)."""
    deadline = time.monotonic() + 15
    while not any(fragment in message for message in _messages(server)):
        assert time.monotonic() < deadline, f"{fragment!r} never logged:\n{server.log_text()[-3000:]}"
        time.sleep(0.05)


def _leftovers(app) -> tuple[list[Path], int]:
    root = Path(app.config["STORAGE_DIR"])
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
    with app.app_context():
        rows = db.session.scalar(sql_select(func.count()).select_from(StoredFile))
        db.session.commit()
    return files, rows


def test_chunked_upload_abort_and_limit_through_gunicorn(app, server_env, admin_token, tmp_path):
    # A long keepalive: without our read shutdown, gunicorn would keep draining the rejected body that long.
    env = dict(server_env, GUNICORN_WORKERS="1", MAX_UPLOAD_MB="1", GUNICORN_KEEPALIVE="120")
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        workers = set(process_tree(server.pid)) - {server.pid}

        # 1. A streaming client: chunked transfer encoding, no Content-Length at all.
        data = b"%PDF-1.7\n" + os.urandom(700_000)
        with _connect(server) as sock:
            sock.sendall(_head("/api/uploads?filename=chunked.pdf", admin_token, {"Transfer-Encoding": "chunked"}))
            for start in range(0, len(data), 50_000):
                sock.sendall(_chunk(data[start : start + 50_000]))
            sock.sendall(b"0\r\n\r\n")
            status, body = _response(sock)
        assert status == 201, body
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert body["size"] == len(data)
        after_first = _leftovers(app)
        assert after_first[1] == 1
        assert [path.name for path in after_first[0]] == [body["sha256"]]

        # 2. The client hangs up half-way through a multipart upload that announced its full length.
        boundary = "hangup"
        part = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'.encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(900_000)}
        with _connect(server) as sock:
            sock.sendall(_head("/api/uploads", admin_token, headers) + part + data[:400_000])
        _wait_for_log(server, '"POST /api/uploads HTTP/1.1" 400')
        assert _leftovers(app) == after_first, "no temp file, no new file, no new row"

        # 3. Chunked (no Content-Length to reject early) and over the 1 MB limit. The body is never finished
        #    (no terminating chunk), so an answer at all proves the server rejected it mid-stream.
        with _connect(server) as sock:
            sock.sendall(_head("/api/uploads?filename=big.pdf", admin_token, {"Transfer-Encoding": "chunked"}))
            sent = 0
            piece = b"%PDF-" + os.urandom(64 * 1024 - 5)
            while sent < 256 * MB and not select.select([sock], [], [], 0)[0]:
                try:
                    sock.sendall(_chunk(piece))
                except OSError:
                    break
                sent += len(piece)
            status, body = _response(sock)
            assert _closed_by_server(sock), "after the 413 the server stops reading instead of draining the body"
        assert status == 413
        assert body["error"]["code"] == "upload_too_large"
        assert sent < 256 * MB, "the server answered while the body was still open"
        _wait_for_log(server, '"POST /api/uploads?filename=big.pdf HTTP/1.1" 413')
        assert _leftovers(app) == after_first

        # The worker survived all of it and still serves.
        assert set(process_tree(server.pid)) - {server.pid} == workers
        assert requests.get(server.url("/health"), timeout=5).status_code == 200


def test_stalled_body_is_408_and_leaves_nothing(app, server_env, admin_token, tmp_path):
    env = dict(server_env, GUNICORN_WORKERS="1", UPLOAD_READ_TIMEOUT="0.5")
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        before = _leftovers(app)
        for path in ("/api/uploads?filename=slow.pdf", "/api/ots/import"):
            with _connect(server) as sock:
                headers = {"Content-Type": "application/octet-stream", "Content-Length": "100000"}
                sock.sendall(_head(path, admin_token, headers) + b"%PDF-1.7\n" + b"x" * 1000)  # then nothing
                sock.settimeout(30)  # a bound for a broken server only; the answer comes after UPLOAD_READ_TIMEOUT
                status, body = _response(sock)
            assert status == 408, (path, body)
            assert body["error"]["code"] == "upload_timeout"
            _wait_for_log(server, f'"POST {path} HTTP/1.1" 408')
            assert _leftovers(app) == before, "no temp file, no file, no row"
        assert requests.get(server.url("/health"), timeout=5).status_code == 200


def test_malformed_chunked_body_is_400_json(app, server_env, admin_token, tmp_path):
    env = dict(server_env, GUNICORN_WORKERS="1")
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        before = _leftovers(app)
        for bad_chunk in (b"zz\r\n", b"5\r\nabcdefgh\r\n", b"-1\r\n"):  # size, missing terminator, negative
            with _connect(server) as sock:
                sock.sendall(_head("/api/uploads?filename=c.pdf", admin_token, {"Transfer-Encoding": "chunked"}))
                sock.sendall(_chunk(b"%PDF-1.7\n" + b"x" * 5000) + bad_chunk)
                status, body = _response(sock)
            assert status == 400, (bad_chunk, body)
            assert body["error"]["code"] == "malformed_body"
            assert _leftovers(app) == before
        assert requests.get(server.url("/health"), timeout=5).status_code == 200
