"""``/api/uploads``: store a document, read its metadata, download it.

None of these views touches ``request.files``/``request.form``: the body is read by
:mod:`app.uploads.streaming` only, so Werkzeug never spools it.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from app.models import StoredFile
from app.uploads import bp
from app.uploads.documents import find_document, store_document
from app.uploads.downloads import document_response
from app.uploads.storage import get_storage
from app.uploads.streaming import open_request_upload, upload_limit


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
    stored = store_document(
        open_request_upload(), get_storage(current_app), upload_limit(), request.args.get("invoice_id")
    )
    body = {**document_json(stored.record), "duplicate": stored.duplicate}
    return jsonify(body), 200 if stored.duplicate else 201


@bp.get("/uploads/<id:document_id>")
def metadata(document_id: int) -> ResponseReturnValue:
    return jsonify(document_json(find_document(document_id)))


@bp.get("/uploads/<id:document_id>/content")
def download(document_id: int) -> ResponseReturnValue:
    return document_response(find_document(document_id), get_storage(current_app), request)
