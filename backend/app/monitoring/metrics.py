"""``GET /metrics``: every metric of ``ops.metrics`` in Prometheus's text format, and what feeds the app's share.

- Requests: the memory sampler's WSGI middleware (:mod:`app.monitoring.sampler`), which already sees every
  request and its status, times each one until its response headers, by Flask endpoint and status (the
  histogram's ``_count`` is the request count).
- DB pool: SQLAlchemy's checkout/checkin events move a live-sum gauge.
- Worker memory and background jobs are read when scraped (:class:`ScrapeTimeCollector`): RSS/PSS of every
  worker of this gunicorn, and the job counts by state from the function the background-jobs feature
  registers with :func:`register_job_states` (absent until one does).

Under gunicorn (``PROMETHEUS_MULTIPROC_DIR`` set) a scrape adds up the value files of every worker, alive
or archived (:mod:`ops.metrics_files`), so it does not matter which worker answers. Without it (``flask
run``, the test client) the process's own registry is served: one process, its own counts.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import psutil
from flask import Blueprint, Flask, Response, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy import event

from app.auth import authenticate, check_role
from app.extensions import db
from ops import metrics_files
from ops.metrics import db_connection_checked_in, db_connection_checked_out
from ops.process_memory import full_reading

bp = Blueprint("metrics", __name__)
REGISTRY_KEY = "nextops.metrics.registry"
JOB_STATES_KEY = "nextops.metrics.job_states"


def register_job_states(app: Flask, read: Callable[[], Mapping[str, int]]) -> None:
    """The background-jobs feature's hook: ``read()`` returns the number of jobs in each state (queued, ...)."""
    app.extensions[JOB_STATES_KEY] = read


class ScrapeTimeCollector:
    """Figures measured when Prometheus asks rather than counted as they happen."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        rss = GaugeMetricFamily("nextops_worker_rss_bytes", "Resident set size of each worker", labels=["pid"])
        pss = GaugeMetricFamily(
            "nextops_worker_pss_bytes", "Proportional set size of each worker (shared pages split)", labels=["pid"]
        )
        for reading in (full_reading(pid) for pid in _worker_pids()):
            rss.add_metric([str(reading.pid)], reading.rss)
            if reading.pss is not None:
                pss.add_metric([str(reading.pid)], reading.pss)
        yield rss
        yield pss
        read_states = self.app.extensions.get(JOB_STATES_KEY)
        if read_states is not None:
            jobs = GaugeMetricFamily("nextops_background_jobs", "Background jobs by state", labels=["state"])
            for state, count in read_states().items():
                jobs.add_metric([state], count)
            yield jobs


def _worker_pids() -> list[int]:
    """This worker and its siblings under gunicorn (its master's children), else this process alone."""
    if str(request.environ.get("SERVER_SOFTWARE", "")).startswith("gunicorn"):
        try:
            return [child.pid for child in psutil.Process(os.getppid()).children()]
        except psutil.Error:
            pass
    return [os.getpid()]


def _registry(app: Flask) -> Any:
    """Built once per process: the multiprocess files (or this process's registry) plus the scrape-time figures."""
    registry = app.extensions.get(REGISTRY_KEY)
    if registry is None:
        from prometheus_client import REGISTRY, CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry(auto_describe=False)
        directory = app.config["PROMETHEUS_MULTIPROC_DIR"]
        if directory:
            MultiProcessCollector(registry, path=directory)
        else:
            registry.register(_Default(REGISTRY))
        registry.register(ScrapeTimeCollector(app))
        app.extensions[REGISTRY_KEY] = registry
    return registry


class _Default:
    """prometheus_client's default registry (this process's metrics, its process and GC figures) as a collector."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        return self.registry.collect()


def _check_access() -> None:
    """``METRICS_TOKEN`` as a bearer token, or else an admin's token or session (401/403 like the API)."""
    expected = current_app.config["METRICS_TOKEN"]
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if expected and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), expected.encode()):
        return
    check_role(authenticate(), "admin")


@bp.get("/metrics")
def scrape() -> ResponseReturnValue:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    _check_access()
    # The caller's look-up stays in the request's transaction (app.auth): end it, so the pool gauge
    # shows the connections the app's other requests hold, not the one this scrape would hold.
    db.session.close()
    registry = _registry(current_app)
    directory = current_app.config["PROMETHEUS_MULTIPROC_DIR"]
    if directory:
        with metrics_files.reading(directory):
            body = generate_latest(registry)
    else:
        body = generate_latest(registry)
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _count_pool(app: Flask) -> None:
    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "checkout", lambda *_: db_connection_checked_out())
            event.listen(engine, "checkin", lambda *_: db_connection_checked_in())


def install_metrics(app: Flask) -> None:
    """Count pool connections and serve ``/metrics`` (unless ``METRICS_ENABLED`` is false); the sampler counts
    the requests."""
    if not app.config["METRICS_ENABLED"]:
        return
    _count_pool(app)
    app.register_blueprint(bp)
