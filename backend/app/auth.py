"""Who is calling and what they may do: bearer tokens or a session cookie on ``/api/``, and the role check.

Tokens are 256-bit random strings, so a single sha256 is enough to store them safely (no slow KDF
needed: there is nothing to brute-force). Passwords are another matter (:mod:`app.accounts.passwords`).

The roles are the team's four, lowest first (``app.models.ROLES``); a higher role can do everything a
lower one can. The rule for every ``/api/`` endpoint lives here and only here: a view may declare
its role with :func:`require_role`; otherwise reads need ``operativo`` and writes ``jefe_operaciones``,
so a new endpoint is never writable by everyone by accident.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, current_app, g, request
from sqlalchemy import or_, select, update

from app.errors import SAFE_METHODS, ApiError
from app.extensions import db
from app.models import ROLE_RANK, TOKEN_ROLES, ApiToken, User, utcnow

F = TypeVar("F", bound=Callable[..., object])
TOKEN_PREFIX = "nxo_"  # noqa: S105  (a public prefix that makes leaked tokens greppable)
LAST_USED_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often: no write per request
READ_ROLE, WRITE_ROLE = "operativo", "jefe_operaciones"


@dataclass(frozen=True)
class Principal:
    """The caller of this request: an account (by session or by its token) or a service token."""

    role: str
    actor: str  # a readable name for the history: the email, or the token's name
    user_id: int | None = None
    token_id: int | None = None
    via_session: bool = False
    name: str = ""  # the account's display name, for the web pages' header
    language: str | None = None  # the account's chosen language for the web pages, None: the browser's


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lower_role(first: str, second: str) -> str:
    return first if ROLE_RANK[first] <= ROLE_RANK[second] else second


def has_role(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_RANK.get(role, -1) >= ROLE_RANK[needed]


def issue_token(
    name: str,
    role: str,
    replace: bool = False,
    user: User | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Store a new token and return it with its secret in clear, the only time the secret is visible.

    A user's token may not exceed the user's role: asking for more is an error, not a silent downgrade.
    """
    if role not in TOKEN_ROLES:
        raise ValueError(f"role must be one of {', '.join(TOKEN_ROLES)}")
    if user is not None and not has_role(user.role, role):
        raise ValueError(f"{user.email} is {user.role}: a token of theirs cannot be {role}")
    if replace:
        db.session.execute(
            update(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name, role=role, token_hash=hash_token(secret), user_id=user.id if user else None, expires_at=expires_at
    )
    db.session.add(row)
    db.session.commit()
    return row, secret


def create_token(name: str, role: str, replace: bool = False) -> str:
    """A service token (no account), as ``flask tokens create`` and the tests mint them."""
    return issue_token(name, role, replace=replace)[1]


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="nextops"'})


def install_auth(app: Flask) -> None:
    """Authenticate and authorise every routed ``/api/`` request, whichever blueprint serves it.

    Checking the path at app level means a new feature blueprint cannot forget authentication or its
    role. Unrouted paths fall through to their 404/405 without a database lookup.
    """

    @app.before_request
    def _guard_api() -> None:
        if request.path.startswith("/api/") and request.url_rule is not None:
            principal = authenticate()
            view = app.view_functions.get(request.endpoint or "")
            check_role(principal, required_role(view, request.method))
            if principal.via_session and request.method not in SAFE_METHODS:
                from app.accounts.sessions import check_api_csrf

                check_api_csrf()


def required_role(view: object, method: str) -> str:
    """The role a view needs: the one it declared with :func:`require_role`, else by method."""
    declared = getattr(view, "required_role", None)
    if declared:
        return declared
    return READ_ROLE if method in SAFE_METHODS else WRITE_ROLE


def check_role(principal: Principal, needed: str) -> None:
    if not has_role(principal.role, needed):
        raise ApiError(
            403, f"this needs the {needed!r} role; you have {principal.role!r}", "forbidden", required_role=needed
        )


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise _unauthorized("not signed in")
    return principal


def authenticate() -> Principal:
    """A bearer token if the request carries one, else the session cookie; 401 when neither is valid.

    A read's look-up is left in the request's transaction: the view's queries then run on the same
    pooled connection, so a small call checks out (and pre-pings) one connection, not two. The
    app-context teardown ends the transaction before a streamed body is sent, and the exports end
    theirs themselves before they stream from their own connection. See :func:`end_look_up_unless_read`
    for the other methods.
    """
    header = request.headers.get("Authorization", "")
    if header:
        principal = _token_principal(header)
    else:
        from app.accounts.sessions import session_principal

        principal = session_principal()
        if principal is None:
            raise _unauthorized("sign in (POST /login) or send 'Authorization: Bearer <token>'")
    g.principal = principal
    return principal


def end_look_up_unless_read() -> None:
    """Hand the caller's look-up connection back unless the request is a read.

    A request with a body (an upload, an import, a form) may read it for minutes before its next
    query; holding the connection meanwhile would keep PostgreSQL's transaction idle and take a pool
    slot per upload. A read's view queries at once, on the same connection (:func:`authenticate`).
    """
    if request.method not in SAFE_METHODS:
        db.session.commit()


def _token_principal(header: str) -> Principal:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    now = utcnow()
    row = db.session.execute(
        select(ApiToken, User)
        .outerjoin(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token.strip()), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        raise _unauthorized("invalid or revoked token")
    found, user = row
    token_id, name, role, expires_at, last_used = found.id, found.name, found.role, found.expires_at, found.last_used_at
    if user is not None:
        user_id, user_active, user_role, email = user.id, user.active, user.role, user.email
    if expires_at is not None and expires_at <= now:
        raise _unauthorized("token expired")
    if user is not None and not user_active:
        raise _unauthorized("the token's account is deactivated")
    if last_used is None or now - last_used >= LAST_USED_EVERY:
        _touch(token_id, now)
    end_look_up_unless_read()
    if user is None:
        return Principal(role=role, actor=f"token:{name}", token_id=token_id)
    return Principal(
        role=lower_role(role, user_role), actor=f"{email} (token:{name})", user_id=user_id, token_id=token_id
    )


def _touch(token_id: int, now: dt.datetime) -> None:
    """Record the use; the WHERE makes concurrent requests of the same minute write once."""
    db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_EVERY),
        )
        .values(last_used_at=now)
    )
    db.session.commit()
    current_app.logger.debug("token %s used", token_id)


def require_role(role: str) -> Callable[[F], F]:
    """Declare the role a view needs (higher roles pass); the ``/api/`` guard enforces it before the view runs."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: object, **kwargs: object) -> object:
            check_role(current_principal(), role)
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
