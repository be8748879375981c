"""Who may see a page: signed-out browsers go to ``/login?next=<this page>``; forms need their CSRF token.

The ``/api/`` guard (:mod:`app.auth`) answers 401 JSON; a person in a browser is better served by
the sign-in page and a way back. ``next`` is only ever a local path (:func:`safe_next`): no open
redirect. Roles are the same check as the API's (:func:`app.auth.has_role`); a page refused for
the role is a 403 page, and so is a forged POST.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import Forbidden

from app.accounts.sessions import csrf, session_principal
from app.auth import Principal
from app.errors import SAFE_METHODS
from app.web import bp
from app.web.layout import can
from app.web.streamed import is_streamed_form

F = TypeVar("F", bound=Callable[..., object])
PUBLIC_ENDPOINTS = frozenset({"web.static", "web.set_language"})


def this_page() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


@bp.before_request
def _signed_in() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    principal = session_principal()
    if principal is None:
        return redirect(url_for("accounts.login_form", next=this_page()), code=303)
    g.principal = principal
    if request.method not in SAFE_METHODS and not is_streamed_form(current_app.view_functions.get(request.endpoint)):
        csrf.protect()  # CSRFError -> the 400 page (app.web.errors); streamed forms check it themselves
    return None


def principal() -> Principal:
    return g.principal


def page_role(role: str) -> Callable[[F], F]:
    """The role a page or form needs; lower roles get the 403 page (a forged POST too)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: object, **kwargs: object) -> object:
            if not can(role):
                raise Forbidden(role)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
