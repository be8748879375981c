"""What ``gunicorn.conf.py``'s hooks do, kept here so it can be imported and tested without gunicorn.

- Copy-on-write: ``gc.freeze()`` in the master before forking moves every preloaded object to the
  permanent generation, so a worker's garbage collector never writes to (and un-shares) those pages;
  ``gc.unfreeze()`` at worker exit lets the interpreter tear down normally.
- Inherited DB connections: a preloaded app could have pooled connections in the master; each child
  forgets them without closing (closing would tear down the socket the master or a sibling still uses).
- Memory-based recycling: gunicorn only recycles by request count (its maintainers rejected a memory
  limit in 2026), so after each request a worker above ``GUNICORN_MAX_WORKER_MEMORY_MB`` first hands
  freed heap back to the OS with ``malloc_trim(0)`` and, if still above, retires gracefully.
"""

from __future__ import annotations

import ctypes
import functools
import gc
from collections.abc import Callable
from typing import Any, Protocol

from app.monitoring.process_memory import MB, StatmReader


class WorkerLike(Protocol):
    """The parts of a gunicorn worker the recycling check uses."""

    alive: bool
    pid: int
    nr: int
    log: Any


def freeze_heap() -> int:
    """Move everything allocated so far out of the collector's reach; return the frozen count."""
    gc.freeze()
    return gc.get_freeze_count()


def unfreeze_heap() -> None:
    gc.unfreeze()


def dispose_inherited_engines(wsgi_app: Any) -> int:
    """Drop (without closing) pool connections a preloaded app inherited; return engines disposed."""
    extensions = getattr(wsgi_app, "extensions", None)
    if not extensions or "sqlalchemy" not in extensions:
        return 0
    with wsgi_app.app_context():
        engines = list(extensions["sqlalchemy"].engines.values())
        for engine in engines:
            engine.dispose(close=False)
    return len(engines)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None (musl/macOS have none: there is nothing to trim then).

    ``CDLL(None)`` looks in the symbols already loaded: no ``ctypes.util.find_library``, which runs
    ``ldconfig`` in a subprocess and, under gevent, lets other requests run in the middle of a check.
    """
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


def malloc_trim() -> str:
    """Return freed-but-retained heap to the OS (~80 MB after a big request); say what happened."""
    function = _malloc_trim()
    if function is None:
        return "unavailable"
    return "released memory" if function(0) else "had nothing to release"


class MemoryRecycler:
    """The ``post_request`` check: trim, then retire the worker if RSS is still above the limit."""

    def __init__(self, limit_mb: int, read: Callable[[], tuple[int, int]] | None = None) -> None:
        self.limit_bytes = limit_mb * MB
        self.read = read or StatmReader().read

    def check(self, worker: WorkerLike) -> None:
        if not self.limit_bytes or not worker.alive:
            return  # disabled, or already retiring (max_requests or an earlier check)
        rss = self.read()[0]
        if rss <= self.limit_bytes:
            return
        trim = malloc_trim()
        after = self.read()[0]
        if after <= self.limit_bytes:
            worker.log.info(
                "Worker %s RSS %.1f MB -> %.1f MB after malloc_trim: back under %d MB, keeps serving",
                worker.pid,
                rss / MB,
                after / MB,
                self.limit_bytes // MB,
            )
            return
        worker.alive = False
        worker.log.warning(
            "Retiring worker %s: RSS %.1f MB above GUNICORN_MAX_WORKER_MEMORY_MB=%d after %d requests"
            " (%.1f MB before malloc_trim, which %s); it finishes in-flight requests, gunicorn forks a new one",
            worker.pid,
            after / MB,
            self.limit_bytes // MB,
            worker.nr,
            rss / MB,
            trim,
        )
