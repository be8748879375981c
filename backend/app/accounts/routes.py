"""``GET/POST /login``, ``POST /logout`` and ``GET /api/session`` (who am I, and my CSRF token).

The sign-in answers the same for an unknown account and a wrong password, and counts only failed
attempts against the limits, per account and per client address.
"""

from __future__ import annotations

from flask import current_app, g, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from app.accounts import bp
from app.accounts.passwords import check_password, hash_password, needs_rehash
from app.accounts.sessions import csrf, end_session, limiter, safe_next, session_principal, start_session
from app.accounts.users import find_user, normalise
from app.auth import current_principal
from app.extensions import db
from app.i18n import N_
from app.models import ROLE_LABELS, User, utcnow

# Marked for the catalog: the page shows them translated, the JSON answer in English.
BAD_CREDENTIALS = N_("wrong email/username or password")
TOO_MANY = N_("too many failed sign-ins; wait a few minutes and try again")


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _account_key() -> str:
    return "login-account:" + normalise(request.form.get("email", ""))[:255]


def _ip_key() -> str:
    return "login-ip:" + (get_remote_address() or "unknown")


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _user_json(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "email": user.email,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "role_label": ROLE_LABELS[user.role],
    }


def _form(user: User | None, error: str | None = None) -> str:
    return render_template(
        "web/login.html",
        user=user,
        error=error,
        next_path=safe_next(request.values.get("next")),
        identifier=request.form.get("email", "") if error else "",
    )


@bp.get("/login")
def login_form() -> ResponseReturnValue:
    """The form; already signed in, straight back to ``next`` when there is one."""
    principal = session_principal()
    wanted = safe_next(request.args.get("next"), "")
    if principal is not None and wanted:
        return redirect(wanted, code=303)
    user = db.session.get(User, principal.user_id) if principal else None
    g.principal = principal
    return _form(user)


@bp.post("/login")
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_IP"], key_func=_ip_key, deduct_when=_failed, error_message=TOO_MANY
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_ACCOUNT"],
    key_func=_account_key,
    deduct_when=_failed,
    error_message=TOO_MANY,
)
def login() -> ResponseReturnValue:
    csrf.protect()
    identifier, password = request.form.get("email", ""), request.form.get("password", "")
    user = find_user(identifier)
    valid = check_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.active:
        db.session.rollback()
        if _wants_json():
            return jsonify(error={"code": "unauthorized", "message": BAD_CREDENTIALS}), 401
        return _form(None, BAD_CREDENTIALS), 401
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.commit()
    start_session(user)
    if _wants_json():
        return jsonify(user=_user_json(user), csrf_token=generate_csrf())
    # Back to the page that sent the person here (a local path only), else to the signed-in page.
    return redirect(safe_next(request.form.get("next"), "/login"), code=303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    csrf.protect()
    end_session()
    if _wants_json():
        return jsonify(signed_out=True)
    return redirect("/login", code=303)


@bp.get("/api/session")
def whoami() -> ResponseReturnValue:
    """The caller and, for a session, the CSRF token its writes must send as ``X-CSRFToken``."""
    principal = current_principal()
    user = db.session.get(User, principal.user_id) if principal.user_id else None
    body: dict[str, object] = {
        "role": principal.role,
        "role_label": ROLE_LABELS[principal.role],
        "actor": principal.actor,
        "via": "session" if principal.via_session else "token",
        "user": _user_json(user) if user else None,
    }
    db.session.commit()
    if principal.via_session:
        body["csrf_token"] = generate_csrf()
    return jsonify(body)
