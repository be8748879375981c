"""``GET/POST /api/tokens``, ``DELETE /api/tokens/<id>``: admins manage every token, a person their own.

A token created here acts for the caller's account and cannot exceed its role; only an admin may
create a service token (``"service": true``, no account) or a token for another account.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.accounts import bp
from app.auth import Principal, current_principal, has_role, issue_token, require_role
from app.errors import ApiError
from app.extensions import db
from app.models import ROLES, ApiToken, User, utcnow

TOKEN_KEYS = frozenset({"name", "role", "expires_in_days", "service", "user_id"})


def token_json(row: ApiToken) -> dict[str, Any]:
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat(timespec="seconds") if value else None

    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "user_id": row.user_id,
        "owner": row.user.email if row.user else None,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "last_used_at": iso(row.last_used_at),
        "revoked_at": iso(row.revoked_at),
    }


def revoke_token(row: ApiToken) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    db.session.commit()


def _is_admin(principal: Principal) -> bool:
    return has_role(principal.role, "admin")


def _own_user(principal: Principal) -> int:
    if principal.user_id is None:
        raise ApiError(403, "a service token has no tokens of its own; an admin manages service tokens", "forbidden")
    return principal.user_id


@bp.get("/api/tokens")
@require_role("operativo")
def list_tokens() -> ResponseReturnValue:
    """Unrevoked tokens: every one for an admin, the caller's own for anyone else (``?all=1``: revoked too)."""
    principal = current_principal()
    stmt = select(ApiToken).order_by(ApiToken.id.desc())
    if not _is_admin(principal):
        stmt = stmt.where(ApiToken.user_id == _own_user(principal))
    if request.args.get("all") not in ("1", "true"):
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    return jsonify(items=[token_json(row) for row in db.session.scalars(stmt)])


@bp.post("/api/tokens")
@require_role("operativo")
def create_token_view() -> ResponseReturnValue:
    """A new token; the secret is in this answer and nowhere else, ever."""
    principal = current_principal()
    row, secret = create_for(principal, request.get_json(silent=True))
    return jsonify({**token_json(row), "token": secret}), 201


def create_for(principal: Principal, body: object) -> tuple[ApiToken, str]:
    """Validate a token request (the API's JSON, the account page's form) and issue the token.

    422 naming each bad field; 403 when it would exceed the owner's role or is a service token or
    another person's token asked for by someone who is not an admin.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object body", "invalid_body")
    fields: dict[str, str] = {}
    unknown = sorted(set(body) - TOKEN_KEYS)
    for key in unknown:
        fields[key] = "unknown field"
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        fields["name"] = "required, 1 to 100 characters"
    role = body.get("role", principal.role)
    if role not in ROLES:
        fields["role"] = f"one of {', '.join(ROLES)}"
    days = body.get("expires_in_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650):
        fields["expires_in_days"] = "an integer from 1 to 3650, or absent for no expiry"
    if fields:
        raise ApiError(422, "invalid token request", "validation_failed", fields=fields)
    owner: User | None
    if body.get("service") or body.get("user_id") is not None:
        if not _is_admin(principal):
            raise ApiError(
                403, "only an admin creates service tokens or tokens for others", "forbidden", required_role="admin"
            )
        owner = db.session.get(User, body["user_id"]) if body.get("user_id") is not None else None
        if body.get("user_id") is not None and owner is None:
            raise ApiError(422, "invalid token request", "validation_failed", fields={"user_id": "no such account"})
    else:
        owner = db.session.get(User, _own_user(principal))
    if owner is not None and not has_role(owner.role, role):
        raise ApiError(
            403, f"{owner.email} is {owner.role}: a token cannot have more ({role})", "forbidden", required_role=role
        )
    expires = utcnow() + dt.timedelta(days=days) if days else None
    return issue_token(name.strip(), role, user=owner, expires_at=expires)


@bp.delete("/api/tokens/<id:token_id>")
@require_role("operativo")
def revoke_token_view(token_id: int) -> ResponseReturnValue:
    revoke_token(revocable(current_principal(), token_id))
    return "", 204


def revocable(principal: Principal, token_id: int) -> ApiToken:
    """The token if ``principal`` may revoke it (an admin: any; anyone else: their own), else 404."""
    row = db.session.get(ApiToken, token_id)
    if row is None or (not _is_admin(principal) and row.user_id != _own_user(principal)):
        raise ApiError(404, f"token {token_id} not found")
    return row


def visible_tokens(principal: Principal, everyone: bool) -> Any:
    """The unrevoked tokens ``principal`` manages, newest first: everyone's for an admin who asks, else their own."""
    stmt = select(ApiToken).where(ApiToken.revoked_at.is_(None)).order_by(ApiToken.id.desc())
    if not (everyone and _is_admin(principal)):
        stmt = stmt.where(ApiToken.user_id == _own_user(principal))
    return stmt
