"""Per-request memory sampling, the HIGH MEMORY alert and large request/response logging.

Costs are chosen for the hot path: one RNG draw and one ``statm`` read (~2 µs) per request; the
JSON sample record is written for ``MEMORY_SAMPLE_RATE`` of requests only. Sizes come from the
Content-Length headers, never from the body: the old middleware read ``response.content``, which
drains (and buffers in RAM) a streamed export before the client gets a byte.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable

from flask import Flask, Response, request

from app.monitoring.process_memory import MB, StatmReader

log = logging.getLogger(__name__)
EXTENSION_KEY = "nextops_memory_sampler"


START_KEY = "nextops.memory_start"  # in the WSGI environ: (perf_counter, rss, vms) of a sampled request


class MemorySampler:
    """Installed once per app; ``rng`` and ``read`` are attributes so tests can seed or fake them.

    The hot path avoids Flask's context proxies where it can (each costs about a microsecond): an
    unsampled request costs one RNG draw, one environ lookup, one statm read and one header lookup.
    """

    def __init__(
        self,
        sample_rate: float,
        alert_mb: int,
        large_request_mb: int,
        rng: random.Random | None = None,
        read: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.alert_bytes = alert_mb * MB
        self.large_bytes = large_request_mb * MB
        self.rng = rng or random.Random()
        self.read = read or StatmReader().read
        self.requests_served = 0

    def install(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self
        app.before_request(self._before)
        app.after_request(self._after)

    def _draw(self) -> bool:
        """Rate 0 and 1 skip the RNG, so a seeded run only consumes draws for fractional rates."""
        if self.sample_rate >= 1.0:
            return True
        return self.sample_rate > 0.0 and self.rng.random() < self.sample_rate

    def _before(self) -> None:
        environ = request.environ
        length = _length(environ.get("CONTENT_LENGTH"))
        if length > self.large_bytes:  # logged before the body is read: useful if the worker then dies
            log.warning(
                "large request: %s %s with %.1f MB body",
                request.method,
                request.path,
                length / MB,
                extra={"content_length_mb": round(length / MB, 1), "path": request.path},
            )
        if self._draw():
            rss, vms = self.read()
            environ[START_KEY] = (time.perf_counter(), rss, vms)

    def _after(self, response: Response) -> Response:
        self.requests_served += 1
        rss, vms = self.read()
        if rss > self.alert_bytes:
            self._alert(rss)
        length = _length(response.headers.get("Content-Length"))  # None for a streamed body, never read
        if length > self.large_bytes:
            log.warning(
                "large response: %s %s sent %.1f MB",
                request.method,
                request.path,
                length / MB,
                extra={"content_length_mb": round(length / MB, 1), "path": request.path},
            )
        start = request.environ.pop(START_KEY, None)
        if start is None:
            return response
        fields = {"path": request.path, "method": request.method, "status": response.status_code}
        if response.is_streamed and not response.direct_passthrough:
            # The body has not been produced yet: measure when the server closes it.
            response.call_on_close(lambda: self._log_sample(start, fields, *self.read()))
        else:
            self._log_sample(start, fields, rss, vms)
        return response

    def _alert(self, rss: int) -> None:
        log.error(
            "HIGH MEMORY USAGE: worker %d RSS %.1f MB is above MEMORY_ALERT_MB (%d MB) after %s %s",
            os.getpid(),
            rss / MB,
            self.alert_bytes // MB,
            request.method,
            request.path,
            extra={"rss_mb": round(rss / MB, 1), "alert_mb": self.alert_bytes // MB, "path": request.path},
        )

    def _log_sample(self, start: tuple[float, int, int], fields: dict[str, object], rss: int, vms: int) -> None:
        started, start_rss, _ = start
        log.info(
            "memory sample",
            extra={
                "rss_mb": round(rss / MB, 1),
                "vms_mb": round(vms / MB, 1),
                "rss_delta_mb": round((rss - start_rss) / MB, 2),
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "pid": os.getpid(),
                **fields,
            },
        )


def _length(header: str | None) -> int:
    """A Content-Length header as a number; 0 when absent or malformed (werkzeug rejects those later)."""
    return int(header) if header and header.isdigit() else 0


def install_sampler(app: Flask) -> MemorySampler:
    """Create the sampler from the app's config and hook it into every request."""
    sampler = MemorySampler(
        sample_rate=app.config["MEMORY_SAMPLE_RATE"],
        alert_mb=app.config["MEMORY_ALERT_MB"],
        large_request_mb=app.config["MEMORY_LARGE_REQUEST_MB"],
    )
    sampler.install(app)
    return sampler
