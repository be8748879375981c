"""One raw HTTP/1.1 exchange over a socket, for requests no HTTP client will send (malformed, oversized)."""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def exchange(port: int, raw: bytes, timeout: float = 20) -> RawResponse:
    """Send ``raw`` and read one response (until Content-Length, or until the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close before taking it all (oversized)
            sock.sendall(raw)
        return read_response(sock)


def read_response(sock: socket.socket) -> RawResponse:
    raw = b""
    while b"\r\n\r\n" not in raw:
        part = _recv(sock)
        if not part:
            raise ConnectionError(f"connection closed before a full response head: {raw[:200]!r}")
        raw += part
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(body) < length:
        part = _recv(sock)
        if not part:
            break
        body += part
    return RawResponse(int(lines[0].split()[1]), headers, body if length < 0 else body[:length])


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""
