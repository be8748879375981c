"""Monitoring inside Flask: the memory sampler, `/api/monitoring/memory`, `/metrics`, `flask memory-check`."""

from __future__ import annotations

from flask import Flask

from ops.cgroup import read_cgroup_memory, recommended_alert_mb


def alert_mb_for_this_container() -> int:
    """MEMORY_ALERT_MB when it is not set: 40% of this container's memory limit (400 MB when none is visible)."""
    cgroup = read_cgroup_memory()
    return recommended_alert_mb(cgroup.limit if cgroup else None)


def init_app(app: Flask) -> None:
    """Install the per-request sampler and the monitoring blueprint (plus test routes when enabled).

    The sampler wraps the WSGI app, so it sees every request, including those auth rejects.
    """
    from app.monitoring.metrics import install_metrics
    from app.monitoring.routes import bp
    from app.monitoring.sampler import install_sampler

    if app.config["MEMORY_ALERT_MB"] is None:
        app.config["MEMORY_ALERT_MB"] = alert_mb_for_this_container()
    install_sampler(app)  # also counts the requests for /metrics
    install_metrics(app)
    app.register_blueprint(bp)
    if app.config["ENABLE_TEST_ROUTES"]:
        from app.monitoring.testing_routes import bp as testing_bp

        app.register_blueprint(testing_bp)
