"""Per-request memory sampling, the HIGH MEMORY alert, large request/response logging, and the request count.

It wraps the app's WSGI callable (installed by the factory through ``init_app``) rather than using
before/after_request hooks: no context proxies or hook dispatch on the hot path, and at this layer a
sampled record can be written when the server closes the body, so a streamed export's duration and
memory growth are part of its record.

Per request: one RNG draw, one ``statm`` read and two header lookups; the JSON sample record is written
for ``MEMORY_SAMPLE_RATE`` of requests only. Sizes come from the Content-Length headers, never from the
body: reading ``response.content`` would drain (and buffer in RAM) a streamed export before the client
gets a byte.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Flask

from logs import SAMPLE_LOGGER
from ops.metrics import record_request
from ops.process_memory import StatmReader
from values import MB

log = logging.getLogger(__name__)
sample_log = logging.getLogger(SAMPLE_LOGGER)
EXTENSION_KEY = "nextops.memory_sampler"
UNMATCHED = "unmatched"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class MemorySampler:
    """WSGI middleware; ``rng`` and ``read`` are attributes so tests can seed or fake them."""

    def __init__(
        self,
        wsgi_app: WsgiApp,
        sample_rate: float,
        alert_mb: int,
        large_request_mb: int,
        rng: random.Random | None = None,
        read: Callable[[], tuple[int, int]] | None = None,
        count: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self.wsgi_app = wsgi_app
        # ``/metrics``' request histogram (``ops.metrics.record_request``): recorded here rather than in a
        # middleware of its own, which would wrap start_response a second time on every request.
        self.count = count
        self.sample_rate = sample_rate
        self.alert_bytes = alert_mb * MB
        self.large_bytes = large_request_mb * MB
        self.rng = rng or random.Random()
        self.read = read or StatmReader().read
        self.requests_served = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request_length = environ.get("CONTENT_LENGTH")
        if request_length and _length(request_length) > self.large_bytes:  # before the body is read
            self._log_large("large request: %s %s with %.1f MB body", environ, _length(request_length))
        rate = self.sample_rate
        sampled = rate >= 1.0 or (rate > 0.0 and self.rng.random() < rate)  # 0 and 1 consume no draws
        started = time.perf_counter()
        start = (started, *self.read()) if sampled else None
        sent: list[Any] = []

        def recording_start_response(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            sent.append((status, headers, _endpoint(environ) if self.count is not None else None))
            return start_response(status, headers, *exc_info)

        body = self.wsgi_app(environ, recording_start_response)
        self.requests_served += 1
        status, headers, endpoint = sent[-1] if sent else ("0", [], UNMATCHED)
        if self.count is not None:
            self.count(endpoint, status[:3] if sent else "500", time.perf_counter() - started)
        rss, vms = self.read()
        if rss > self.alert_bytes:
            self._alert(environ, rss)
        response_length = _content_length(headers)
        if response_length > self.large_bytes:
            self._log_large("large response: %s %s sent %.1f MB", environ, response_length)
        if start is None:
            return body
        fields = {"path": environ.get("PATH_INFO", ""), "method": environ.get("REQUEST_METHOD", ""), "status": status}
        file_wrapper = environ.get("wsgi.file_wrapper")
        if file_wrapper is not None and isinstance(body, file_wrapper):
            self._log_sample(start, fields, rss, vms)  # keep the server's sendfile path: log now
            return body
        return _SampledBody(body, lambda: self._log_sample(start, fields, *self.read()))

    def _alert(self, environ: dict[str, Any], rss: int) -> None:
        path = environ.get("PATH_INFO", "")
        log.error(
            "HIGH MEMORY USAGE: worker %d RSS %.1f MB is above MEMORY_ALERT_MB (%d MB) after %s %s",
            os.getpid(),
            rss / MB,
            self.alert_bytes // MB,
            environ.get("REQUEST_METHOD", ""),
            path,
            extra={"rss_mb": round(rss / MB, 1), "alert_mb": self.alert_bytes // MB, "path": path},
        )

    def _log_large(self, message: str, environ: dict[str, Any], length: int) -> None:
        path = environ.get("PATH_INFO", "")
        extra = {"content_length_mb": round(length / MB, 1), "path": path}
        log.warning(message, environ.get("REQUEST_METHOD", ""), path, length / MB, extra=extra)

    def _log_sample(self, start: tuple[float, int, int], fields: dict[str, object], rss: int, vms: int) -> None:
        started, start_rss, _ = start
        status = str(fields["status"]).split(" ", 1)[0]
        sample_log.info(
            "memory sample",
            extra={
                "rss_mb": round(rss / MB, 1),
                "vms_mb": round(vms / MB, 1),
                "rss_delta_mb": round((rss - start_rss) / MB, 2),
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "pid": os.getpid(),
                **fields,
                "status": int(status) if status.isdigit() else status,
            },
        )


class _SampledBody:
    """Passes a sampled response's body through untouched; writes the record when the server closes it."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._body = body
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._on_close()


def _endpoint(environ: dict[str, Any]) -> str:
    """The Flask endpoint of the request being answered, read while the app calls ``start_response``.

    Werkzeug keeps the request object in ``environ["werkzeug.request"]`` until Flask pops the request
    context, after this call; a dict lookup costs less than Flask's context proxies. ``unmatched`` stands for
    every path without a route, so scanners cannot add label values.
    """
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    return rule.endpoint if rule is not None else UNMATCHED


def _content_length(headers: list[tuple[str, str]]) -> int:
    for name, value in headers:
        if len(name) == 14 and name.lower() == "content-length":  # len() first: most headers stop there
            return _length(value)
    return 0


def _length(header: str | None) -> int:
    """A Content-Length header as a number; 0 when absent or malformed (werkzeug rejects those later)."""
    return int(header) if header and header.isdigit() else 0


def install_sampler(app: Flask) -> MemorySampler:
    """Wrap the app's WSGI callable with the sampler, configured from the app's config (and counting
    requests for ``/metrics`` unless ``METRICS_ENABLED`` is false)."""
    sampler = MemorySampler(
        app.wsgi_app,
        sample_rate=app.config["MEMORY_SAMPLE_RATE"],
        alert_mb=app.config["MEMORY_ALERT_MB"],
        large_request_mb=app.config["MEMORY_LARGE_REQUEST_MB"],
        count=record_request if app.config["METRICS_ENABLED"] else None,
    )
    app.wsgi_app = sampler  # type: ignore[method-assign]
    app.extensions[EXTENSION_KEY] = sampler
    return sampler
