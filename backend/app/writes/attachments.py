"""An invoice's document: attach a stored one, or detach it, with a history row in the same transaction.

An upload that names ``invoice_id`` attaches through :func:`attach` too, so every way a document
comes to (or leaves) an invoice leaves the same trace. Detaching never deletes the stored file:
other invoices may share it (documents dedupe by sha256), and the bytes are evidence.
"""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from app.api import bp
from app.errors import ApiError
from app.extensions import db
from app.models import Invoice, StoredFile
from app.writes.changes import attach
from app.writes.fields import Field, reference, validate
from app.writes.resources import INVOICES
from app.writes.routes import _commit, _if_match, _tagged

FIELDS = (Field("document_id", reference(StoredFile), required=True),)


def _invoice(invoice_id: int) -> Invoice:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        raise ApiError(404, f"invoice {invoice_id} not found")
    return invoice


@bp.put("/invoices/<id:invoice_id>/document")
def attach_document(invoice_id: int) -> ResponseReturnValue:
    """``{"document_id": n}`` with ``If-Match``: the invoice's document becomes that stored file."""
    invoice = _invoice(invoice_id)
    _if_match(invoice)
    values = validate(FIELDS, request.get_json(silent=True), creating=True)
    attach(invoice, values["document_id"])
    _commit(INVOICES, invoice)
    return _tagged(INVOICES, invoice)


@bp.delete("/invoices/<id:invoice_id>/document")
def detach_document(invoice_id: int) -> ResponseReturnValue:
    """Detach with ``If-Match``; the stored file stays (other invoices may share it)."""
    invoice = _invoice(invoice_id)
    _if_match(invoice)
    if invoice.document_id is None:
        raise ApiError(409, f"invoice {invoice_id} has no document", "conflict")
    attach(invoice, None, "detach")
    _commit(INVOICES, invoice)
    return _tagged(INVOICES, invoice)

