"""What ``gunicorn.conf.py``'s hooks do, kept here so it can be imported and tested without gunicorn.

- Copy-on-write: ``gc.freeze()`` in the master before forking moves every preloaded object to the
  permanent generation, so a worker's garbage collector never writes to (and un-shares) those pages;
  ``gc.unfreeze()`` at worker exit lets the interpreter tear down normally.
- Inherited DB connections: a preloaded app could have pooled connections in the master; each child
  forgets them without closing (closing would tear down the socket the master or a sibling still uses).
- Memory-based recycling: gunicorn only recycles by request count (it has no memory limit of its
  own), so after each request a worker above ``GUNICORN_MAX_WORKER_MEMORY_MB`` first hands
  freed heap back to the OS with ``malloc_trim(0)`` and, if still above, retires gracefully.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import os
import signal
from collections.abc import Callable
from typing import Any, Protocol

from ops.metrics import record_malloc_trim
from ops.process_memory import StatmReader
from values import MB


class WorkerLike(Protocol):
    """The parts of a gunicorn worker the recycling check uses."""

    alive: bool
    pid: int
    ppid: int
    nr: int
    max_requests: int
    log: Any


class ArbiterLike(Protocol):
    """The part of gunicorn's master (arbiter) that the replacement bookkeeping changes."""

    num_workers: int


def freeze_heap() -> int:
    """Move everything allocated so far out of the collector's reach; return the frozen count."""
    gc.freeze()
    return gc.get_freeze_count()


def let_preload_timers_finish() -> None:
    """Let the master run the greenlets the preloaded app scheduled, before the first fork.

    Under gevent a ``threading.Timer`` started while the app loads (the rate limiter's in-memory
    storage starts one) is a greenlet of the master's hub. Forked pending, it would finish in every
    worker, where gevent has reset threading's bookkeeping, and print a KeyError traceback (not a
    JSON line) at each boot. A short sleep here lets it run and end in the master.
    """
    import gevent

    gevent.sleep(0.05)


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
    """Return freed-but-retained heap to the OS (much of it after a big request); say what happened."""
    function = _malloc_trim()
    if function is None:
        return "unavailable"
    return "released memory" if function(0) else "had nothing to release"


class MemoryRecycler:
    """The ``post_request`` check: trim, then retire the worker if RSS is still above the limit."""

    def __init__(self, limit_mb: int, read: Callable[[], tuple[int, int]] | None = None) -> None:
        self.limit_bytes = limit_mb * MB
        self.read = read or StatmReader().read

    def check(self, worker: WorkerLike) -> bool:
        """Return True when this check retired the worker."""
        if not self.limit_bytes or not worker.alive:
            return False  # disabled, or already retiring (max_requests or an earlier check)
        rss = self.read()[0]
        if rss <= self.limit_bytes:
            return False
        trim = malloc_trim()
        after = self.read()[0]
        record_malloc_trim(rss - after)
        if after <= self.limit_bytes:
            worker.log.info(
                "Worker %s RSS %.1f MB -> %.1f MB after malloc_trim: back under %d MB, keeps serving",
                worker.pid,
                rss / MB,
                after / MB,
                self.limit_bytes // MB,
            )
            return False
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
        return True


def request_early_replacement(worker: WorkerLike) -> bool:
    """Ask the master (SIGTTIN) to fork this retiring worker's replacement now, not when it exits.

    gunicorn replaces a worker only after it exits, and a retiring worker stops accepting within a
    second but first finishes its in-flight requests (up to the graceful timeout). With streamed exports
    in flight and both workers reaching ``max_requests`` close together (their counts grow in step), no
    worker would accept connections until an export ended. Callers invoke this only for a retirement
    the worker chose (the request that reaches ``max_requests``, a memory retirement), never on
    shutdown. Once per worker; :func:`give_back_extra_slot` returns the slot.
    """
    if getattr(worker, "replacement_requested", False):
        return False
    worker.replacement_requested = True  # type: ignore[attr-defined]
    os.kill(worker.ppid, signal.SIGTTIN)
    worker.log.info("Worker %s retiring after %d requests: its replacement starts now", worker.pid, worker.nr)
    return True


def will_reach_max_requests(worker: WorkerLike) -> bool:
    """``pre_request``: gunicorn counts this request next and stops the worker when it reaches the limit."""
    return worker.alive and worker.nr + 1 >= worker.max_requests


def give_back_extra_slot(arbiter: ArbiterLike, configured_workers: int) -> None:
    """``child_exit`` (in the master): undo the SIGTTIN of :func:`request_early_replacement`."""
    if arbiter.num_workers > configured_workers:
        arbiter.num_workers -= 1
