"""Keep one copy of each uploaded document: temp object, then final key, then the row, all or nothing.

Order matters. The bytes go to a temporary object while they are hashed; only a complete, accepted
file is moved to its hash-derived key, and only then is the row committed. A failure before the move
leaves only the temporary object, which :func:`app.uploads.storage.pending` removes. Same content
twice (same sha256) returns the first record and keeps no second copy, including when two uploads
race: the loser's insert hits the unique constraint and it answers with the winner's row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.errors import ApiError, BadParameter
from app.extensions import db
from app.ids import parse_id
from app.models import Invoice, StoredFile
from app.pagination import paginate
from app.uploads.sniffing import ALL_TYPES, name_for_type
from app.uploads.storage import Storage, key_for, pending
from app.uploads.streaming import Received, Upload, receive
from app.writes.changes import attach

log = logging.getLogger(__name__)
INVOICE_FIELD = "invoice_id"


@dataclass(frozen=True)
class Stored:
    record: StoredFile
    duplicate: bool


def store_document(upload: Upload, storage: Storage, limit: int, invoice_id: str | None) -> Stored:
    """Receive ``upload`` into ``storage`` and record it; attach it to an invoice when one is named.

    ``invoice_id`` comes from the query string; a multipart ``invoice_id`` field is used otherwise.
    """
    with pending(storage) as obj:
        received = receive(upload, obj.write, limit, ALL_TYPES)
        invoice = _invoice(invoice_id if invoice_id is not None else upload.fields.get(INVOICE_FIELD))
        existing = _by_sha256(received.sha256)
        if existing is not None:
            return _duplicate(existing, invoice)
        key = key_for(received.sha256)
        obj.commit(key)
    # The stored name's extension follows the sniffed type (a PDF sent as setup.exe is kept as setup.pdf).
    return _insert(received, name_for_type(upload.filename, received.content_type), key, invoice, storage)


def document_page(cursor: str | None, limit: int) -> tuple[Sequence[StoredFile], str | None]:
    """One keyset page of stored documents, newest first (``GET /api/uploads`` and the documents page)."""
    rows, next_cursor = paginate(select(StoredFile), StoredFile.id, cursor, limit)
    db.session.commit()  # the rows are loaded: no read transaction left open
    return rows, next_cursor


def find_document(document_id: int) -> StoredFile:
    record = db.session.get(StoredFile, document_id)
    db.session.commit()  # end the read transaction before a long streamed download
    if record is None:
        raise ApiError(404, f"document {document_id} not found")
    return record


def _invoice(raw: str | None) -> Invoice | None:
    if raw is None or raw == "":
        return None
    invoice_id = parse_id(INVOICE_FIELD, raw)
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        raise BadParameter(INVOICE_FIELD, f"no invoice with id {invoice_id}")
    return invoice


def _by_sha256(sha256: str) -> StoredFile | None:
    return db.session.execute(select(StoredFile).where(StoredFile.sha256 == sha256)).scalar_one_or_none()


def _duplicate(existing: StoredFile, invoice: Invoice | None) -> Stored:
    if invoice is not None:
        attach(invoice, existing.id)
    db.session.commit()
    return Stored(existing, duplicate=True)


def _insert(received: Received, filename: str, key: str, invoice: Invoice | None, storage: Storage) -> Stored:
    record = StoredFile(
        sha256=received.sha256,
        original_filename=filename,
        content_type=received.content_type,
        size=received.size,
        storage_key=key,
    )
    db.session.add(record)
    invoice_id = invoice.id if invoice is not None else None
    try:
        if invoice is not None:
            db.session.flush()  # the new row's id, for the invoice and its history row
            attach(invoice, record.id)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = _by_sha256(received.sha256)
        if existing is not None:  # lost a race with the same content: that row owns the same key
            return _duplicate(existing, _invoice(str(invoice_id)) if invoice_id is not None else None)
        _remove_if_unreferenced(storage, key, received.sha256)
        raise ApiError(409, "the upload conflicted with a concurrent change; try again", "conflict") from None
    except SQLAlchemyError:
        db.session.rollback()
        _remove_if_unreferenced(storage, key, received.sha256)
        raise
    return Stored(record, duplicate=False)


def _remove_if_unreferenced(storage: Storage, key: str, sha256: str) -> None:
    """Delete a moved-in file whose row did not commit, unless another upload's row now owns it.

    If the database cannot even answer, the file is kept: an orphan file is recoverable, a row
    pointing at a deleted file is not.
    """
    try:
        referenced = _by_sha256(sha256) is not None
        db.session.rollback()
    except SQLAlchemyError:
        log.warning("kept %s after a failed insert: could not check whether a row references it", key)
        return
    if not referenced:
        storage.delete(key)
