"""Serve a stored document: streamed, with ETag = sha256 and byte ranges; as an attachment or a preview.

Downloads are always ``Content-Disposition: attachment`` with ``X-Content-Type-Options: nosniff``, and a
file name whose extension matches the sniffed type (rows stored before names were fixed on upload get
it here): a browser saves the file and never renders it in our origin. The preview shows PDFs inline,
under a Content-Security-Policy of its own; every other type stays an attachment there too.

The body is the storage's seekable chunk reader, so Werkzeug's ``make_conditional`` answers
``If-None-Match`` (304), ``Range`` (206, seeking to the start instead of reading up to it),
``If-Range`` and unsatisfiable ranges (416) the same way for the local and the S3 backend.

The preview (``inline=True``) shows PDFs in the browser; any other type is still sent as an
attachment. Every response carries ``nosniff`` and a Content-Security-Policy. For anything but an
inline PDF that policy is ``sandbox; default-src 'none'``: nothing in the file may run or load.
An inline PDF cannot be sandboxed: Chrome refuses to start its PDF viewer in a sandboxed document
("This page has been blocked by Chrome", whatever ``allow-*`` tokens are added), and its viewer page
needs inline styles and an ``<embed>`` of the same URL (crbug.com/271452). So a PDF gets
``default-src 'none'; object-src 'self'; style-src 'unsafe-inline'``: no script, frame, font,
image or connection the policy would let a document make; the PDF's own JavaScript runs (if the
viewer runs it at all) inside the viewer, without access to the API's origin. The stored type was
sniffed from the bytes at upload, so a file served as ``application/pdf`` does start like a PDF.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Request, Response
from werkzeug.utils import secure_filename

from app.models import StoredFile
from app.uploads.sniffing import PDF, name_for_type
from app.uploads.storage import Storage

FALLBACK_NAME = "download"
INLINE_TYPES = frozenset({PDF})
LOCKED_DOWN_CSP = "sandbox; default-src 'none'"
PDF_VIEWER_CSP = "default-src 'none'; object-src 'self'; style-src 'unsafe-inline'"


def document_response(record: StoredFile, storage: Storage, request: Request, inline: bool = False) -> Response:
    """The document's bytes; ``inline=True`` asks for a browser preview, granted to PDFs only."""
    shown = inline and record.content_type in INLINE_TYPES
    response = Response(storage.open(record.storage_key), mimetype=record.content_type, direct_passthrough=True)
    response.content_length = record.size
    response.set_etag(record.sha256)
    name = name_for_type(record.original_filename, record.content_type)
    response.headers["Content-Disposition"] = content_disposition(name, "inline" if shown else "attachment")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = PDF_VIEWER_CSP if shown else LOCKED_DOWN_CSP
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response.make_conditional(request, accept_ranges=True, complete_length=record.size)


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """``attachment`` (or ``inline``) with an ASCII ``filename`` and, for non-ASCII names, an RFC 5987 ``filename*``.

    The ASCII fallback goes through ``secure_filename`` (no quotes, separators or control characters
    can reach the header); ``filename*`` percent-encodes the display name, which is safe by construction.
    """
    ascii_name = secure_filename(name) or FALLBACK_NAME
    if name.isascii() and ascii_name == name:
        return f'{disposition}; filename="{ascii_name}"'
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
