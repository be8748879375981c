"""What a preloaded gunicorn master imports and builds before the first fork, so the workers share it.

With ``GUNICORN_PRELOAD`` the app is imported once in the master and every worker inherits its pages
copy-on-write. Whatever a worker imports or builds on its first request instead is paid once per
worker, in pages nobody shares. What the master prepares:

- psycopg 3, which the PostgreSQL COPY exports import on first use (SQLite never needs it);
- with ``STORAGE_BACKEND=s3``, the storage's boto3 client: building it loads botocore's S3 service
  model and endpoint rules, the bulk of the first S3 upload's memory. The client is built in the
  master before any socket exists (no pooled connection can be inherited) and shared by the workers;
- the web pages' first-use costs (``make bench-monitoring``'s web row): Jinja compiles a template to
  Python code the first time a process renders it, Flask-Babel loads a language's ``.mo`` catalog the
  first time a process translates into it, and the Argon2 hash checked for unknown accounts is
  computed on the first such sign-in. Each was done once per worker.

``gunicorn.conf.py``'s ``when_ready`` calls :func:`prepare_for_fork` just before ``gc.freeze()``, so
these objects are frozen with the rest of the preloaded heap. Without preload nothing calls it: each
worker loads them when it first needs them, as before. Nothing here opens a database connection.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.uploads.storage import get_storage


def uses_postgresql(app: Flask) -> bool:
    return str(app.config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql")  # config.py rewrote postgres://


def compile_templates(app: Flask) -> int:
    """Compile every template the app can render into its Jinja environment's cache; return how many.

    Rendering looks a template up in ``app.jinja_env.cache`` (an LRU keyed by name, 400 entries by
    default) and compiles it on a miss: source read, parsed, turned into Python code and
    ``compile()``-d, in every worker that renders it. Compiled here, the template objects and their code
    are inherited instead. With the cache disabled (``cache_size=0``) there is nothing to fill; a cache
    smaller than the templates would keep only the last ones compiled (``test_preload.py`` fails then).
    """
    env = app.jinja_env
    if env.cache is None:
        return 0
    names = env.list_templates()
    for name in names:
        env.get_template(name)
    return len(names)


def load_translations(app: Flask) -> list[str]:
    """Load Flask-Babel's translations for every page language into its domain cache; return the languages.

    Flask-Babel reads and merges a language's ``messages.mo`` the first time a process translates into
    it and caches the result on the app's domain, which the workers inherit. Only an app context is
    needed (Flask-Babel keeps its per-request state on ``g``); ``force_locale`` bypasses the locale
    selector, which reads the request.
    """
    if "babel" not in app.extensions:
        return []
    from flask_babel import force_locale, get_translations

    from app.i18n import LANGUAGES

    with app.app_context():
        for language in LANGUAGES:
            with force_locale(language):
                get_translations()
    return list(LANGUAGES)


def prepare_libraries(app: Flask) -> list[str]:
    """The libraries only one setup needs: psycopg 3 on PostgreSQL, the S3 client on S3 storage."""
    prepared = []
    if uses_postgresql(app):
        import psycopg  # noqa: F401  (the COPY exports: app.exports.pg_csv)
        from psycopg import pq  # noqa: F401  (they drive libpq through it)

        prepared.append("psycopg")
    if app.config.get("STORAGE_BACKEND") == "s3":
        get_storage(app)
        prepared.append("S3 client (botocore)")
    return prepared


def prepare_pages(app: Flask) -> list[str]:
    """The web pages' first-use costs: compiled templates, the catalogs, the unknown-account hash."""
    from app.accounts.passwords import dummy_hash

    prepared = []
    templates = compile_templates(app)
    if templates:
        prepared.append(f"{templates} templates (Jinja)")
    languages = load_translations(app)
    if languages:
        prepared.append(f"catalogs {', '.join(languages)} (Flask-Babel)")
    dummy_hash()  # hashes, then trims its Argon2 block like every other hash
    prepared.append("unknown-account hash (Argon2)")
    return prepared


def prepare_for_fork(app: Any) -> list[str]:
    """Import and build, in the master, what the workers would otherwise each load; return what was done.

    ``app`` is whatever gunicorn serves: anything but a Flask app (a benchmark's bare WSGI function) is
    left alone.
    """
    if not isinstance(app, Flask):
        return []
    return [*prepare_libraries(app), *prepare_pages(app)]
