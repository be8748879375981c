"""At most ``EXPORT_MAX_CONCURRENT`` exports at once per worker process; the next one gets a 429.

An export holds a database connection and a CPU for as long as it runs, so the limit protects the
rest of the worker's requests. The semaphore is created when the blueprint is registered; every
gunicorn worker forks its own copy, hence "per worker". Under gevent, ``threading`` is patched and
the semaphore is a gevent one. A :class:`Slot` is released exactly once, however the export ends
(finished, failed, or the client went away), because the response's close callback releases it.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from app.errors import ApiError

EXTENSION_KEY = "nextops.export_slots"
RETRY_AFTER_SECONDS = 10


class Slot:
    """One acquired export slot; :meth:`release` is idempotent."""

    def __init__(self, semaphore: threading.BoundedSemaphore) -> None:
        self._semaphore: threading.BoundedSemaphore | None = semaphore

    def release(self) -> None:
        semaphore, self._semaphore = self._semaphore, None
        if semaphore is not None:
            semaphore.release()


class ExportSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)

    def acquire(self) -> Slot:
        """Take a slot without waiting, or raise the 429 the client should retry after."""
        if not self._semaphore.acquire(blocking=False):
            raise ApiError(
                429,
                f"too many exports running (at most {self.limit} per worker); retry in {RETRY_AFTER_SECONDS} s",
                "too_many_exports",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return Slot(self._semaphore)


def install_slots(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = ExportSlots(app.config["EXPORT_MAX_CONCURRENT"])


def export_slots() -> ExportSlots:
    return current_app.extensions[EXTENSION_KEY]
