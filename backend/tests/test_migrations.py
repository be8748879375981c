"""The committed Alembic migrations build the same schema as the models, on an empty database."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app.extensions import db


def test_migrated_schema_matches_models(app):
    """``database_url`` was built by ``flask db upgrade``; autogenerate must find nothing to add."""
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_upgrade_from_empty_and_back(database_url, tmp_path):
    from app import create_app

    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = database_url.replace("nextops_test", "nextops_migration_test")
        from sqlalchemy import create_engine, text

        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS nextops_migration_test CASCADE"))
            conn.execute(text("CREATE SCHEMA nextops_migration_test"))
        admin.dispose()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"clients", "providers", "ots", "invoices", "stored_files", "api_tokens"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()
