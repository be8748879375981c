"""The export SELECTs and the server-side cursor that feeds the writers.

Each export is one statement: related columns (OT, client, carrier, provider) come from joins and
the OT totals from correlated subqueries, never one query per row. Rows are read through
``yield_per``: on PostgreSQL that is a named (server-side) cursor fetched ``chunk_size`` rows at a
time; a plain ``execute`` would make psycopg2 buffer the whole result before the first row.
Filters come from :mod:`app.filters`, the same parser as the list endpoints, and rows are ordered
newest first like the lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, Numeric, Select, cast, func, select
from sqlalchemy.orm import aliased

from app.exports.columns import INVOICE_COLUMNS, OT_COLUMNS, Chunk, Column
from app.filters import Args, Condition, invoice_conditions, ot_conditions
from app.models import Client, Invoice, Ot, Provider

MONEY = Numeric(16, 2)  # an OT's total: two decimals on every database, even when it has no invoices


@dataclass(frozen=True)
class ExportDefinition:
    """Everything that differs between the invoice and the OT export."""

    name: str  # URL segment and file-name prefix
    title: str  # worksheet name
    columns: tuple[Column, ...]
    model: Any  # the resource table the filters apply to (counted for the row limits)
    conditions: Callable[[Args, Iterable[str]], list[Condition]]
    select: Callable[[list[Condition]], Select[Any]]

    def count(self, conditions: list[Condition]) -> Select[Any]:
        """``COUNT(*)`` of the rows the export would write, without its joins."""
        return select(func.count()).select_from(self.model).where(*conditions)


def _labelled(columns: Sequence[Column], expressions: Mapping[str, Any]) -> list[ColumnElement[Any]]:
    """The SELECT list in column order, each expression labelled with its column key."""
    return [expressions[column.key].label(column.key) for column in columns]


def invoice_select(conditions: list[Condition]) -> Select[Any]:
    """Invoices with their OT, client, carrier and provider columns, newest first."""
    carrier = aliased(Provider, name="carrier")
    expressions = {
        "id": Invoice.id,
        "invoice_number": Invoice.invoice_number,
        "ot_number": Ot.ot_number,
        "client": Client.name,
        "master_bl": Ot.master_bl,
        "containers": Ot.containers,
        "carrier": carrier.name,
        "vessel": Ot.vessel,
        "provider": Provider.name,
        "provider_nit": Invoice.provider_nit,
        "provider_type": Provider.type,
        "cost_type": Invoice.cost_type,
        "amount": Invoice.amount,
        "issue_date": Invoice.issue_date,
        "due_date": Invoice.due_date,
        "provision_date": Invoice.provision_date,
        "billing_date": Invoice.billing_date,
        "provision_status": Invoice.provision_status,
        "billing_status": Invoice.billing_status,
        "assignment_method": Invoice.assignment_method,
        "match_confidence": Invoice.match_confidence,
        "needs_review": Invoice.needs_review,
        "notes": Invoice.notes,
        "created_at": Invoice.created_at,
    }
    return (
        select(*_labelled(INVOICE_COLUMNS, expressions))
        .select_from(Invoice)
        .join(Provider, Invoice.provider_id == Provider.id)
        .outerjoin(Ot, Invoice.ot_id == Ot.id)
        .outerjoin(Client, Ot.client_id == Client.id)
        .outerjoin(carrier, Ot.carrier_id == carrier.id)
        .where(*conditions)
        .order_by(Invoice.id.desc())
    )


def ot_select(conditions: list[Condition]) -> Select[Any]:
    """OTs with client and carrier names plus their invoice count and total, newest first.

    The totals are correlated subqueries (one index lookup per OT on ``invoices.ot_id``) rather than
    a join to a grouped subquery, so the first rows stream before every invoice has been summed.
    """
    carrier = aliased(Provider, name="carrier")
    per_ot = Invoice.ot_id == Ot.id
    expressions = {
        "id": Ot.id,
        "ot_number": Ot.ot_number,
        "client": Client.name,
        "carrier": carrier.name,
        "master_bl": Ot.master_bl,
        "containers": Ot.containers,
        "vessel": Ot.vessel,
        "eta": Ot.eta,
        "status": Ot.status,
        "invoice_count": select(func.count(Invoice.id)).where(per_ot).correlate(Ot).scalar_subquery(),
        "invoice_total": select(cast(func.coalesce(func.sum(Invoice.amount), 0), MONEY))
        .where(per_ot)
        .correlate(Ot)
        .scalar_subquery(),
        "created_at": Ot.created_at,
        "updated_at": Ot.updated_at,
    }
    return (
        select(*_labelled(OT_COLUMNS, expressions))
        .select_from(Ot)
        .join(Client, Ot.client_id == Client.id)
        .outerjoin(carrier, Ot.carrier_id == carrier.id)
        .where(*conditions)
        .order_by(Ot.id.desc())
    )


EXPORTS: dict[str, ExportDefinition] = {
    "invoices": ExportDefinition("invoices", "Invoices", INVOICE_COLUMNS, Invoice, invoice_conditions, invoice_select),
    "ots": ExportDefinition("ots", "OTs", OT_COLUMNS, Ot, ot_conditions, ot_select),
}


class RowStream:
    """A statement being read ``chunk_size`` rows at a time from its own pooled connection.

    The constructor executes the statement and fetches the first chunk, so a failing query raises
    before a response has started (and becomes a JSON error, not a truncated file). :meth:`close` is
    idempotent and must run however the export ends: it closes the cursor and returns the connection
    to the pool (rolling back the read transaction, which also drops a server-side cursor).
    """

    def __init__(self, engine: Engine, stmt: Select[Any], chunk_size: int) -> None:
        self.rows_read = 0
        self._closed = False
        self._connection = engine.connect()
        try:
            self._result = self._connection.execution_options(yield_per=chunk_size).execute(stmt)
            self._partitions: Iterator[Chunk] = self._result.partitions()
            self._first: Chunk | None = next(self._partitions, None)
        except BaseException:
            self._connection.close()
            raise

    def chunks(self) -> Iterator[Chunk]:
        """Yield the rows chunk by chunk; the connection is released as soon as the last one is read."""
        try:
            first, self._first = self._first, None
            if first:
                self.rows_read += len(first)
                yield first
            for chunk in self._partitions:
                self.rows_read += len(chunk)
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._first = None
        try:
            self._result.close()
        finally:
            self._connection.close()
