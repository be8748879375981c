"""NextOps backend: the application factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.accounts.sessions import install_sessions
from app.auth import install_auth
from app.cli import register_cli
from app.database import init_database
from app.errors import install_json_errors_middleware, register_error_handlers
from app.extensions import db
from app.ids import IdConverter
from app.monitoring import init_app as init_monitoring
from config import BACKEND_DIR, load_config
from logs import configure_logging

MIGRATIONS_DIR = BACKEND_DIR / "migrations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment, with ``config`` overriding it (tests pass one)."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config())
    if config:
        app.config.from_mapping(config)
    configure_logging(app.config["LOG_LEVEL"])
    app.json.sort_keys = False  # keep fields in the serializers' order: id first, as people read them
    app.json.ensure_ascii = False  # names like "Roldán" stay readable in the JSON
    _init_database(app)
    init_monitoring(app)  # memory sampler around the WSGI app, /api/monitoring/memory
    install_sessions(app)  # cookie flags, ProxyFix, CSRF, sign-in limits (before auth: the guard uses them)
    install_auth(app)
    register_error_handlers(app)
    app.url_map.converters["id"] = IdConverter  # <id:...>: 1..2**63-1, so SQLite never sees a bigger int
    _register_blueprints(app)
    register_cli(app)
    install_json_errors_middleware(app)  # last: the outermost WSGI layer
    return app


def _init_database(app: Flask) -> None:
    from app import models  # noqa: F401  (the metadata must know every table before Migrate looks)

    init_database(app)
    if app.config["MIGRATIONS_CLI"]:  # gunicorn.conf.py turns it off: a server never uses Alembic
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)


def _register_blueprints(app: Flask) -> None:
    from app.accounts import bp as accounts_bp
    from app.api import bp as api_bp
    from app.exports import bp as exports_bp
    from app.health import bp as health_bp
    from app.imports import bp as imports_bp
    from app.intake import bp as intake_bp
    from app.uploads import bp as uploads_bp
    from app.web import bp as web_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(uploads_bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(intake_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(web_bp)  # the pages; also installs Flask-Babel, the filters and HTML error pages
