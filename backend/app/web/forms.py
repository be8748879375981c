"""Edit and create forms over the write API's functions: the same validation, the same 412 rule, history.

A form posts strings; :func:`body_from_form` turns them into the JSON body the API takes (ids and
integers as numbers, lists one per line, empty boxes as null), so :func:`app.writes.fields.validate`
judges a page's input exactly as it judges an API client's. On a 412 the person's input is shown
again with the current values beside it and the new version in the hidden field: saving again is a
conscious overwrite, and nothing typed is lost.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from app.errors import ApiError
from app.extensions import db
from app.i18n import N_
from app.writes.resources import Resource
from app.writes.routes import check_version, create_record, update_record

# How a field's text becomes its JSON value; anything not listed is text (dates are ISO strings too).
ID_FIELDS = frozenset({"client_id", "provider_id", "carrier_id", "ot_id", "category_id"})
INT_FIELDS = frozenset({"credit_days", "display_order"})
LIST_FIELDS = frozenset({"containers", "house_bls"})
MONEY_FIELDS = frozenset({"amount", "applicable_amount", "amount_paid"})
DATE_FIELDS = frozenset(
    {
        "issue_date",
        "due_date",
        "provision_date",
        "billing_date",
        "payment_date",
        "etd",
        "eta",
        "arrival_date",
        "billing_request_date",
        "invoice_reception_date",
        "express_release_date",
        "cash_on_delivery_date",
        "closing_sent_date",
    }
)
# The validation's words that pages translate (the rest are shown as the API writes them).
KNOWN_PROBLEMS = (
    N_("required"),
    N_("must not be empty"),
    N_("already taken"),
    N_("not a finanzas field"),
    N_("at most two decimals"),
)


@dataclass
class FormResult:
    """What a page shows after a submit: the saved row, or the problems with the input kept."""

    row: Any = None
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    conflict: Any = None  # the record as it is now, when someone else changed it meanwhile


THOUSANDS = re.compile(r"^\$?\d{1,3}(,\d{3})*(\.\d+)?$|^\$\d+(\.\d+)?$")
DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def iso_date(raw: str) -> str:
    """``31/12/2026`` (as the team writes dates) -> ``2026-12-31``; anything else is passed on for the parser to judge.

    An impossible day (``31/02/2026``) is passed on as written, and the shared date parser names the field.
    """
    match = DAY_MONTH_YEAR.match(raw)
    if not match:
        return raw
    day, month, year = (int(part) for part in match.groups())
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return raw


def plain_money(raw: str) -> str:
    """``$1,234.50`` (as the team writes money) -> ``1234.50``; other text is passed on for the parser to judge."""
    return raw.replace("$", "", 1).replace(",", "") if THOUSANDS.match(raw) else raw


def _value(name: str, raw: str) -> Any:
    raw = raw.strip()
    if name in DATE_FIELDS and raw:
        return iso_date(raw)
    if name in MONEY_FIELDS and raw:
        return plain_money(raw)
    if name in LIST_FIELDS:
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if not raw:
        return None
    if name in ID_FIELDS or name in INT_FIELDS:
        return int(raw) if raw.isdigit() else raw  # not digits: the parser names the field and what it wants
    return raw


def body_from_form(form: MultiDict[str, str], names: list[str]) -> dict[str, Any]:
    """The JSON body for the fields this form shows; an empty integer box is left out (its default stays)."""
    body = {}
    for name in names:
        if name not in form:
            continue
        value = _value(name, form.get(name, ""))
        if value is None and name in INT_FIELDS:
            continue
        body[name] = value
    return body


def save(resource: Resource, row: Any, form: MultiDict[str, str], names: list[str]) -> FormResult:
    """Create (``row`` None) or update ``row`` from ``form``; API errors become field errors on the page."""
    body = body_from_form(form, names)
    try:
        if row is None:
            return FormResult(row=create_record(resource, body))
        check_version(row, form.get("version"))
        return FormResult(row=update_record(resource, row, body))
    except ApiError as exc:
        db.session.rollback()
        return _problems(resource, row, exc)


def _problems(resource: Resource, row: Any, exc: ApiError) -> FormResult:
    fields = dict(exc.extra.get("fields") or {})
    if exc.code in (412, 428) and row is not None:
        current = db.session.get(resource.model, row.id)
        return FormResult(
            errors=fields,
            message=N_("Someone else changed this record while you were editing it."),
            conflict=current,
        )
    if exc.code == 409:
        return FormResult(errors=fields, message=N_("Another record already has this value."))
    if exc.code == 403:
        return FormResult(errors=fields, message=N_("Your role may not change some of these fields."))
    return FormResult(errors=fields, message=N_("Some fields need a correction."))
