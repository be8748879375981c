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
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, Integer, Select, String, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from app.errors import BadParameter
from app.exports.columns import INVOICE_COLUMNS, OT_COLUMNS, Chunk, Column, in_language
from app.filters import Args, Condition, invoice_conditions, ot_conditions
from app.models import (
    ASSIGNMENT_METHOD_LABELS,
    BILLING_STATUS_LABELS,
    OT_PROVISION_STATUS_LABELS,
    OT_STATUS_LABELS,
    PROVIDER_TYPE_LABELS,
    PROVISION_STATUS_LABELS,
    Client,
    Invoice,
    Ot,
    Provider,
)


@dataclass(frozen=True)
class ExportDefinition:
    """Everything that differs between the invoice and the OT export, and one request's choices.

    ``columns`` is what the file holds, in order: all of them, or those ``?columns=`` picked
    (:meth:`with_columns`); the SELECT computes only those. ``zone`` is the IANA zone the
    timestamps (stored in UTC) are written in.
    """

    name: str  # URL segment and file-name prefix
    title: str  # worksheet name
    columns: tuple[Column, ...]
    model: Any  # the resource table the filters apply to (counted for the row limits)
    conditions: Callable[[Args, Iterable[str]], list[Condition]]
    build: Callable[[Sequence[Column], list[Condition], str], Select[Any]]
    lang: str = "es"
    zone: str = "UTC"

    def localised(self, lang: str, zone: str) -> ExportDefinition:
        """The same export with headings and words (states, yes/no) in ``lang``, timestamps in ``zone``."""
        return replace(self, columns=in_language(self.columns, lang), lang=lang, zone=zone)

    def with_columns(self, keys: Sequence[str]) -> ExportDefinition:
        """Only the columns named by ``keys``, in that order; an unknown or repeated key is a 400 naming it."""
        by_key = {column.key: column for column in self.columns}
        for index, key in enumerate(keys):
            if key not in by_key:
                raise BadParameter("columns", f"unknown column {key!r}; expected some of {', '.join(by_key)}")
            if key in keys[:index]:
                raise BadParameter("columns", f"column {key!r} given more than once")
        if not keys:
            raise BadParameter("columns", "name at least one column")
        return replace(self, columns=tuple(by_key[key] for key in keys))

    @cached_property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def select(self, conditions: list[Condition]) -> Select[Any]:
        return self.build(self.columns, conditions, self.lang)

    def count(self, conditions: list[Condition]) -> Select[Any]:
        """``COUNT(*)`` of the rows the export would write, without its joins."""
        return select(func.count()).select_from(self.model).where(*conditions)


def _labelled(columns: Sequence[Column], expressions: Mapping[str, Any]) -> list[ColumnElement[Any]]:
    """The SELECT list in column order, each expression labelled with its column key."""
    return [expressions[column.key].label(column.key) for column in columns]


def _words(column: Any, labels: Mapping[str, str], lang: str) -> Any:
    """A code column as the team's word for it in Spanish; the code itself in English."""
    return case(labels, value=column, else_=column) if lang == "es" else column


def _yes_no(column: Any, lang: str) -> Any:
    yes, no = YES_NO[lang]
    return case((column.is_(None), None), (column, yes), else_=no)


class day_month_year(FunctionElement):
    """A date as ``DD/MM/YYYY`` text, as the team writes it (no portable SQL function does this)."""

    type = String()
    inherit_cache = True


@compiles(day_month_year, "postgresql")
def _day_month_year_pg(element: day_month_year, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'DD/MM/YYYY')"


@compiles(day_month_year)
def _day_month_year_default(element: day_month_year, compiler: Any, **kw: Any) -> str:
    return f"strftime('%d/%m/%Y', {compiler.process(element.clauses, **kw)})"


class json_list_length(FunctionElement):
    """How many items a JSON list column holds; 0 for a JSON ``null`` (PostgreSQL's own function raises)."""

    type = Integer()
    inherit_cache = True


