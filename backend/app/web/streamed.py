"""Multipart forms whose files the app streams (documents, intake, OT import): CSRF without parsing the body.

Flask-WTF's ``csrf.protect()`` reads ``request.form``, which makes Werkzeug parse, and spool, the
whole multipart body before the view runs: exactly what :mod:`app.uploads.streaming` exists to avoid.
So these views are marked :func:`streamed_form` (the page guard skips its form check for them) and
check the token themselves, from the ``X-CSRFToken`` header (the page's script) or from the form's
``csrf_token`` field, which the templates put before the file input so it arrives before any file byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from flask import request
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from app.accounts.sessions import CSRF_HEADERS
from app.errors import ApiError
from app.uploads.streaming import Upload, open_request_uploads

F = TypeVar("F", bound=Callable[..., object])
CSRF_FIELD = "csrf_token"


def streamed_form(view: F) -> F:
    """Mark a view whose body is a streamed multipart form: the guard leaves its CSRF check to the view."""
    view.streamed_form = True  # type: ignore[attr-defined]
    return view


def is_streamed_form(view: object) -> bool:
    return bool(getattr(view, "streamed_form", False))


def check_csrf(fields: Mapping[str, str]) -> None:
    """The header's token, else the form field's; a CSRFError (the 400 page) when neither is valid."""
    token = next((request.headers[name] for name in CSRF_HEADERS if request.headers.get(name)), None)
    token = token or fields.get(CSRF_FIELD)
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(str(exc)) from None


def checked_uploads() -> tuple[Mapping[str, str], Iterator[Upload]]:
    """The form's fields sent before the first file, and every file, after the CSRF check.

    Nothing of a file is read before the token is checked. No file at all is a 400 naming the field.
    """
    uploads = open_request_uploads()
    first = next(uploads, None)
    if first is None:
        raise ApiError(400, "choose at least one file", "no_file_field")
    check_csrf(first.fields)
    return dict(first.fields), _chain(first, uploads)


def _chain(first: Upload, rest: Iterator[Upload]) -> Iterator[Upload]:
    yield first
    yield from rest


def wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
