"""Query-string filters for invoices and OTs, turned into SQL conditions.

One declarative table per resource maps each parameter to a parser and a condition. The list
endpoints and the exports both call :func:`invoice_conditions` / :func:`ot_conditions`, so an export
always contains exactly the rows the list shows for the same query string.

Conditions on related tables use EXISTS (``has()``) instead of joins, so they can be added to any
statement that selects from the resource table, whatever else it joins.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, Select, String, cast, false, or_, select, union
from werkzeug.datastructures import MultiDict

from app.catalogs import cost_type_codes
from app.errors import BadParameter
from app.extensions import db
from app.ids import parse_id
from app.models import (
    ASSIGNMENT_METHODS,
    BILLING_STATUSES,
    OPERATION_TYPES,
    OT_PROVISION_STATUSES,
    OT_STATUSES,
    PAYMENT_STATUSES,
    PROVISION_STATUSES,
    Client,
    Invoice,
    Ot,
    Provider,
)
from app.shipping_codes import CONTAINER, dedupe, normalise_ot_number, split_containers
from values import parse_bool

Condition = ColumnElement[bool]
Args = MultiDict[str, str] | Mapping[str, str]
MAX_TEXT = 200


@dataclass(frozen=True)
class Param:
    """One filter parameter: how to parse its raw value and which SQL condition it becomes."""

    name: str
    parse: Callable[[str, str], Any]
    condition: Callable[[Any], Condition]


def _date(name: str, raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(name, f"expected a date as YYYY-MM-DD, got {raw!r}") from None


def _int(name: str, raw: str) -> int:
    return parse_id(name, raw)


def _decimal(name: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BadParameter(name, f"expected a number, got {raw!r}") from None
    if not value.is_finite():
        raise BadParameter(name, f"expected a finite number, got {raw!r}")
    return value


def parse_flag(name: str, raw: str) -> bool:
    """A boolean query parameter, in the same words as the boolean environment variables."""
    try:
        return parse_bool(raw)
    except ValueError as exc:
        raise BadParameter(name, str(exc)) from None


def _text(name: str, raw: str) -> str:
    value = raw.strip()
    if not value:
        raise BadParameter(name, "must not be empty")
    if any(ord(char) < 32 for char in value):
        # PostgreSQL rejects NUL in text outright; no filter value legitimately holds control characters.
        raise BadParameter(name, "must not contain control characters")
    if len(value) > MAX_TEXT:
        raise BadParameter(name, f"at most {MAX_TEXT} characters")
    return value


def _like(raw: str) -> str:
    """Escape LIKE wildcards so free text matches literally."""
    escaped = raw.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _choices(allowed: Sequence[str] | Callable[[], Sequence[str]]) -> Callable[[str, str], list[str]]:
    """A comma-separated multi-value parameter; ``allowed`` may be a loader for a catalog kept in the database."""

    def parse(name: str, raw: str) -> list[str]:
        choices = allowed() if callable(allowed) else allowed
        values = [part.strip() for part in raw.split(",") if part.strip()]
        bad = [value for value in values if value not in choices]
        if bad or not values:
            raise BadParameter(name, f"expected one or more of {', '.join(choices)}, got {raw!r}")
        return values

    return parse


def _day_end(value: dt.date) -> dt.datetime:
    return dt.datetime.combine(value + dt.timedelta(days=1), dt.time.min)


def _date_range(name: str, column: Any, timestamp: bool = False) -> list[Param]:
    """``<name>_from`` / ``<name>_to`` inclusive bounds; on timestamps ``_to`` covers the whole day."""
    upper: Callable[[Any], Condition] = (lambda v: column < _day_end(v)) if timestamp else (lambda v: column <= v)
    return [
        Param(f"{name}_from", _date, lambda v: column >= v),
        Param(f"{name}_to", _date, upper),
    ]


RELATED_IDS_MAX = 2000


def _related(column: Any, ids: Select[Any] | CompoundSelect, many: Condition) -> Condition | None:
    """``column IN <ids of the related rows>``, with the ids looked up first when there are few of them.

    The search's OR is only fast on PostgreSQL when the planner can tell how many invoices match it:
    a rare term is then answered by ORing bitmap index scans (trigram and ``(column, id)`` indexes),
    a common one by reading the id index backwards until a page is full. An IN-subquery (or EXISTS)
    hides that count until execution and the planner guessed "common", reading all 1M rows for a
    term that matches none. So the related table (providers, OTs matching by trigram, a client's
    OTs) is searched first and its ids go into the statement as constants. Above ``RELATED_IDS_MAX``
    ids the term is common and ``many`` (an EXISTS) is used: PostgreSQL hashes it inside the OR and
    walks the id index until a page is full, the slowest kind of search (a per-row probe instead, a
    correlated scalar subquery, was faster for some common terms and much slower for others). The
    limit is set so that a term matching a few percent of the OTs (q=900 at 1M invoices) is still
    inlined: the EXISTS walk costs more than the longer IN list (``make bench-search``).
    None: no related row matches, the arm can be left out.
    """
    found = db.session.scalars(ids.limit(RELATED_IDS_MAX + 1)).all()
    if len(found) > RELATED_IDS_MAX:
        return many
    return column.in_(found) if found else None


def _first_ids(id_column: Any, condition: Condition) -> Any:
    """The ids matching ``condition``, at most one more than :func:`_related` inlines: a common term stops early."""
    return select(id_column.label("id")).where(condition).limit(RELATED_IDS_MAX + 1).subquery()


def _or_nothing(condition: Condition | None) -> Condition:
    return false() if condition is None else condition


def _invoice_text(raw: str) -> Condition:
    """Substring search over the invoice's own text columns, its provider's name and its OT's number and MBL.

    Each arm is one ILIKE on one column (pg_trgm indexes them all on PostgreSQL) or an id list
    from the related tables (see :func:`_related`).
    """
    pattern = _like(raw)
    ot_columns = (Ot.ot_number.ilike(pattern, escape="\\"), Ot.master_bl.ilike(pattern, escape="\\"))
    ot_match = or_(*ot_columns)
    # The OTs' ids as one SELECT per column: planned as one OR, PostgreSQL read all the OTs for a term
    # matching ~1% of them (q=900) instead of ORing their two trigram indexes.
    ot_ids = union(*(select(arm.c.id) for arm in (_first_ids(Ot.id, column) for column in ot_columns)))
    provider_match = Provider.name.ilike(pattern, escape="\\")
    arms = [
        Invoice.invoice_number.ilike(pattern, escape="\\"),
        Invoice.provider_nit.ilike(pattern, escape="\\"),
        Invoice.notes.ilike(pattern, escape="\\"),
        _related(
            Invoice.provider_id,
            select(Provider.id).where(provider_match),
            Invoice.provider.has(provider_match),
        ),
        _related(Invoice.ot_id, ot_ids, Invoice.ot.has(ot_match)),
    ]
    return or_(*(arm for arm in arms if arm is not None))


def _ot_text(raw: str) -> Condition:
    """Substring search over the OT's number, MBL, vessel, containers and its client's name (see :func:`_related`)."""
    pattern = _like(raw)
    client_match = Client.name.ilike(pattern, escape="\\")
    arms = [
        Ot.ot_number.ilike(pattern, escape="\\"),
        Ot.master_bl.ilike(pattern, escape="\\"),
        Ot.vessel.ilike(pattern, escape="\\"),
        cast(Ot.containers, String).ilike(pattern, escape="\\"),
        cast(Ot.house_bls, String).ilike(pattern, escape="\\"),
        Ot.operativo.ilike(pattern, escape="\\"),
        _related(Ot.client_id, select(Client.id).where(client_match), Ot.client.has(client_match)),
    ]
    return or_(*(arm for arm in arms if arm is not None))


INVOICE_PARAMS: tuple[Param, ...] = (
    Param("invoice_number", _text, lambda v: Invoice.invoice_number == v),
    Param("ot_id", _int, lambda v: Invoice.ot_id == v),
    # By the OTs' ids (see _related): a client's OTs are a few hundred rows; as EXISTS the planner walked
    # 1M invoices probing each (160 ms at 1M for one client).
    Param(
        "ot_number",
        _text,
        lambda v: _or_nothing(
            _related(Invoice.ot_id, select(Ot.id).where(Ot.ot_number == v), Invoice.ot.has(Ot.ot_number == v))
        ),
    ),
    Param(
        "client_id",
        _int,
        lambda v: _or_nothing(
            _related(Invoice.ot_id, select(Ot.id).where(Ot.client_id == v), Invoice.ot.has(Ot.client_id == v))
        ),
    ),
    Param("provider_id", _int, lambda v: Invoice.provider_id == v),
    Param("provider_nit", _text, lambda v: Invoice.provider_nit == v),
    Param(
        "operativo",
        _text,
        lambda v: _or_nothing(
            _related(Invoice.ot_id, select(Ot.id).where(Ot.operativo == v), Invoice.ot.has(Ot.operativo == v))
        ),
    ),
    Param("cost_type", _choices(cost_type_codes), lambda v: Invoice.cost_type.in_(v)),
    Param("provision_status", _choices(PROVISION_STATUSES), lambda v: Invoice.provision_status.in_(v)),
    Param("billing_status", _choices(BILLING_STATUSES), lambda v: Invoice.billing_status.in_(v)),
    Param("payment_status", _choices(PAYMENT_STATUSES), lambda v: Invoice.payment_status.in_(v)),
    Param("assignment_method", _choices(ASSIGNMENT_METHODS), lambda v: Invoice.assignment_method.in_(v)),
    Param("needs_review", parse_flag, lambda v: Invoice.needs_review.is_(v)),
    Param("amount_min", _decimal, lambda v: Invoice.amount >= v),
    Param("amount_max", _decimal, lambda v: Invoice.amount <= v),
    *_date_range("issue_date", Invoice.issue_date),
    *_date_range("due_date", Invoice.due_date),
    *_date_range("provision_date", Invoice.provision_date),
    *_date_range("billing_date", Invoice.billing_date),
    *_date_range("created", Invoice.created_at, timestamp=True),
    Param("q", _text, _invoice_text),
)

REFS_MAX = 500
REFS_MAX_CHARS = 20_000
_REF_SEPARATORS = re.compile(r"[\s,;]+")


def _refs(name: str, raw: str) -> list[str]:
    """A pasted list of OT numbers, MBLs or containers (one per line, or separated by commas or spaces)."""
    if len(raw) > REFS_MAX_CHARS:
        raise BadParameter(name, f"at most {REFS_MAX_CHARS} characters")
    value = _REF_SEPARATORS.sub(" ", raw).strip()  # newlines and tabs are separators, not control characters
    if not value:
        raise BadParameter(name, "must not be empty")
    if any(ord(char) < 32 for char in value):
        raise BadParameter(name, "must not contain control characters")
    tokens = dedupe(token for token in _REF_SEPARATORS.split(value.upper()) if token)
    containers = split_containers(value)[0]  # "MSCU 123456-7" is one container however it was split
    if len(tokens) + len(containers) > REFS_MAX:
        raise BadParameter(name, f"at most {REFS_MAX} numbers")
    return dedupe([*containers, *tokens])


def _ot_refs(refs: list[str]) -> Condition:
    """OTs whose number, MBL or one of whose containers is in the pasted list (as the intake's matching reads them)."""
    numbers = dedupe(normalise_ot_number(ref) for ref in refs)
    containers = [ref for ref in refs if CONTAINER.fullmatch(ref)]
    text = cast(Ot.containers, String)
    return or_(
        Ot.ot_number.in_(numbers),
        Ot.master_bl.in_(refs),
        *(text.like(f'%"{code}"%') for code in containers),
    )


OT_PARAMS: tuple[Param, ...] = (
    Param("ot_number", _text, lambda v: Ot.ot_number == v),
    Param("client_id", _int, lambda v: Ot.client_id == v),
    Param("carrier_id", _int, lambda v: Ot.carrier_id == v),
    Param("master_bl", _text, lambda v: Ot.master_bl == v),
    Param("operativo", _text, lambda v: Ot.operativo == v),
    Param("operation_type", _choices(OPERATION_TYPES), lambda v: Ot.operation_type.in_(v)),
    Param("status", _choices(OT_STATUSES), lambda v: Ot.status.in_(v)),
    Param("provision_status", _choices(OT_PROVISION_STATUSES), lambda v: Ot.provision_status.in_(v)),
    Param("billing_status", _choices(BILLING_STATUSES), lambda v: Ot.billing_status.in_(v)),
    *_date_range("eta", Ot.eta),
    *_date_range("created", Ot.created_at, timestamp=True),
    Param("q", _text, _ot_text),
    Param("refs", _refs, _ot_refs),
)

PAGINATION_PARAMS = frozenset({"limit", "cursor"})


def _values(args: Args, name: str) -> list[str]:
    if isinstance(args, MultiDict):
        return args.getlist(name)
    return [args[name]] if name in args else []


def check_known(args: Args, known: Iterable[str]) -> None:
    """Reject unknown parameters: a misspelt one must not be silently ignored (returning or exporting everything)."""
    known = set(known)
    for name in args:
        if name not in known:
            raise BadParameter(name, f"unknown parameter; expected one of {', '.join(sorted(known))}")


def _check_ranges(parsed: dict[str, Any]) -> None:
    for name, low in parsed.items():
        if not name.endswith(("_from", "_min")):
            continue
        high_name = name[: -len("_from")] + "_to" if name.endswith("_from") else name[: -len("_min")] + "_max"
        high = parsed.get(high_name)
        if high is not None and low > high:
            raise BadParameter(high_name, f"must not be before {name}")


def conditions(args: Args, params: Sequence[Param], extra: Iterable[str] = ()) -> list[Condition]:
    """Validate ``args`` against ``params`` and return the SQL conditions, in a stable order.

    ``extra`` names parameters the caller handles itself (pagination, export format). A parameter
    given twice is an error unless it is a multi-value choice, whose values are merged.
    """
    check_known(args, {param.name for param in params} | set(extra))
    parsed: dict[str, Any] = {}
    for param in params:
        raws = _values(args, param.name)
        if not raws:
            continue
        values = [param.parse(param.name, raw) for raw in raws]
        if len(values) > 1 and not all(isinstance(value, list) for value in values):
            raise BadParameter(param.name, "given more than once")
        parsed[param.name] = [item for value in values for item in value] if len(values) > 1 else values[0]
    _check_ranges(parsed)
    by_name = {param.name: param for param in params}
    return [by_name[name].condition(value) for name, value in parsed.items()]


def invoice_conditions(args: Args, extra: Iterable[str] = ()) -> list[Condition]:
    """The WHERE clauses for an invoice query string (used by the list and the export)."""
    return conditions(args, INVOICE_PARAMS, extra)


def ot_conditions(args: Args, extra: Iterable[str] = ()) -> list[Condition]:
    """The WHERE clauses for an OT query string (used by the list and the export)."""
    return conditions(args, OT_PARAMS, extra)
