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


def test_team_workflow_migration_keeps_existing_rows_in_the_teams_words(database_url, tmp_path):
    """Rows written under the first schema survive the upgrade, their codes mapped to the team's."""
    postgres = not database_url.startswith("sqlite")
    schema = f"nextops_keep_{os.getpid()}"
    url = _fresh_postgres_schema(database_url, schema, True) if postgres else f"sqlite:///{tmp_path / 'keep.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="4990fe1942fe")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO clients (id, name, created_at) VALUES (1, 'Café Izalco', '2026-01-01')"))
            conn.execute(
                text(
                    "INSERT INTO providers (id, name, nit, type, created_at) VALUES "
                    "(1, 'Maersk', '0614-010190-101-1', 'carrier', '2026-01-01'), "
                    "(2, 'Roldán', '0614-010190-102-2', 'customs_agent', '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO ots (id, ot_number, client_id, carrier_id, containers, status, created_at, updated_at)"
                    " VALUES (1, 'OT-1', 1, 1, '[]', 'in_transit', '2026-01-01', '2026-01-01'),"
                    " (2, 'OT-2', 1, 1, '[]', 'cancelled', '2026-01-01', '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO invoices (id, invoice_number, ot_id, provider_id, cost_type, amount, issue_date,"
                    " provision_status, billing_status, assignment_method, needs_review, created_at) VALUES"
                    " (1, 'F-1', 1, 1, 'ocean_freight', 100.50, '2026-01-02', 'reversed', 'paid', 'manual',"
                    " false, '2026-01-02'),"
                    " (2, 'F-2', 2, 2, 'customs', 20, '2026-01-03', 'pending', 'billed', 'ot_number',"
                    " false, '2026-01-03')"
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            ots = conn.execute(text("SELECT ot_number, status, operation_type FROM ots ORDER BY id")).all()
            providers = conn.execute(text("SELECT type, credit_days FROM providers ORDER BY id")).all()
            invoices = conn.execute(
                text(
                    "SELECT cost_type, provision_status, billing_status, payment_status, amount_paid,"
                    " applicable_amount FROM invoices ORDER BY id"
                )
            ).all()
        assert [tuple(r) for r in ots] == [("OT-1", "transito", "importacion"), ("OT-2", "cerrada", "importacion")]
        assert [tuple(r) for r in providers] == [("naviera", 0), ("agencia_aduanal", 0)]
        assert [(r[0], r[1], r[2], r[3]) for r in invoices] == [
            ("FLETE", "voided", "billed", "paid"),
            ("ADUANA", "pending", "billed", "pending"),
        ]
        assert [float(r[4]) for r in invoices] == [100.5, 0.0]
        assert [float(r[5]) for r in invoices] == [100.5, 20.0]
        db.engine.dispose()
    if postgres:
        _fresh_postgres_schema(database_url, schema, False)
