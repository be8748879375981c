"""``/ots``: the OT list (filters, a pasted list of MBLs/containers/OT numbers, pages, exports) and one OT."""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from sqlalchemy import select

from app.api.routes import INVOICE_OPTIONS, OT_OPTIONS
from app.extensions import db
from app.filters import ot_conditions
from app.models import OT_STATUSES, Client, History, Invoice, Ot
from app.web import bp
from app.web.exports import background_offered, picker_columns
from app.web.guard import page_role
from app.web.lists import PAGE_SIZE, capped_count, listing
from app.web.specs import PICKER_MAX

HISTORY_ROWS = 50


@bp.get("/ots")
@page_role("operativo")
def ots() -> ResponseReturnValue:
    found = listing(request.args, select(Ot).options(*OT_OPTIONS), Ot.id, ot_conditions)
    total = capped_count(Ot, ot_conditions(found.args)) if found.error is None else None
    body = render_template(
        "web/ots.html",
        listing=found,
        total=total,
        statuses=OT_STATUSES,
        clients=db.session.execute(select(Client.id, Client.name).order_by(Client.name).limit(PICKER_MAX)).all(),
        export_columns=picker_columns("ots", str(get_locale())),
        background=background_offered(lambda: total),
    )
    db.session.commit()
    return body


@bp.get("/ots/<id:item_id>")
@page_role("operativo")
def ot(item_id: int) -> ResponseReturnValue:
    row = db.session.execute(select(Ot).where(Ot.id == item_id).options(*OT_OPTIONS)).scalar_one_or_none()
    if row is None:
        abort(404)
    invoices = db.session.scalars(
        select(Invoice)
        .where(Invoice.ot_id == item_id)
        .options(*INVOICE_OPTIONS)
        .order_by(Invoice.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    history = db.session.scalars(
        select(History)
        .where(History.resource == "ots", History.record_id == item_id)
        .order_by(History.id.desc())
        .limit(HISTORY_ROWS)
    ).all()
    body = render_template("web/ot.html", ot=row, invoices=invoices, history=history)
    db.session.commit()
    return body
