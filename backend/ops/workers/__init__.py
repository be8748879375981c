"""gunicorn worker classes whose own error answers are JSON, like every answer of the app.

gunicorn answers some requests before the app sees them: a request line over ``limit_request_line``
(414), too many or too large headers (431), a request it cannot parse (400), an exception escaping
the app (500). Its ``handle_error`` writes those as a small HTML page through ``util.write_error``.
The API promises ``{"error": {"code", "message"}}`` everywhere, so each worker class here lets
gunicorn's own ``handle_error`` decide the status, log the warning and write the access line, but
hands it a socket stand-in that keeps what it would have sent; the status line is read back from
that and a JSON body with the same status goes to the client instead. gunicorn's mapping of
exceptions to statuses is therefore used as it is, not copied.

``GUNICORN_WORKER_CLASS`` keeps its values (gevent, sync, gthread); ``gunicorn.conf.py`` maps each to
its class here (:data:`WORKER_CLASSES`). Only the gunicorn module of the chosen class is imported,
so the sync worker never imports gevent.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

from gunicorn import util

WORKER_CLASSES = {
    "gevent": "ops.workers.ggevent.JsonErrorGeventWorker",
    "sync": "ops.workers.sync.JsonErrorSyncWorker",
    "gthread": "ops.workers.gthread.JsonErrorThreadWorker",
}
MAX_DETAIL = 200
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


class _Capture:
    """Stands in for the client socket while gunicorn writes its error: keeps the bytes, sends none."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.sent = bytearray()

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def send(self, data: bytes) -> int:
        self.sent += data
        return len(data)

    def __getattr__(self, name: str) -> Any:  # timeouts, peer address...: the real socket's
        return getattr(self._sock, name)


def error_code(status: int) -> str:
    """``431`` -> ``request_header_fields_too_large``: the reason phrase in snake case, as the app's codes."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    return re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_")


def json_error(status: int, detail: str) -> bytes:
    """A complete HTTP/1.1 response: the JSON error body, ``Connection: close`` as gunicorn sends it."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    message = reason if status >= 500 or not detail else f"{reason}: {detail[:MAX_DETAIL]}"
    body = json.dumps({"error": {"code": error_code(status), "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class JsonErrorsMixin:
    """Put before a gunicorn worker class: its error responses become JSON (same status, same logs)."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        capture = _Capture(client)
        super().handle_error(req, capture, addr, exc)  # type: ignore[misc]
        match = STATUS_LINE.match(bytes(capture.sent))
        if match is None:
            return  # gunicorn chose to send nothing (or could not): neither do we
        status = int(match.group(1))
        detail = "" if status >= 500 else str(exc)
        try:
            util.write_nonblock(client, json_error(status, detail))
        except Exception:  # the client is gone; gunicorn ignores this case the same way
            self.log.debug("Failed to send error message.")  # type: ignore[attr-defined]
