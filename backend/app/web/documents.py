"""``/documents``: upload (several files, each with its progress and sha256; a duplicate shown as one), list, download.

With JavaScript, each file goes to ``POST /api/uploads`` on its own (``static/js/documents.js``);
without it, the form posts every file to ``POST /documents``, which stores them one by one with the
same :func:`app.uploads.documents.store_document` and shows the same answers. The list is keyset-paged
by :func:`app.uploads.documents.document_page`, like ``GET /api/uploads``.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.errors import ApiError
from app.pagination import page_limit
from app.uploads.documents import document_page, store_document
from app.uploads.storage import Storage, get_storage
from app.uploads.streaming import Upload, upload_limit
from app.web import bp
from app.web.guard import page_role
from app.web.streamed import checked_uploads, streamed_form

PAGE_SIZE = 25
CONTINUABLE = frozenset({"unsupported_type", "empty_upload"})  # the body is intact: take the next file


def _messages() -> dict[str, str]:
    """What documents.js shows, translated here so the catalog holds every string of the page."""
    return {
        "stored": _("Stored"),
        "duplicate": _("Duplicate: already stored"),
        "duplicate_of": _("document"),
        "failed": _("Upload failed"),
        "just_now": _("just now"),
    }


def _page(results: list[dict[str, Any]] | None = None, status: int = 200) -> ResponseReturnValue:
    rows, next_cursor = document_page(request.args.get("cursor"), page_limit(str(PAGE_SIZE)))
    return (
        render_template(
            "web/documents.html",
            documents=rows,
            next_cursor=next_cursor,
            paged=bool(request.args.get("cursor")),
            results=results,
            messages=_messages(),
        ),
        status,
    )


@bp.get("/documents")
@page_role("operativo")
def documents() -> ResponseReturnValue:
    return _page()


@bp.post("/documents")
@streamed_form
@page_role("jefe_operaciones")  # the same role POST /api/uploads needs
def upload_documents() -> ResponseReturnValue:
    """The no-JavaScript upload: every file of the form in turn, each one's answer on the page."""
    _fields, uploads = checked_uploads()
    storage, limit = get_storage(current_app), upload_limit()
    results: list[dict[str, Any]] = []
    status = 200
    try:
        for upload in uploads:
            results.append(_store_one(upload, storage, limit))
    except ApiError as exc:  # a broken body (too large, cut off): what came before it is stored and listed
        results.append({"filename": "", "error": exc.description})
        status = exc.code
    return _page(results, status)


def _store_one(upload: Upload, storage: Storage, limit: int) -> dict[str, Any]:
    try:
        stored = store_document(upload, storage, limit, None)
    except ApiError as exc:
        if exc.error_code not in CONTINUABLE:
            raise
        return {"filename": upload.filename, "error": exc.description}
    return {"filename": upload.filename, "record": stored.record, "duplicate": stored.duplicate}
