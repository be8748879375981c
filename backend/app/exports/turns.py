"""Exports and uploads give the worker back between chunks, and yield more while small requests wait.

An export is a long loop over chunks of rows. Under gevent it only leaves its greenlet when it waits
on a socket, and with a fast client and rows already buffered it never waits: it would keep the
worker until its last row while list calls queue behind it. So after every chunk it takes a
:class:`Turns` turn: ``time.sleep`` (gevent's in a worker) of zero when the worker has nothing else
to do, and otherwise a pause that keeps all of the worker's bulk streams together (its exports and
uploads) at ``EXPORT_SHARE`` of the worker's time: with one stream at 0.5 a chunk that took 3 ms is
followed by a 3 ms pause, with two each pauses three times its chunk. A share per stream would let
two exports in one worker take all of it between them. A small request then waits about one chunk
per stream for its turn, and the streams run slower only while small requests are in the worker.

"Other requests" are counted by app-wide hooks of the exports blueprint: every request that is not
an export, from before the view to teardown. Uploads take turns too (``app.uploads.streaming``): a
client on loopback sends faster than the worker hashes and writes, so the receive loop never waits on
its socket either; an upload is itself a counted request, so uploads are taken out of the count of
waiting requests (they are bulk streams, not small requests).
"""

from __future__ import annotations

import time

from flask import Blueprint, has_request_context, request

EXPORT_SHARE = 0.5
EXPORT_ENDPOINTS = frozenset({"exports.export_invoices", "exports.export_ots"})


class InFlight:
    """What this worker process is serving now (greenlets: no lock needed).

    ``others``: requests other than exports (uploads included); ``bulk``: streams taking turns (exports
    and uploads); ``bulk_counted``: those of them that are also in ``others`` (uploads).
    """

    others = 0
    bulk = 0
    bulk_counted = 0

    @classmethod
    def small_waiting(cls) -> bool:
        return cls.others - cls.bulk_counted > 0


class Turns:
    """One stream's turns: :meth:`take` after each chunk; a context manager, so it leaves the count."""

    def __init__(self, counted_self: bool = False) -> None:
        self._counted = counted_self  # the stream is a request InFlight.others counts (an upload)
        self._open = True
        InFlight.bulk += 1
        InFlight.bulk_counted += int(counted_self)
        self._resumed = time.perf_counter()

    def take(self) -> None:
        slice_seconds = time.perf_counter() - self._resumed
        pause = slice_seconds * (max(InFlight.bulk, 1) / EXPORT_SHARE - 1) if InFlight.small_waiting() else 0.0
        time.sleep(pause)
        self._resumed = time.perf_counter()

    def close(self) -> None:
        if self._open:
            self._open = False
            InFlight.bulk -= 1
            InFlight.bulk_counted -= int(self._counted)

    def __enter__(self) -> Turns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
