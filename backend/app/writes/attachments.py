"""Attach a stored document to an invoice, or detach it: a change of the invoice with its history row."""

from __future__ import annotations

from typing import IO

from flask import current_app

from app.models import Invoice, StoredFile
from app.uploads.documents import store_document
from app.uploads.storage import get_storage
from app.uploads.streaming import Upload, display_name, upload_limit
from app.writes import history
from app.writes.resources import INVOICES
from app.writes.routes import _commit, apply_changes


def attach_document(invoice: Invoice, filename: str, stream: IO[bytes]) -> StoredFile:
    """Store the file (deduplicated by sha256, sniffed, size-limited like every upload) and attach it."""
    chunk = current_app.config["UPLOAD_CHUNK_SIZE"]
    upload = Upload(display_name(filename), iter(lambda: stream.read(chunk), b""))
    stored = store_document(upload, get_storage(current_app), upload_limit(), None)
    set_document(invoice, stored.record.id)
    return stored.record


def detach_document(invoice: Invoice) -> None:
    set_document(invoice, None)


def set_document(invoice: Invoice, document_id: int | None) -> None:
    changes = apply_changes(INVOICES, invoice, {"document_id": document_id})
    if changes:
        history.record("invoices", invoice.id, "attach" if document_id else "detach", changes)
    _commit(INVOICES, invoice)  # 412 if someone else changed the invoice meanwhile
