"""Error pages for people: 404/403/400/429/500 as a page with a way back; ``/api/`` keeps its JSON.

A request gets a page when a web view was routed (``request.blueprint == "web"``) or, for any other
path outside ``/api/``, when the client prefers HTML to JSON (browsers do; curl and test clients
sending ``*/*`` do not, so what scripts see is unchanged).
"""

from __future__ import annotations

from flask import Flask, Response, g, render_template, request
from sqlalchemy.exc import SQLAlchemyError

from app.accounts.sessions import session_principal
from app.errors import HTML_ERRORS
from app.extensions import db
from app.i18n import N_
from app.models import ROLE_LABELS

TITLES = {
    400: N_("The request could not be used"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("Not allowed"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong"),
}


def wants_html() -> bool:
    if request.path.startswith("/api/"):
        return False
    if request.blueprint == "web":
        return True
    accept = request.accept_mimetypes
    return accept["text/html"] > accept["application/json"]


def error_page(status: int, message: str) -> Response | None:
    """The page for ``status``; ``message`` is the code's (English) description, shown only when it helps."""
    if not wants_html():
        return None
    _know_the_viewer()
    role = ROLE_LABELS.get(message) if status == 403 else None
    body = render_template(
        "web/error.html",
        status=status,
        title=TITLES.get(status, TITLES[500]),
        role=role,
        csrf_failed=message == "csrf_failed",
        too_many=status == 429,
    )
    return Response(body, status=status, mimetype="text/html")


def _know_the_viewer() -> None:
    """An unrouted path skipped the web guard: find the signed-in person for the nav and the language.

    The page must render even when the database is what failed: then it is shown signed out.
    """
    if "principal" in g:
        return
    try:
        g.principal = session_principal()
    except SQLAlchemyError:
        db.session.rollback()
        g.principal = None


def install_html_errors(app: Flask) -> None:
    app.extensions[HTML_ERRORS] = error_page
