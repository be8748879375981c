"""Bearer-token authentication for everything under ``/api/``.

Tokens are 256-bit random strings, so a single sha256 is enough to store them safely (no slow KDF
needed: there is nothing to brute-force). Roles: ``admin`` can do everything, ``user`` cannot reach
admin-only endpoints such as the monitoring one.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, g, request
from sqlalchemy import select, update

from app.errors import ApiError
from app.extensions import db
from app.models import TOKEN_ROLES, ApiToken, utcnow

F = TypeVar("F", bound=Callable[..., object])
TOKEN_PREFIX = "nxo_"  # noqa: S105  (a public prefix that makes leaked tokens greppable)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(name: str, role: str, replace: bool = False) -> str:
    """Store a new token and return it in clear; the only time it is ever visible."""
    if role not in TOKEN_ROLES:
        raise ValueError(f"role must be one of {', '.join(TOKEN_ROLES)}")
    if replace:
        db.session.execute(
            update(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(name=name, role=role, token_hash=hash_token(token)))
    db.session.commit()
    return token


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="nextops"'})


def install_auth(app: Flask) -> None:
    """Require a bearer token on every routed ``/api/`` request, whichever blueprint serves it.

    Checking the path at app level means a new feature blueprint cannot forget authentication.
    Unrouted paths fall through to their 404/405 without a database lookup.
    """

    @app.before_request
    def _guard_api() -> None:
        if request.path.startswith("/api/") and request.url_rule is not None:
            authenticate()


def authenticate() -> None:
    """Resolve the bearer token into ``g.token_name`` / ``g.token_role`` or raise 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    row = db.session.execute(
        select(ApiToken.name, ApiToken.role).where(
            ApiToken.token_hash == hash_token(token.strip()), ApiToken.revoked_at.is_(None)
        )
    ).first()
    db.session.commit()  # end the read transaction: streamed responses must not hold it open
    if row is None:
        raise _unauthorized("invalid or revoked token")
    g.token_name, g.token_role = row.name, row.role


def require_role(role: str) -> Callable[[F], F]:
    """Restrict a view to ``role`` (admins pass every check)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: object, **kwargs: object) -> object:
            if g.get("token_role") not in (role, "admin"):
                raise ApiError(403, f"this endpoint needs the {role!r} role")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
