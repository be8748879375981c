"""``/api/uploads`` (store, metadata, download) and ``/api/ots/import`` (spreadsheet import).

None of these views touches ``request.files``/``request.form``: the body is read by
:mod:`app.uploads.streaming` only, so Werkzeug never spools it.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from app.errors import BadParameter
from app.models import StoredFile
from app.uploads import bp
from app.uploads.documents import find_document, store_document
from app.uploads.downloads import document_response
from app.uploads.importer import import_upload
from app.uploads.storage import get_storage
from app.uploads.streaming import Upload, open_upload

MB = 1024 * 1024
TRUE_WORDS = {"1", "true", "yes"}
FALSE_WORDS = {"0", "false", "no", ""}


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


def _limit() -> int:
    return current_app.config["MAX_UPLOAD_MB"] * MB


def _open_upload() -> Upload:
    return open_upload(request, _limit(), current_app.config["UPLOAD_CHUNK_SIZE"])


@bp.post("/uploads")
def upload() -> ResponseReturnValue:
    """Store a document (multipart ``file`` or raw body); 201 new, 200 with ``duplicate: true`` if known."""
    stored = store_document(_open_upload(), get_storage(current_app), _limit(), request.args.get("invoice_id"))
    body = {**document_json(stored.record), "duplicate": stored.duplicate}
    return jsonify(body), 200 if stored.duplicate else 201


@bp.get("/uploads/<int:document_id>")
def metadata(document_id: int) -> ResponseReturnValue:
    return jsonify(document_json(find_document(document_id)))


@bp.get("/uploads/<int:document_id>/content")
def download(document_id: int) -> ResponseReturnValue:
    return document_response(find_document(document_id), get_storage(current_app), request)


@bp.post("/ots/import")
def import_ots() -> ResponseReturnValue:
    """Import OTs from an xlsx/csv upload in one transaction; ``?dry_run=1`` validates without writing."""
    dry_run = _flag("dry_run")
    config = current_app.config
    result = import_upload(_open_upload(), _limit(), config["STORAGE_DIR"], dry_run, config["IMPORT_MAX_ROWS"])
    return jsonify(result.as_json())


def _flag(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise BadParameter(name, f"expected 1/0/true/false, got {raw!r}")
