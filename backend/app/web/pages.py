"""The pages every role reads: the dashboard, the language switch (signed out too)."""

from __future__ import annotations

from flask import g, redirect, render_template, request, session
from flask.typing import ResponseReturnValue

from app.accounts.sessions import csrf, safe_next, session_principal
from app.extensions import db
from app.i18n import LANGUAGES, SESSION_KEY
from app.models import User
from app.web import bp
from app.web import dashboard as dashboard_cards
from app.web.guard import page_role


@bp.get("/")
@page_role("operativo")
def dashboard() -> ResponseReturnValue:
    return render_template("web/dashboard.html", **dashboard_cards.cards())


@bp.post("/language")
def set_language() -> ResponseReturnValue:
    """Choose the pages' language: the account's setting when signed in, else this browser's session."""
    csrf.protect()
    language = request.form.get("language")
    if language in LANGUAGES:
        session[SESSION_KEY] = language
        principal = session_principal()
        if principal is not None and principal.user_id is not None:
            user = db.session.get(User, principal.user_id)
            if user is not None:
                user.language = language
                db.session.commit()
            g.principal = principal
    return redirect(safe_next(request.form.get("next")), code=303)
