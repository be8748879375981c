"""The committed Alembic migrations build the same schema as the models, on an empty database."""

import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.models import autogenerate_filter


def test_migrated_schema_matches_models(app):
    """``database_url`` was built by ``flask db upgrade``; autogenerate must find nothing to add."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": autogenerate_filter(conn.dialect.name)})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def _fresh_postgres_schema(database_url: str, schema: str, create: bool) -> str:
    engine = create_engine(make_url(database_url).difference_update_query(["options"]), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        if create:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)


def test_upgrade_from_empty_and_back(database_url, tmp_path):
    postgres = not database_url.startswith("sqlite")
    schema = f"nextops_migration_{os.getpid()}"
    url = _fresh_postgres_schema(database_url, schema, True) if postgres else f"sqlite:///{tmp_path / 'fresh.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"clients", "providers", "ots", "invoices", "stored_files", "api_tokens"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()
    if postgres:
        _fresh_postgres_schema(database_url, schema, False)
