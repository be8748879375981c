"""Per-worker concurrency slots for long streamed responses (exports, document archives); the next gets a 429.

A long stream holds a database connection and much of a CPU for as long as it runs, so a bound per
kind protects the rest of the worker's requests. Each kind has its own slots: a documents archive to
a slow client must not keep the team's spreadsheet exports waiting. The semaphores are created when
a blueprint is registered; every gunicorn worker forks its own copy, hence "per worker". Under gevent
``threading`` is patched and the semaphore is a gevent one. A :class:`Slot` is released exactly once,
however the stream ends (finished, failed, or the client went away): the response's close callback
and the body both release it.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from app.errors import ApiError

RETRY_AFTER_SECONDS = 10


class Slot:
    """One acquired slot; :meth:`release` is idempotent."""

    def __init__(self, semaphore: threading.BoundedSemaphore) -> None:
        self._semaphore: threading.BoundedSemaphore | None = semaphore

    def release(self) -> None:
        semaphore, self._semaphore = self._semaphore, None
        if semaphore is not None:
            semaphore.release()


class Slots:
    """At most ``limit`` streams of one kind at once; ``what`` and ``code`` word the 429."""

    def __init__(self, limit: int, what: str, code: str) -> None:
        self.limit = limit
        self.what = what
        self.code = code
        self._semaphore = threading.BoundedSemaphore(limit)

    def acquire(self) -> Slot:
        """Take a slot without waiting, or raise the 429 the client should retry after."""
        if not self._semaphore.acquire(blocking=False):
            raise ApiError(
                429,
                f"too many {self.what} running (at most {self.limit} per worker); retry in {RETRY_AFTER_SECONDS} s",
                self.code,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return Slot(self._semaphore)


def install(app: Flask, key: str, slots: Slots) -> None:
    app.extensions[key] = slots


def slots_for(key: str) -> Slots:
    return current_app.extensions[key]
