"""Invoice states change only along this graph; each transition sets its date (docs/write-api.md).

``disputed`` and ``partially_voided`` belong to a dispute workflow that does not exist yet: moving to
them, or out of them, is refused rather than half-done.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, request
from flask.typing import ResponseReturnValue

from app.api import bp
from app.auth import require_role
from app.errors import ApiError
from app.extensions import db
from app.models import Invoice
from app.writes import history
from app.writes.changes import apply_changes
from app.writes.fields import Field, choice, date, money, validate
from app.writes.resources import INVOICES
from app.writes.routes import _commit, _if_match, _tagged

# kind -> (column, date column, {from: allowed targets})
GRAPH: dict[str, tuple[str, str, dict[str, tuple[str, ...]]]] = {
    "provision": (
        "provision_status",
        "provision_date",
        {"pending": ("in_review", "rejected"), "in_review": ("provisioned", "rejected"), "provisioned": ("voided",)},
    ),
    "billing": ("billing_status", "billing_date", {"pending": ("billed",)}),
    "payment": ("payment_status", "payment_date", {"pending": ("partial", "paid"), "partial": ("partial", "paid")}),
}
DISPUTE_STATES = ("disputed", "partially_voided")
DATED = {"provisioned", "billed", "partial", "paid"}
FIELDS = (
    Field("kind", choice(tuple(GRAPH)), required=True),
    Field(
        "to",
        choice(("in_review", "provisioned", "rejected", "voided", "billed", "partial", "paid", *DISPUTE_STATES)),
        required=True,
    ),
    Field("date", date),
    Field("amount_paid", money),
)


def team_today() -> dt.date:
    """Today in the team's zone: at 19:00 in San Salvador the server's UTC date is already tomorrow."""
    return dt.datetime.now(ZoneInfo(current_app.config["APP_TIMEZONE"])).date()


def transition(invoice: Invoice, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    kind, target = values["kind"], values["to"]
    column, date_column, edges = GRAPH[kind]
    current = getattr(invoice, column)
    if target in DISPUTE_STATES or current in DISPUTE_STATES:
        raise ApiError(
            409,
            f"{target if target in DISPUTE_STATES else current}: the dispute workflow does not exist yet",
            "invalid_transition",
            allowed=[],
        )
    if target not in edges.get(current, ()):
        raise ApiError(
            409,
            f"{kind}: {current} -> {target} is not a transition",
            "invalid_transition",
            allowed=list(edges.get(current, ())),
        )
    changes: dict[str, Any] = {column: target}
    if target in DATED:
        changes[date_column] = values.get("date") or team_today()
    if kind == "payment":
        owed = invoice.applicable_amount if invoice.applicable_amount is not None else invoice.amount
        paid = values.get("amount_paid")
        if target == "paid":
            paid = owed if paid is None else paid
            if paid != owed:
                raise ApiError(
                    422,
                    "paid means the whole amount",
                    "validation_failed",
                    fields={"amount_paid": f"must be {owed} (or absent)"},
                )
        elif paid is None or not Decimal("0") < paid < owed or paid <= invoice.amount_paid:
            raise ApiError(
                422,
                "a partial payment needs the new total paid",
                "validation_failed",
                fields={"amount_paid": f"more than {invoice.amount_paid} and less than {owed}"},
            )
        changes["amount_paid"] = paid
    return apply_changes(INVOICES, invoice, changes)


@bp.post("/invoices/<id:invoice_id>/transitions")
@require_role("finanzas")
def invoice_transition(invoice_id: int) -> ResponseReturnValue:
    """``{"kind": "provision|billing|payment", "to": state, "date"?, "amount_paid"?}`` with If-Match."""
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        raise ApiError(404, f"invoice {invoice_id} not found")
    _if_match(invoice)
    return _tagged(INVOICES, move(invoice, request.get_json(silent=True)))


def move(invoice: Invoice, body: object) -> Invoice:
    """Validate and apply one transition with its history row (the API's and the web's buttons)."""
    values = validate(FIELDS, body, creating=True)
    changes = transition(invoice, values)
    history.record("invoices", invoice.id, f"transition:{values['kind']}", changes)
    _commit(INVOICES, invoice)
    return invoice


def allowed_moves(invoice: Invoice) -> list[tuple[str, str]]:
    """``(kind, target)`` pairs the graph allows from the invoice's current states: the buttons a page shows."""
    moves = []
    for kind, (column, _date_column, edges) in GRAPH.items():
        current = getattr(invoice, column)
        if current in DISPUTE_STATES:
            continue
        moves.extend((kind, target) for target in edges.get(current, ()))
    return moves
