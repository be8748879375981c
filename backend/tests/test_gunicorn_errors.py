"""Errors gunicorn answers itself (before the app runs) are JSON too, for every worker class we accept."""

from __future__ import annotations

import socket

import pytest
import requests

from ops.process_memory import process_tree
from tests.helpers.raw_http import exchange
from tests.helpers.servers import run_gunicorn

pytestmark = pytest.mark.gunicorn

CASES = {
    "request-line-too-long": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request_uri_too_long"),
    "header-too-large": (
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
        431,
        "request_header_fields_too_large",
    ),
    "too-many-headers": (
        b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % n for n in range(150)) + b"\r\n",
        431,
        "request_header_fields_too_large",
    ),
    "malformed-request-line": (b"THIS IS NOT HTTP\r\n\r\n", 400, "bad_request"),
    "invalid-header-name": (b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n", 400, "bad_request"),
}


@pytest.mark.parametrize("worker_class", ["gevent", "sync", "gthread"])
def test_gunicorn_own_errors_are_json(tmp_path, worker_class):
    # No database involved (gunicorn answers before the app): one run, on an empty SQLite file.
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "STORAGE_DIR": str(tmp_path / "storage"),
        "GUNICORN_WORKERS": "1",
        "GUNICORN_WORKER_CLASS": worker_class,
    }
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        workers = set(process_tree(server.pid)) - {server.pid}
        for name, (raw, status, code) in CASES.items():
            response = exchange(server.port, raw)
            assert response.status == status, (name, response)
            assert response.headers["content-type"] == "application/json", (name, response)
            error = response.json()["error"]
            assert error["code"] == code, name
            assert error["message"], name
            assert b"<html" not in response.body.lower()
        assert set(process_tree(server.pid)) - {server.pid} == workers, "the worker survived every request"
        assert requests.get(server.url("/health"), timeout=5).status_code == 200


def test_headers_that_never_finish_are_dropped(tmp_path):
    """No request yet, so nothing to answer: gunicorn (gevent) closes the connection after GUNICORN_KEEPALIVE."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "STORAGE_DIR": str(tmp_path / "storage"),
        "GUNICORN_WORKERS": "1",
        "GUNICORN_KEEPALIVE": "1",
    }
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        workers = set(process_tree(server.pid)) - {server.pid}
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Half: ")  # and never the rest
            try:
                received = sock.recv(1024)
            except ConnectionResetError:
                received = b""
        assert received == b"", "closed without an answer (30 s would mean it was never dropped)"
        assert set(process_tree(server.pid)) - {server.pid} == workers
        assert requests.get(server.url("/health"), timeout=5).status_code == 200
