"""Gunicorn configuration, read from backend/ by ``gunicorn wsgi:app``.

Every value comes from the GUNICORN_* variables parsed in ``config.py`` (defaults, as RAILWAY_SETUP.md
deploys them: 2 gevent workers recycled every 500 +/- 50 requests, plus retirement above
GUNICORN_MAX_WORKER_MEMORY_MB). This is the one module allowed side effects at import: gunicorn executes
it once in the master before loading the app. The hooks' logic lives in ``ops/worker_lifecycle.py`` so
tests can exercise it without a gunicorn.
"""

from config import gunicorn_settings, load_config

_settings = gunicorn_settings()

if _settings.worker_class == "gevent":
    # With preload the app (and psycopg2, ssl, threading users) is imported in the master before the
    # gevent worker would patch; gevent asks to patch before any of those are imported.
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402

from logs import STARTUP_LOGGER, logging_dict  # noqa: E402
from ops.gunicorn_master import remove_stale_pidfile  # noqa: E402
from ops.leftovers import clean_after_worker, clean_at_start  # noqa: E402
from ops.metrics import record_retirement  # noqa: E402
from ops.metrics_files import prepare_directory, retire_process  # noqa: E402
from ops.worker_lifecycle import (  # noqa: E402
    MemoryRecycler,
    dispose_inherited_engines,
    freeze_heap,
    give_back_extra_slot,
    let_preload_timers_finish,
    request_early_replacement,
    unfreeze_heap,
    will_reach_max_requests,
)
from ops.workers import WORKER_CLASSES  # noqa: E402

# STORAGE_DIR and the S3 settings, for the master's clean-up of what dead workers leave (ops/leftovers.py).
_app_config = load_config()

bind = _settings.bind
workers = _settings.workers
# gunicorn's own gevent/sync/gthread worker, subclassed so that the errors gunicorn answers itself (400 malformed,
# 414 request line too long, 431 headers too large, 500) are JSON like the app's (ops/workers/).
worker_class = WORKER_CLASSES[_settings.worker_class]
worker_connections = _settings.worker_connections
max_requests = _settings.max_requests
max_requests_jitter = _settings.max_requests_jitter
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
keepalive = _settings.keepalive
preload_app = _settings.preload
# check_memory.py finds the master through this file (<tmp>/nextops-gunicorn-<port>.pid by default). A file left by
# a killed master is removed first: gunicorn would refuse to start if its PID now belonged to another process.
pidfile = _settings.pidfile
remove_stale_pidfile(pidfile)

# Logs: JSON lines on stdout only (Railway captures stdout; nothing is written inside the container).
accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level
logconfig_dict = logging_dict(_settings.log_level.upper())

# Gunicorn sets these in the master before it loads the app: the served app skips Flask-Migrate and
# Alembic (bench/RESULTS.md measures what that saves; only `flask db` needs them, in its own process).
# PROMETHEUS_MULTIPROC_DIR: prometheus_client reads it once, when first imported (after this file has run: ops/ imports
# it lazily), and then keeps each process's metrics in files there so that /metrics adds up every worker
# (docs/metrics.md). The directory exists before the preloaded app loads; on_starting empties it.
raw_env = ["NEXTOPS_MIGRATIONS_CLI=false", f"PROMETHEUS_MULTIPROC_DIR={_settings.metrics_dir}"]
os.makedirs(_settings.metrics_dir, exist_ok=True)

# gunicorn 27 opens a control socket under $HOME/.gunicorn by default; we do not use it and must not
# write outside the app.
control_socket_disable = True


