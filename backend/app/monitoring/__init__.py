"""Monitoring inside Flask: the per-request memory sampler, `/api/monitoring/memory`, `flask memory-check`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Install the per-request sampler and the monitoring blueprint (plus test routes when enabled).

    The sampler wraps the WSGI app, so it sees every request, including those auth rejects.
    """
    from app.monitoring.routes import bp
    from app.monitoring.sampler import install_sampler

    install_sampler(app)
    app.register_blueprint(bp)
    if app.config["ENABLE_TEST_ROUTES"]:
        from app.monitoring.testing_routes import bp as testing_bp

        app.register_blueprint(testing_bp)
