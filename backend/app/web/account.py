"""The account page (language, password, own tokens) and the admins' pages (accounts, every token).

Each form calls the functions ``flask users`` and ``/api/tokens`` use (:mod:`app.accounts.users`,
:mod:`app.accounts.tokens`), so an account's rules (password length, unique email, a token never
above its owner's role) have one home.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts.passwords import check_password
from app.accounts.sessions import start_session
from app.accounts.tokens import create_for, revocable, revoke_token, visible_tokens
from app.accounts.users import AccountError, create_user, deactivate, set_password, set_role
from app.errors import ApiError
from app.extensions import db
from app.models import ROLES, ApiToken, User
from app.pagination import keyset_page
from app.web import bp
from app.web.guard import page_role
from app.web.lists import PAGE_SIZE

TOKEN_ROWS = 100


def _me() -> User:
    return db.session.get(User, g.principal.user_id)


def _account_page(status: int = 200, **extra: Any) -> ResponseReturnValue:
    tokens = db.session.scalars(visible_tokens(g.principal, everyone=False).limit(TOKEN_ROWS)).all()
    body = render_template("web/account.html", user=_me(), tokens=tokens, roles=ROLES, **extra)
    db.session.commit()
    return body, status


@bp.get("/account")
@page_role("operativo")
def account() -> ResponseReturnValue:
    return _account_page()


@bp.post("/account/password")
@page_role("operativo")
def account_password() -> ResponseReturnValue:
    """A new password ends every other session of the account; this browser gets a fresh one."""
    user = _me()
    new = request.form.get("new_password", "")
    problem = None
    if not check_password(user.password_hash, request.form.get("current_password", "")):
        problem = gettext("The current password is not right.")
    elif new != request.form.get("confirm_password", ""):
        problem = gettext("The two new passwords differ.")
    else:
        try:
            set_password(user, new)
        except AccountError as exc:
            db.session.rollback()
            problem = gettext(str(exc))
    if problem:
        return _account_page(422, password_error=problem)
    start_session(user)
    flash(gettext("Password changed. Your other sessions were signed out."), "ok")
    return redirect(url_for("web.account"), code=303)


def _token_body(form: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": form.get("name", ""), "role": form.get("role") or g.principal.role}
    days = form.get("expires_in_days", "").strip()
    if days:
        body["expires_in_days"] = int(days) if days.isdigit() else days
    return body


@bp.post("/account/tokens")
@page_role("operativo")
def account_token_create() -> ResponseReturnValue:
    """The secret is shown on this answer only (no redirect: it must not be kept anywhere)."""
    try:
        row, secret = create_for(g.principal, _token_body(request.form))
    except ApiError as exc:
        db.session.rollback()
        fields = exc.extra.get("fields") or {}
        return _account_page(422 if exc.code == 422 else 403, token_errors=fields, token_error=exc.description)
    return _account_page(201, new_token=row, secret=secret)


@bp.post("/account/tokens/<id:token_id>/revoke")
@page_role("operativo")
def account_token_revoke(token_id: int) -> ResponseReturnValue:
    revoke_token(revocable(g.principal, token_id))
    flash(gettext("Token revoked."), "ok")
    back = url_for("web.admin_tokens") if request.form.get("from") == "admin" else url_for("web.account")
    return redirect(back, code=303)


@bp.route("/admin/users", methods=["GET", "POST"])
@page_role("admin")
def admin_users() -> ResponseReturnValue:
    error = None
    status = 200
    if request.method == "POST":
        form = request.form
        try:
            create_user(
                form.get("email", ""),
                form.get("name", ""),
                form.get("role", ""),
                form.get("password", ""),
                form.get("username") or None,
            )
        except AccountError as exc:
            db.session.rollback()
            error, status = str(exc), 422
        else:
            flash(gettext("Account created."), "ok")
            return redirect(url_for("web.admin_users"), code=303)
    page = keyset_page(
        select(User), User.id, PAGE_SIZE, after=request.args.get("cursor"), before=request.args.get("before")
    )
    body = render_template("web/admin_users.html", page=page, roles=ROLES, error=error, form=request.form)
    db.session.commit()
    return body, status


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/admin/users/<id:user_id>/role")
@page_role("admin")
def admin_user_role(user_id: int) -> ResponseReturnValue:
    user = _user(user_id)
    try:
        set_role(user, request.form.get("role", ""))
    except AccountError as exc:
        db.session.rollback()
        flash(gettext("Not done: %(reason)s", reason=str(exc)), "error")
    return redirect(url_for("web.admin_users"), code=303)


@bp.post("/admin/users/<id:user_id>/deactivate")
@page_role("admin")
def admin_user_deactivate(user_id: int) -> ResponseReturnValue:
    deactivate(_user(user_id))
    flash(gettext("Account deactivated: its sessions and tokens stopped working."), "ok")
    return redirect(url_for("web.admin_users"), code=303)


@bp.get("/admin/tokens")
@page_role("admin")
def admin_tokens() -> ResponseReturnValue:
    stmt = select(ApiToken).options(joinedload(ApiToken.user))
    page = keyset_page(
        stmt,
        ApiToken.id,
        PAGE_SIZE,
        [ApiToken.revoked_at.is_(None)],
        after=request.args.get("cursor"),
        before=request.args.get("before"),
    )
    body = render_template("web/admin_tokens.html", page=page)
    db.session.commit()
    return body