def on_starting(server) -> None:  # noqa: ANN001  (gunicorn's hook signature)
    """Log the effective settings in the lines RAILWAY_SETUP.md tells operators to grep for (at any LOG_LEVEL)."""
    log = logging.getLogger(STARTUP_LOGGER)
    log.info("Gunicorn starting with config:")
    log.info("  Workers: %s", server.cfg.workers)
    log.info("  Worker class: %s", server.cfg.worker_class)
    log.info("  Worker connections: %s", server.cfg.worker_connections)
    log.info("  Timeout: %ss (graceful %ss)", server.cfg.timeout, server.cfg.graceful_timeout)
    log.info("  Max requests: %s (jitter %s)", server.cfg.max_requests, server.cfg.max_requests_jitter)
    log.info("  Preload app: %s (gc.freeze: %s)", server.cfg.preload_app, _settings.gc_freeze)
    log.info("  Max worker memory: %s MB (0 = off)", _settings.max_worker_memory_mb)
    log.info("  Bind: %s", ", ".join(server.cfg.bind))
    log.info("  Pidfile: %s", server.cfg.pidfile)
    log.info("  Metrics directory: %s (emptied)", prepare_directory(_settings.metrics_dir))
    # Nothing is in flight before the first fork: every upload/import temp file and S3 multipart upload left
    # by a killed worker or master goes now.
    removed = clean_at_start(_app_config)
    if removed:
        log.info("Removed %d leftover upload temp files / S3 multipart uploads", removed)


def when_ready(server) -> None:  # noqa: ANN001
    """Freeze the preloaded heap just before the first fork, so workers keep sharing its pages."""
    if server.cfg.preload_app and _settings.worker_class == "gevent":
        let_preload_timers_finish()
    if server.cfg.preload_app and _settings.gc_freeze:
        server.log.info("gc.freeze(): %d objects moved to the permanent generation", freeze_heap())


def post_fork(server, worker) -> None:  # noqa: ANN001
    """Make psycopg2 yield to gevent, and drop DB connections inherited from the master.

    With preload the app object is ``worker.app.callable`` here (``worker.wsgi`` is only set later,
    in ``init_process``); without preload it does not exist yet and there is nothing to dispose.
    """
    # Until init_process installs the worker's own handlers, the child runs the master's Python handlers,
    # which only queue signals in the child's copy of the master's queue: a SIGTERM sent while the worker
    # boots (a stop right after start) would be lost and the worker would linger until "Parent changed".
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    if _settings.worker_class == "gevent":
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()
    dispose_inherited_engines(worker.app.callable)
    logging.getLogger("gunicorn.error").debug("worker %s ready", worker.pid)


def post_worker_init(worker) -> None:  # noqa: ANN001
    """One line per worker once the app is loaded: benchmarks and operators can tell boot from idle."""
    worker.log.info("Worker ready (pid: %s)", worker.pid)


_recycler = MemoryRecycler(_settings.max_worker_memory_mb)


def pre_request(worker, req) -> None:  # noqa: ANN001
    """The request that reaches max_requests retires the worker: fork its replacement now.

    The old worker stops accepting within a second but may stream this request (an export) for a long
    time; without this the port could be left with no accepting worker until it exits.
    """
    if will_reach_max_requests(worker) and request_early_replacement(worker):
        record_retirement("max_requests")


def post_request(worker, req, environ, resp) -> None:  # noqa: ANN001
    """Retire this worker gracefully if its RSS stays above GUNICORN_MAX_WORKER_MEMORY_MB after a trim."""
    if _recycler.check(worker):
        record_retirement("memory")
        request_early_replacement(worker)


def child_exit(server, worker) -> None:  # noqa: ANN001
    """In the master: a worker has exited; drop the extra slot its early replacement used, and remove the temp
    files and S3 multipart uploads it owned (after a SIGKILL, e.g. the OOM killer's, it removed nothing itself),
    and fold its metric files into the archive.
    This runs before gunicorn forks the replacement, so a reused PID owns nothing yet."""
    give_back_extra_slot(server, _settings.workers)
    # Its counters go into the archive and its files away: the totals stay, the directory does not grow.
    try:
        retire_process(_settings.metrics_dir, worker.pid)
    except OSError as exc:  # e.g. the directory was removed under us: the master must keep running
        server.log.warning("Could not fold worker %s's metric files into the archive: %s", worker.pid, exc)
    removed = clean_after_worker(_app_config, worker.pid)
    if removed:
        server.log.warning("Worker %s exited leaving %d upload temp file(s); removed", worker.pid, removed)


def worker_exit(server, worker) -> None:  # noqa: ANN001
    """Undo gc.freeze() in the exiting worker only (gunicorn may also call this in the master)."""
    if worker.pid == os.getpid():
        unfreeze_heap()
