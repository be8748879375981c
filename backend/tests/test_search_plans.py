"""PostgreSQL answers every list filter and ``q=`` from an index, never by reading all of ``invoices``.

The data set is big enough (20,000 invoices, ANALYZEd) that the planner's own cost model prefers the
indexes when they can serve the query: no ``enable_seqscan=off``, so a plan that passes here is one
PostgreSQL picks by itself. For each filter the statement the list endpoint really executes is
captured and EXPLAINed (ANALYZE, so the row counts are the ones read): the test fails on a
``Seq Scan on invoices``, and on any scan of ``invoices`` that reads (returns or filters out) more
than half of the table, which is what a backward walk of the primary key does when its filter
matches almost nothing (``q=FV3`` read all of it before the trigram indexes). A backward walk that
stops after some thousand rows is fine: it reads ``limit / match rate`` rows, the same at 100k and
at 1M rows. Every parameter of ``INVOICE_PARAMS`` must have a case, so a new filter
cannot be added without its plan being checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select, text

from app.extensions import db
from app.filters import INVOICE_PARAMS
from app.models import Invoice, Ot

SEEDED, COPIES = 5_000, 20  # 100,000 invoices: seeded ones, then copies made in SQL (seconds, not a minute)
INVOICES = SEEDED * COPIES
OTS = 5_000
READ_AT_MOST = INVOICES // 2
COPIED_COLUMNS = (
    "ot_id, provider_id, provider_nit, cost_type, amount, issue_date, due_date, provision_date, billing_date, "
    "provision_status, billing_status, assignment_method, match_confidence, needs_review, notes, created_at, "
    "applicable_amount, amount_paid, payment_status, detected_references"
)


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _plan_nodes(child)


def _rows_read(node: dict[str, Any]) -> int:
    """Rows a scan node produced plus those its filter or recheck threw away (per loop, times loops)."""
    removed = node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
    return (node.get("Actual Rows", 0) + removed) * node.get("Actual Loops", 1)


@pytest.fixture
def large(app):
    """100,000 invoices over 5,000 OTs, analysed; skipped on SQLite (its planner is not the target).

    The seeded invoices are copied (same distribution of every column, invoice numbers suffixed) in
    ascending id order, so ids still follow creation like in a real table.
    """
    from app.cli.seed import seed

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("index plans are checked on PostgreSQL")
        seed(ots=OTS, invoices=SEEDED, seed_value=3)
        db.session.execute(
            text(
                f"INSERT INTO invoices (invoice_number, {COPIED_COLUMNS}) "
                f"SELECT invoice_number || '/' || copy, {COPIED_COLUMNS} "
                "FROM invoices, generate_series(1, :copies) AS copy ORDER BY copy, id"
            ),
            {"copies": COPIES - 1},
        )
        # Only this schema's tables: a bare ANALYZE would walk (and lock) every schema of the database.
        db.session.execute(text("ANALYZE invoices, ots, providers, clients"))
        db.session.commit()
    return app


def _cases(app) -> dict[str, list[dict[str, str]]]:
    """Query strings per filter parameter, with values taken from the seeded data (common and rare ones)."""
    with app.app_context():
        invoice = db.session.execute(select(Invoice).where(Invoice.ot_id.is_not(None)).limit(1)).scalar_one()
        ot = db.session.get(Ot, invoice.ot_id)
        values = {
            "invoice_number": [invoice.invoice_number],
            "ot_id": [str(ot.id)],
            "ot_number": [ot.ot_number],
            "client_id": [str(ot.client_id)],
            "provider_id": [str(invoice.provider_id)],
            "provider_nit": [invoice.provider_nit, "900"],
            "operativo": [ot.operativo],
            "cost_type": ["ADUANA", "DEMORA"],
            "provision_status": ["pending", "in_review"],
            "billing_status": ["billed", "pending,billed"],
            "payment_status": ["paid", "partial,paid"],
            "assignment_method": ["container", "unassigned"],
            "needs_review": ["true", "false"],
            "amount_min": ["24990"],
            "amount_max": ["60"],
            "issue_date_from": ["2026-10-25"],
            "issue_date_to": ["2025-11-05"],
            "due_date_from": ["2026-12-25"],
            "due_date_to": ["2025-11-20"],
            "provision_date_from": ["2026-11-08"],
            "provision_date_to": ["2025-11-05"],
            "billing_date_from": ["2026-12-05"],
            "billing_date_to": ["2025-11-15"],
            "created_from": ["2026-10-31"],
            "created_to": ["2025-11-03"],
            "q": ["FV3", "roldan", invoice.invoice_number[-7:], ot.ot_number, ot.master_bl[:6], "descuento", "MAEU"],
        }
    cases = {name: [{name: value} for value in found] for name, found in values.items()}
    cases["combined"] = [
        {"billing_status": "billed", "needs_review": "true"},
        {"q": "FV3", "provision_status": "pending"},
    ]
    return cases


def _explain(statement: str, parameters: Any) -> dict[str, Any]:
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
            plan = cursor.fetchone()[0]
    finally:
        raw.rollback()
        raw.close()
    return (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]


def test_every_invoice_filter_and_search_uses_an_index(large, client, auth):
    cases = _cases(large)
    assert {param.name for param in INVOICE_PARAMS} <= set(cases), "every filter needs a plan case"
    failures = []
    with large.app_context():
        executed: list[tuple[str, Any]] = []

        def capture(conn, cursor, statement, parameters, context, executemany) -> None:
            if "FROM invoices" in statement and "LIMIT" in statement:
                executed.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            for queries in cases.values():
                for query in queries:
                    executed.clear()
                    response = client.get("/api/invoices", query_string={**query, "limit": 50}, headers=auth)
                    assert response.status_code == 200, (query, response.get_json())
                    assert executed, f"no list statement captured for {query}"
                    plan = _explain(*executed[-1])
                    for node in _plan_nodes(plan):
                        if node.get("Relation Name") != "invoices":
                            continue
                        if node["Node Type"] == "Seq Scan":
                            failures.append(f"{query}: Seq Scan on invoices")
                        elif _rows_read(node) > READ_AT_MOST:
                            failures.append(f"{query}: {node['Node Type']} read {_rows_read(node)} rows of invoices")
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
    assert failures == [], "\n".join(failures)


def test_rare_search_term_is_answered_by_trigram_indexes(large, client, auth):
    """A term no invoice contains ORs the trigram bitmaps instead of walking the table (the 1M-row case)."""
    with large.app_context():
        executed: list[tuple[str, Any]] = []

        def capture(conn, cursor, statement, parameters, context, executemany) -> None:
            if "FROM invoices" in statement and "LIMIT" in statement:
                executed.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            response = client.get("/api/invoices", query_string={"q": "FV3", "limit": 50}, headers=auth)
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        assert response.status_code == 200 and response.get_json()["items"] == []
        indexes = {node.get("Index Name") for node in _plan_nodes(_explain(*executed[-1]))}
    assert {"ix_invoices_invoice_number_trgm", "ix_invoices_provider_nit_trgm", "ix_invoices_notes_trgm"} <= indexes
