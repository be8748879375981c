"""Gunicorn configuration, read from backend/ by ``gunicorn wsgi:app``.

Every value comes from the GUNICORN_* variables parsed in ``config.py`` (defaults: the guide's
2 gevent workers recycled every 500 +/- 50 requests). This is the one module allowed side effects at
import: gunicorn executes it once in the master before loading the app.
"""

from config import gunicorn_settings

_settings = gunicorn_settings()

if _settings.worker_class == "gevent":
    # With preload the app (and psycopg2, ssl, threading users) is imported in the master before the
    # gevent worker would patch; gevent asks to patch before any of those are imported.
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402

from app.logs import logging_dict  # noqa: E402

bind = _settings.bind
workers = _settings.workers
worker_class = _settings.worker_class
worker_connections = _settings.worker_connections
max_requests = _settings.max_requests
max_requests_jitter = _settings.max_requests_jitter
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
keepalive = _settings.keepalive
preload_app = _settings.preload

# Logs: JSON lines on stdout only (Railway captures stdout; nothing is written inside the container).
accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level
logconfig_dict = logging_dict(_settings.log_level.upper())

# gunicorn 27 opens a control socket under $HOME/.gunicorn by default; we do not use it and must not
# write outside the app.
control_socket_disable = True


def on_starting(server) -> None:  # noqa: ANN001  (gunicorn's hook signature)
    """Log the effective settings in the guide's format so operators can grep deploy logs."""
    log = server.log
    log.info("Gunicorn starting with config:")
    log.info("  Workers: %s", server.cfg.workers)
    log.info("  Worker class: %s", server.cfg.worker_class)
    log.info("  Worker connections: %s", server.cfg.worker_connections)
    log.info("  Timeout: %ss (graceful %ss)", server.cfg.timeout, server.cfg.graceful_timeout)
    log.info("  Max requests: %s (jitter %s)", server.cfg.max_requests, server.cfg.max_requests_jitter)
    log.info("  Preload app: %s", server.cfg.preload_app)
    log.info("  Bind: %s", ", ".join(server.cfg.bind))


def post_fork(server, worker) -> None:  # noqa: ANN001
    """Make psycopg2 yield to gevent, and drop DB connections inherited from the master."""
    if _settings.worker_class == "gevent":
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()
    _dispose_inherited_engines(worker)
    logging.getLogger("gunicorn.error").debug("worker %s ready", worker.pid)


def _dispose_inherited_engines(worker) -> None:  # noqa: ANN001
    """A preloaded app may have opened pool connections in the master; a child must not reuse them."""
    app = getattr(worker, "wsgi", None)
    if app is None or not hasattr(app, "extensions") or "sqlalchemy" not in app.extensions:
        return
    with app.app_context():
        for engine in app.extensions["sqlalchemy"].engines.values():
            engine.dispose(close=False)
