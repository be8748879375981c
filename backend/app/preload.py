"""What a preloaded gunicorn master imports and builds before the first fork, so the workers share it.

With ``GUNICORN_PRELOAD`` the app is imported once in the master and every worker inherits its pages
copy-on-write. Whatever a worker imports or builds on its first request instead is paid once per
worker, in pages nobody shares. Two such things are large, and both are only needed on one setup:

- psycopg 3, which the PostgreSQL COPY exports import on first use (SQLite never needs it);
- with ``STORAGE_BACKEND=s3``, the storage's boto3 client: building it loads botocore's S3 service
  model and endpoint rules, the bulk of the first S3 upload's memory. The client is built in the
  master before any socket exists (no pooled connection can be inherited) and shared by the workers.

``gunicorn.conf.py``'s ``when_ready`` calls :func:`prepare_for_fork` just before ``gc.freeze()``, so
these objects are frozen with the rest of the preloaded heap. Without preload nothing calls it: each
worker imports them when it first needs them, as before.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.uploads.storage import get_storage


def uses_postgresql(app: Flask) -> bool:
    return str(app.config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql")  # config.py rewrote postgres://


def prepare_for_fork(app: Any) -> list[str]:
    """Import and build, in the master, what the workers would otherwise each load; return what was done.

    ``app`` is whatever gunicorn serves: anything but a Flask app (a benchmark's bare WSGI function) is
    left alone.
    """
    if not isinstance(app, Flask):
        return []
    prepared = []
    if uses_postgresql(app):
        import psycopg  # noqa: F401  (the COPY exports: app.exports.pg_csv)
        from psycopg import pq  # noqa: F401  (they drive libpq through it)

        prepared.append("psycopg")
    if app.config.get("STORAGE_BACKEND") == "s3":
        get_storage(app)
        prepared.append("S3 client (botocore)")
    return prepared
