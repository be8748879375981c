"""Audit rows: who changed what, old -> new, added to the same session (so the same transaction) as the change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import g

from app.extensions import db
from app.models import History, utcnow


def plain(value: Any) -> Any:
    """A JSON value for the history: money and dates as strings, as the API shows them."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def entry(resource: str, record_id: int, action: str, changes: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """A history row's values, for a caller that inserts many at once (the import writes one per OT)."""
    principal = g.get("principal")
    return {
        "resource": resource,
        "record_id": record_id,
        "action": action,
        "changes": {name: [plain(old), plain(new)] for name, (old, new) in changes.items()},
        "user_id": principal.user_id if principal else None,
        "token_id": principal.token_id if principal else None,
        "actor": principal.actor if principal else "system",
        "created_at": utcnow(),
    }


def record(resource: str, record_id: int, action: str, changes: dict[str, tuple[Any, Any]]) -> None:
    """Add a history row; it is committed or rolled back with the change it describes, never alone."""
    db.session.add(History(**entry(resource, record_id, action, changes)))


def history_json(row: History) -> dict[str, Any]:
    return {
        "id": row.id,
        "action": row.action,
        "changes": row.changes,
        "actor": row.actor,
        "user_id": row.user_id,
        "token_id": row.token_id,
        "at": row.created_at.isoformat(),
    }
