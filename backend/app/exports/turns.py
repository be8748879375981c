"""Exports give the worker back between chunks, and yield more while small requests are waiting.

An export is a long loop over chunks of rows. Under gevent it only leaves its greenlet when it waits
on a socket, and with a fast client and rows already buffered it never waits: it would keep the
worker until its last row while list calls queue behind it. So after every chunk it takes a
:class:`Turns` turn: ``time.sleep`` (gevent's in a worker) of zero when the worker has nothing else
to do, and otherwise long enough that the export uses at most ``EXPORT_SHARE`` of the worker's time
(a chunk that took 3 ms is followed by a 3 ms pause at 0.5), so a small request waits at most about
one chunk for its turn. Exports then run slower only while other requests are in the worker.

"Other requests" are counted by app-wide hooks of the exports blueprint: every request that is not
an export, from before the view to teardown. Uploads take turns too (``app.uploads.streaming``): a
client on loopback sends faster than the worker hashes and writes, so the receive loop never waits on
its socket either; an upload is itself a counted request, which its own turns leave out.
"""

from __future__ import annotations

import time

from flask import Blueprint, has_request_context, request

EXPORT_SHARE = 0.5
EXPORT_ENDPOINTS = frozenset({"exports.export_invoices", "exports.export_ots"})


class InFlight:
    """Requests other than exports currently in this worker process (greenlets: no lock needed)."""

    others = 0


class Turns:
    """One export's turns: :meth:`take` after each chunk."""

    def __init__(self, counted_self: bool = False) -> None:
        self._resumed = time.perf_counter()
        self._own = 1 if counted_self else 0  # the request taking the turns is one of InFlight.others

    def take(self) -> None:
        slice_seconds = time.perf_counter() - self._resumed
        waiting = InFlight.others - self._own > 0
        pause = slice_seconds * (1 - EXPORT_SHARE) / EXPORT_SHARE if waiting else 0.0
        time.sleep(pause)
        self._resumed = time.perf_counter()


def install_counting(bp: Blueprint) -> None:
    """Count the worker's non-export requests (see :class:`InFlight`)."""

    @bp.before_app_request
    def _count_in() -> None:  # request.environ["nextops.counted"]: see counted_here()
        if request.endpoint not in EXPORT_ENDPOINTS:
            request.environ["nextops.counted"] = True
            InFlight.others += 1

    @bp.teardown_app_request
    def _count_out(_error: BaseException | None) -> None:
        if request.environ.pop("nextops.counted", False):
            InFlight.others -= 1


def counted_here() -> bool:
    """True inside a request that :class:`InFlight` counts (anything but an export)."""
    return has_request_context() and bool(request.environ.get("nextops.counted"))