@compiles(json_list_length, "postgresql")
def _json_list_length_pg(element: json_list_length, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"CASE WHEN json_typeof({value}) = 'array' THEN json_array_length({value}) ELSE 0 END"


@compiles(json_list_length)
def _json_list_length_default(element: json_list_length, compiler: Any, **kw: Any) -> str:
    return f"json_array_length({compiler.process(element.clauses, **kw)})"


def _type_or_date(kind: Any, day: Any) -> Any:
    """EXPRESS RELEASE / CONTRA ENTREGA in one cell: the type (TELEX) when known, else the date."""
    return func.coalesce(kind, day_month_year(day))


def invoice_select(columns: Sequence[Column], conditions: list[Condition], lang: str) -> Select[Any]:
    """Invoices with their OT, client, carrier and provider columns, newest first.

    Only ``columns`` are selected. The joins stay (a filter may need them); PostgreSQL drops a LEFT
    JOIN on a unique key whose columns nothing reads, so a narrow export does not pay for them.
    """
    carrier = aliased(Provider, name="carrier")
    expressions = {
        "id": Invoice.id,
        "invoice_number": Invoice.invoice_number,
        "ot_number": Ot.ot_number,
        "operativo": Ot.operativo,
        "client": Client.name,
        "master_bl": Ot.master_bl,
        "house_bls": Ot.house_bls,
        "containers": Ot.containers,
        "carrier": carrier.name,
        "vessel": Ot.vessel,
        "provider": Provider.name,
        "provider_nit": Invoice.provider_nit,
        "provider_type": _words(Provider.type, PROVIDER_TYPE_LABELS, lang),
        "cost_type": Invoice.cost_type,
        "amount": Invoice.amount,
        "applicable_amount": Invoice.applicable_amount,
        "issue_date": Invoice.issue_date,
        "due_date": Invoice.due_date,
        "provision_date": Invoice.provision_date,
        "billing_date": Invoice.billing_date,
        "provision_status": _words(Invoice.provision_status, PROVISION_STATUS_LABELS, lang),
        "billing_status": _words(Invoice.billing_status, BILLING_STATUS_LABELS, lang),
        "assignment_method": _words(Invoice.assignment_method, ASSIGNMENT_METHOD_LABELS, lang),
        "match_confidence": Invoice.match_confidence,
        "needs_review": _yes_no(Invoice.needs_review, lang),
        "notes": Invoice.notes,
        "created_at": Invoice.created_at,
    }
    return (
        select(*_labelled(columns, expressions))
        .select_from(Invoice)
        .join(Provider, Invoice.provider_id == Provider.id)
        .outerjoin(Ot, Invoice.ot_id == Ot.id)
        .outerjoin(Client, Ot.client_id == Client.id)
        .outerjoin(carrier, Ot.carrier_id == carrier.id)
        .where(*conditions)
        .order_by(Invoice.id.desc())
    )


def ot_select(columns: Sequence[Column], conditions: list[Condition], lang: str) -> Select[Any]:
    """OTs as the team's sheet has them (only ``columns``), with client and carrier names, newest first."""
    carrier = aliased(Provider, name="carrier")
    expressions = {
        "operativo": Ot.operativo,
        "ot_number": Ot.ot_number,
        "client": Client.name,
        "house_bls": Ot.house_bls,
        "master_bl": Ot.master_bl,
        "containers": Ot.containers,
        "container_count": json_list_length(Ot.containers),
        "carrier": carrier.name,
        "vessel": Ot.vessel,
        "status": _words(Ot.status, OT_STATUS_LABELS, lang),
        "shipment_type": Ot.shipment_type,
        "origin_port": Ot.origin_port,
        "destination_port": Ot.destination_port,
        "etd": Ot.etd,
        "eta": Ot.eta,
        "arrival_date": Ot.arrival_date,
        "provision_date": Ot.provision_date,
        "billing_date": Ot.billing_date,
        "provision_status": _words(Ot.provision_status, OT_PROVISION_STATUS_LABELS, lang),
        "billing_status": _words(Ot.billing_status, BILLING_STATUS_LABELS, lang),
        "express_release": _type_or_date(Ot.express_release_type, Ot.express_release_date),
        "cash_on_delivery": _type_or_date(Ot.cash_on_delivery_type, Ot.cash_on_delivery_date),
        "billing_request_date": Ot.billing_request_date,
        "closing_sent_date": Ot.closing_sent_date,
        "created_at": Ot.created_at,
        "updated_at": Ot.updated_at,
        "comments": Ot.comments,
    }
    return (
        select(*_labelled(columns, expressions))
        .select_from(Ot)
        .join(Client, Ot.client_id == Client.id)
        .outerjoin(carrier, Ot.carrier_id == carrier.id)
        .where(*conditions)
        .order_by(Ot.id.desc())
    )


EXPORTS: dict[str, ExportDefinition] = {
    "invoices": ExportDefinition("invoices", "Facturas", INVOICE_COLUMNS, Invoice, invoice_conditions, invoice_select),
    "ots": ExportDefinition("ots", "OTs", OT_COLUMNS, Ot, ot_conditions, ot_select),
}
YES_NO = {"es": ("Sí", "No"), "en": ("Yes", "No")}


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
