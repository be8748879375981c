"""Serve a stored document: streamed, as an attachment, with ETag = sha256 and byte ranges.

Always ``Content-Disposition: attachment`` with ``X-Content-Type-Options: nosniff``, and a file name
whose extension matches the sniffed type (rows stored before names were fixed on upload get it here):
a browser saves the file and never renders it in our origin. An inline preview, if any, is a separate
route with its own rules.

The body is the storage's seekable chunk reader, so Werkzeug's ``make_conditional`` answers
``If-None-Match`` (304), ``Range`` (206, seeking to the start instead of reading up to it),
``If-Range`` and unsatisfiable ranges (416) the same way for the local and the S3 backend.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Request, Response
from werkzeug.utils import secure_filename

from app.models import StoredFile
from app.uploads.sniffing import name_for_type
from app.uploads.storage import Storage

FALLBACK_NAME = "download"


def document_response(record: StoredFile, storage: Storage, request: Request) -> Response:
    response = Response(storage.open(record.storage_key), mimetype=record.content_type, direct_passthrough=True)
    response.content_length = record.size
    response.set_etag(record.sha256)
    name = name_for_type(record.original_filename, record.content_type)
    response.headers["Content-Disposition"] = content_disposition(name)
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
