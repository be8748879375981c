"""Every Prometheus metric NextOps exports, defined once, and the small functions that record them.

The app (requests, exports, uploads, the DB pool) and gunicorn's hooks (retirements, ``malloc_trim``)
call the ``record_*`` functions below; nothing else creates a metric. ``docs/metrics.md`` lists them.

No Flask here: ``ops/worker_lifecycle.py`` records retirements from gunicorn's hooks. Neither the
metrics nor ``prometheus_client`` itself are loaded at import: prometheus_client picks its single- or
multiprocess storage once, when it is first imported, from ``PROMETHEUS_MULTIPROC_DIR``, which gunicorn
sets (``raw_env`` in ``gunicorn.conf.py``) only after it has executed that file. Under gunicorn every worker
then writes its values to its own memory-mapped files in that directory; ``ops/metrics_files.py`` folds a
dead worker's files into an archive so the totals survive recycling.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

# Seconds. The request buckets bracket the ~2 ms list call and the slow import; few of them, as every
# (endpoint, status) pair has a series per bucket.
REQUEST_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0)
EXPORT_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
RETIREMENT_REASONS = ("max_requests", "memory")
EXPORT_MODES = ("streamed", "background")


@dataclass(frozen=True)
class Metrics:
    requests: Histogram
    export_rows: Counter
    export_bytes: Counter
    export_seconds: Histogram
    exports_aborted: Counter
    upload_bytes: Counter
    upload_duplicates: Counter
    upload_rejections: Counter
    retirements: Counter
    malloc_trim_freed: Counter
    db_pool_in_use: Gauge


@functools.cache
def metrics() -> Metrics:
    """The process's metrics, created (and registered in prometheus_client's default registry) once."""
    from prometheus_client import Counter, Gauge, Histogram

    return Metrics(
        # One histogram, no separate counter: its _count is the request count by endpoint and status, and each
        # request costs two writes to the worker's value file instead of three (bench/metrics.py).
        requests=Histogram(
            "nextops_http_request_seconds",
            "Requests by Flask endpoint and status, and their time until the response headers",
            ["endpoint", "status"],
            buckets=REQUEST_BUCKETS,
        ),
        export_rows=Counter("nextops_export_rows", "Rows written by exports", ["format", "mode"]),
        export_bytes=Counter("nextops_export_bytes", "Bytes written by exports", ["format", "mode"]),
        export_seconds=Histogram(
            "nextops_export_seconds",
            "Duration of an export, finished or not",
            ["format", "mode"],
            buckets=EXPORT_BUCKETS,
        ),
        exports_aborted=Counter(
            "nextops_exports_aborted",
            "Exports that ended before their last byte (client gone, error, cancelled)",
            ["format", "mode"],
        ),
        upload_bytes=Counter("nextops_upload_bytes", "Bytes of new documents stored (duplicates not counted)"),
        upload_duplicates=Counter(
            "nextops_upload_duplicates", "Uploads whose content was already stored (same sha256)"
        ),
        upload_rejections=Counter(
            "nextops_upload_rejections", "Uploads refused, by the error code answered", ["reason"]
        ),
        retirements=Counter(
            "nextops_worker_retirements", "Workers that chose to retire, by reason (max_requests, memory)", ["reason"]
        ),
        malloc_trim_freed=Counter(
            "nextops_malloc_trim_freed_bytes", "RSS handed back to the OS by malloc_trim in the memory check"
        ),
        # livesum: the sum over the live workers; a dead worker's value file is removed with it.
        db_pool_in_use=Gauge(
            "nextops_db_pool_in_use", "Database connections checked out of the pools", multiprocess_mode="livesum"
        ),
    )


@functools.cache
def _request_child(endpoint: str, status: str) -> Histogram:
    """The labelled child of one (endpoint, status): ``labels()`` costs more than the observation itself."""
    return metrics().requests.labels(endpoint, status)


def record_request(endpoint: str, status: str, seconds: float) -> None:
    _request_child(endpoint, status).observe(seconds)


def record_export(export_format: str, mode: str, rows: int, size: int, seconds: float, finished: bool) -> None:
    """One export ended (``mode``: ``streamed`` by the HTTP response, ``background`` by an RQ job)."""
    m = metrics()
    m.export_rows.labels(export_format, mode).inc(rows)
    m.export_bytes.labels(export_format, mode).inc(size)
    m.export_seconds.labels(export_format, mode).observe(seconds)
    if not finished:
        m.exports_aborted.labels(export_format, mode).inc()


def record_upload(size: int, duplicate: bool) -> None:
    if duplicate:
        metrics().upload_duplicates.inc()
    else:
        metrics().upload_bytes.inc(size)


def record_upload_rejected(reason: str) -> None:
    metrics().upload_rejections.labels(reason).inc()


def record_retirement(reason: str) -> None:
    metrics().retirements.labels(reason).inc()


def record_malloc_trim(freed: int) -> None:
    if freed > 0:
        metrics().malloc_trim_freed.inc(freed)


def db_connection_checked_out() -> None:
    metrics().db_pool_in_use.inc()


def db_connection_checked_in() -> None:
    metrics().db_pool_in_use.dec()
