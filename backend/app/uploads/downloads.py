"""Serve a stored document: streamed, as an attachment, with ETag = sha256 and byte ranges.

The body is the storage's seekable chunk reader, so Werkzeug's ``make_conditional`` answers
``If-None-Match`` (304), ``Range`` (206, seeking to the start instead of reading up to it),
``If-Range`` and unsatisfiable ranges (416) the same way for the local and the S3 backend.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Request, Response
from werkzeug.utils import secure_filename

from app.models import StoredFile
from app.uploads.storage import Storage

FALLBACK_NAME = "download"


def document_response(record: StoredFile, storage: Storage, request: Request) -> Response:
    response = Response(storage.open(record.storage_key), mimetype=record.content_type, direct_passthrough=True)
    response.content_length = record.size
    response.set_etag(record.sha256)
    response.headers["Content-Disposition"] = content_disposition(record.original_filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response.make_conditional(request, accept_ranges=True, complete_length=record.size)


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` and, for non-ASCII names, an RFC 5987 ``filename*``.

    The ASCII fallback goes through ``secure_filename`` (no quotes, separators or control characters
    can reach the header); ``filename*`` percent-encodes the display name, which is safe by construction.
    """
    ascii_name = secure_filename(name) or FALLBACK_NAME
    if name.isascii() and ascii_name == name:
        return f'attachment; filename="{ascii_name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
