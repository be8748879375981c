"""``/api/uploads``: store a document, read its metadata, download or preview it; invoice documents as a ZIP.

None of these views touches ``request.files``/``request.form``: the body is read by
:mod:`app.uploads.streaming` only, so Werkzeug never spools it.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from app.auth import require_role
from app.errors import BadParameter, code_for
from app.filters import invoice_conditions
from app.models import StoredFile
from app.uploads import bp
from app.uploads.bundles import install_slots, json_body_limit, selected_invoices, zip_response
from app.uploads.documents import find_document, store_document
from app.uploads.downloads import document_response
from app.uploads.storage import get_storage
from app.uploads.streaming import open_request_upload, upload_limit
from ops.metrics import record_upload, record_upload_rejected

bp.record_once(lambda state: install_slots(state.app))


def document_json(record: StoredFile) -> dict[str, Any]:
    return {
        "id": record.id,
        "sha256": record.sha256,
        "size": record.size,
        "content_type": record.content_type,
        "filename": record.original_filename,
        "created_at": record.created_at.isoformat(),
        "content_url": url_for("uploads.download", document_id=record.id),
    }


@bp.post("/uploads")
def upload() -> ResponseReturnValue:
    """Store a document (multipart ``file`` or raw body); 201 new, 200 with ``duplicate: true`` if known."""
    try:
        stored = store_document(
            open_request_upload(), get_storage(current_app), upload_limit(), request.args.get("invoice_id")
        )
    except HTTPException as exc:  # ours (ApiError) or Werkzeug's (a Content-Length over the limit)
        record_upload_rejected(getattr(exc, "error_code", None) or code_for(exc.code or 400))
        raise
    record_upload(stored.record.size, stored.duplicate)
    body = {**document_json(stored.record), "duplicate": stored.duplicate}
    return jsonify(body), 200 if stored.duplicate else 201


@bp.get("/uploads/<id:document_id>")
def metadata(document_id: int) -> ResponseReturnValue:
    return jsonify(document_json(find_document(document_id)))


@bp.get("/uploads/<id:document_id>/content")
def download(document_id: int) -> ResponseReturnValue:
    return document_response(find_document(document_id), get_storage(current_app), request)


@bp.get("/uploads/<int:document_id>/preview")
def preview(document_id: int) -> ResponseReturnValue:
    """The document for display in the browser: inline if it is a PDF, an attachment otherwise."""
    return document_response(find_document(document_id), get_storage(current_app), request, inline=True)


@bp.get("/invoices/documents.zip")
def documents_zip() -> ResponseReturnValue:
    """The documents of the invoices matching the ``GET /api/invoices`` filters, as one streamed ZIP."""
    return zip_response(invoice_conditions(request.args))


@bp.post("/invoices/documents.zip")
@require_role("operativo")  # a read: POST only because the selection may not fit a query string
def documents_zip_selected() -> ResponseReturnValue:
    """The documents of the invoices in ``{"ids": [...]}`` (a selection too long for a query string)."""
    if request.args:
        raise BadParameter(next(iter(request.args)), 'unknown parameter; POST takes {"ids": [...]} in the body')
    max_files = current_app.config["DOCUMENTS_ZIP_MAX_FILES"]
    request.max_content_length = json_body_limit(max_files)
    conditions, notes = selected_invoices(request.get_json(silent=True), max_files)
    return zip_response(conditions, notes)
