"""``/invoices``: the list (filters, tabs, pages, exports) and one invoice (states, OT, document, history)."""

from __future__ import annotations

from typing import IO, Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, gettext
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.api.routes import INVOICE_OPTIONS
from app.errors import ApiError
from app.extensions import db
from app.filters import invoice_conditions
from app.intake.routes import assign_ot, unassign_ot
from app.models import BILLING_STATUSES, PAYMENT_STATUSES, History, Invoice, Ot, Provider
from app.shipping_codes import normalise_ot_number
from app.uploads.documents import store_document
from app.uploads.storage import get_storage
from app.uploads.streaming import Upload, display_name, upload_limit
from app.web import bp
from app.web.exports import background_offered, picker_columns
from app.web.forms import plain_money
from app.web.guard import page_role
from app.web.lists import PAGING_KEYS, capped_count, listing
from app.web.specs import PICKER_MAX
from app.writes.changes import attach
from app.writes.resources import INVOICES
from app.writes.routes import _commit, check_version
from app.writes.transitions import allowed_moves, move

TABS = (None, "pending", "in_review", "provisioned", "rejected", "voided")
HISTORY_ROWS = 50


def _tab_counts(args: MultiDict[str, str]) -> list[tuple[str | None, Any]]:
    """Each tab's count for the rest of the filter (its provision state replaced by the tab's)."""
    base = MultiDict([(k, v) for k, v in args.items(multi=True) if k != "provision_status" and k not in PAGING_KEYS])
    counts = []
    for state in TABS:
        tab_args = MultiDict(base)
        if state:
            tab_args["provision_status"] = state
        counts.append((state, capped_count(Invoice, invoice_conditions(tab_args))))
    return counts


@bp.get("/invoices")
@page_role("operativo")
def invoices() -> ResponseReturnValue:
    found = listing(request.args, select(Invoice).options(*INVOICE_OPTIONS), Invoice.id, invoice_conditions)
    tabs = _tab_counts(found.args) if found.error is None else []
    selected = found.values("provision_status")
    body = render_template(
        "web/invoices.html",
        listing=found,
        tabs=tabs,
        current_tab=selected[0] if len(selected) == 1 else None,
        providers=db.session.execute(
            select(Provider.id, Provider.name).order_by(Provider.name).limit(PICKER_MAX)
        ).all(),
        billing_statuses=BILLING_STATUSES,
        payment_statuses=PAYMENT_STATUSES,
        export_columns=picker_columns("invoices", str(get_locale())),
        background=found.error is None
        and background_offered(lambda: capped_count(Invoice, invoice_conditions(found.args))),
    )
    db.session.commit()
    return body


def _invoice(item_id: int) -> Invoice:
    invoice = db.session.execute(
        select(Invoice).where(Invoice.id == item_id).options(*INVOICE_OPTIONS)
    ).scalar_one_or_none()
    if invoice is None:
        abort(404)
    return invoice


@bp.get("/invoices/<id:item_id>")
@page_role("operativo")
def invoice(item_id: int) -> ResponseReturnValue:
    row = _invoice(item_id)
    history = db.session.scalars(
        select(History)
        .where(History.resource == "invoices", History.record_id == item_id)
        .order_by(History.id.desc())
        .limit(HISTORY_ROWS)
    ).all()
    body = render_template("web/invoice.html", invoice=row, moves=allowed_moves(row), history=history)
    db.session.commit()
    return body


def _done(item_id: int, exc: ApiError | None = None) -> ResponseReturnValue:
    """Back to the invoice; a refused action is explained there (flash), never lost in a JSON body."""
    if exc is not None:
        db.session.rollback()
        flash(gettext("Not done: %(reason)s", reason=exc.description), "error")
    return redirect(url_for("web.invoice", item_id=item_id), code=303)


@bp.post("/invoices/<id:item_id>/transition")
@page_role("finanzas")
def invoice_transition(item_id: int) -> ResponseReturnValue:
    row = _invoice(item_id)
    body: dict[str, Any] = {"kind": request.form.get("kind"), "to": request.form.get("to")}
    if request.form.get("date"):
        body["date"] = request.form["date"]
    if request.form.get("amount_paid"):
        body["amount_paid"] = plain_money(request.form["amount_paid"].strip())
    try:
        check_version(row, request.form.get("version"))
        move(row, body)
    except ApiError as exc:
        return _done(item_id, exc)
    flash(gettext("State changed."), "ok")
    return _done(item_id)


@bp.post("/invoices/<id:item_id>/assign")
@page_role("jefe_operaciones")
def invoice_assign(item_id: int) -> ResponseReturnValue:
    row = _invoice(item_id)
    number = normalise_ot_number(request.form.get("ot_number", ""))
    ot_id = db.session.scalar(select(Ot.id).where(Ot.ot_number == number)) if number else None
    try:
        check_version(row, request.form.get("version"))
        if ot_id is None:
            raise ApiError(422, gettext("no OT numbered %(number)s", number=number or "—"))
        assign_ot(row, ot_id)
    except ApiError as exc:
        return _done(item_id, exc)
    return _done(item_id)


@bp.post("/invoices/<id:item_id>/unassign")
@page_role("jefe_operaciones")
def invoice_unassign(item_id: int) -> ResponseReturnValue:
    row = _invoice(item_id)
    try:
        check_version(row, request.form.get("version"))
        unassign_ot(row)
    except ApiError as exc:
        return _done(item_id, exc)
    return _done(item_id)


@bp.post("/invoices/<id:item_id>/document")
@page_role("jefe_operaciones")
def invoice_attach(item_id: int) -> ResponseReturnValue:
    row = _invoice(item_id)
    upload = request.files.get("file")
    try:
        check_version(row, request.form.get("version"))
        if upload is None or not upload.filename:
            raise ApiError(400, gettext("choose a file first"))
        document_id = _store(upload.filename, upload.stream)
        attach(row, document_id)
        _commit(INVOICES, row)  # 412 if the invoice changed since the page was read
    except ApiError as exc:
        return _done(item_id, exc)
    flash(gettext("Document attached."), "ok")
    return _done(item_id)


def _store(filename: str, stream: IO[bytes]) -> int:
    """The form's file into storage as every upload is stored (sha256 dedupe, type sniffing, size limit)."""
    chunk = current_app.config["UPLOAD_CHUNK_SIZE"]
    upload = Upload(display_name(filename), iter(lambda: stream.read(chunk), b""))
    return store_document(upload, get_storage(current_app), upload_limit(), None).record.id


@bp.post("/invoices/<id:item_id>/document/detach")
@page_role("jefe_operaciones")
def invoice_detach(item_id: int) -> ResponseReturnValue:
    row = _invoice(item_id)
    try:
        check_version(row, request.form.get("version"))
        attach(row, None, "detach")
        _commit(INVOICES, row)
    except ApiError as exc:
        return _done(item_id, exc)
    return _done(item_id)
