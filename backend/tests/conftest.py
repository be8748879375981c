"""Fixtures in the flaskr style: ``app``, ``client``, ``runner``, plus tokens.

Every test that uses ``app`` runs once on SQLite and, when ``TEST_DATABASE_URL`` is set, once more on
that PostgreSQL server. PostgreSQL tests live in their own schema (``nextops_test_<pid>``), created for
the session and dropped after it, so the database named by the URL is otherwise untouched. Both
databases are built by the real Alembic migrations, not ``create_all()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.auth import create_token
from app.catalogs import ensure_default_cost_types
from app.extensions import db
from tests.helpers.browser import Site, launch_chromium, missing_browser, run_site

# One schema per test run, so concurrent runs (several developers, CI) never drop each other's tables.
PG_SCHEMA = f"nextops_test_{os.getpid()}"
TEST_SECRET_KEY = "test-secret-key-not-for-production"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: runs against TEST_DATABASE_URL")


def _admin_engine() -> Engine:
    base = make_url(os.environ["TEST_DATABASE_URL"].replace("postgres://", "postgresql://", 1))
    return create_engine(base, isolation_level="AUTOCOMMIT")


def _run_admin(statement: str) -> str:
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(statement))
    url = engine.url.update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"})
    engine.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for the whole session, one per backend."""
    postgres = request.param == "postgresql"
    if postgres:
        if not os.environ.get("TEST_DATABASE_URL"):
            pytest.skip("TEST_DATABASE_URL not set")
        url = _run_admin(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE; CREATE SCHEMA {PG_SCHEMA}")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'nextops-test.db'}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": TEST_SECRET_KEY})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    if postgres:
        _run_admin(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")


def _empty_tables() -> None:
    """Back to a freshly migrated database: no rows but the reference data the migrations insert."""
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()
    ensure_default_cost_types()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "STORAGE_DIR": str(tmp_path / "storage"),
            "SECRET_KEY": TEST_SECRET_KEY,
        }
    )
    with app.app_context():
        _empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def admin_token(app: Flask) -> str:
    with app.app_context():
        return create_token("test-admin", "admin")


@pytest.fixture
def user_token(app: Flask) -> str:
    with app.app_context():
        return create_token("test-user", "jefe_operaciones")


@pytest.fixture
def auth(admin_token: str) -> dict[str, str]:
    """Headers for an admin request."""
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture
def seeded(app: Flask) -> Flask:
    """The app with a small deterministic dataset (the same generator as ``flask seed``)."""
    from app.cli.seed import seed

    with app.app_context():
        seed(ots=30, invoices=300, seed_value=7)
    return app


@pytest.fixture
def server_env(app: Flask, database_url: str) -> dict[str, str]:
    """Environment for a real gunicorn serving the same database and storage as ``app``."""
    return {
        "DATABASE_URL": database_url,
        "STORAGE_DIR": app.config["STORAGE_DIR"],
        "LOG_LEVEL": "INFO",
        "GUNICORN_WORKERS": "2",
        "SECRET_KEY": TEST_SECRET_KEY,
    }


# Real-browser tests (marker ``browser``): one seeded gunicorn and one Chromium for the whole session;
# each test gets a fresh browser context (its own cookies), so tests never share a signed-in session.


def _require_browser() -> None:
    reason = missing_browser()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _require_browser()
    with run_site(tmp_path_factory.mktemp("site")) as running:
        yield running


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    _require_browser()
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def page(chromium: object, site: Site, tmp_path: Path) -> Iterator[object]:
    """A headless page at 1280x900 in a fresh context, downloads accepted, Spanish as the browser's language."""
    context = chromium.new_context(  # type: ignore[attr-defined]
        base_url=site.url(), accept_downloads=True, locale="es-SV", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    yield page
    context.close()
