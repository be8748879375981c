"""Engine set-up that depends on the database kind.

SQLite is the zero-setup default: its directory must exist, and it needs WAL plus a busy timeout so
two gunicorn workers can read while one writes, and foreign keys switched on to match PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.extensions import db


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def init_database(app: Flask) -> None:
    """Bind Flask-SQLAlchemy to ``app`` and prepare SQLite when that is the database."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    if url.get_backend_name() == "sqlite":
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)
