"""Keyset pagination on the primary key: constant cost per page however deep the client goes.

Pages are ordered by id descending (newest first). The cursor is opaque to clients: a versioned,
base64url-encoded id, so its format can change without breaking anyone who only passes it back.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import Select, select, union_all
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BooleanClauseList

from app.errors import BadParameter
from app.extensions import db
from app.ids import is_id

CURSOR_VERSION = "v1"


def or_arms(condition: Any) -> tuple[Any, ...]:
    """The arms of an ``OR`` of at least two conditions, else ``()``."""
    if isinstance(condition, BooleanClauseList) and condition.operator is operators.or_ and len(condition.clauses) > 1:
        return tuple(condition.clauses)
    return ()


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_VERSION}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> int:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        version, _, value = text.partition(":")
        last_id = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadParameter("cursor", "not a cursor this API issued") from None
    if version != CURSOR_VERSION or not is_id(last_id):
        raise BadParameter("cursor", "not a cursor this API issued")
    return last_id


def page_limit(raw: str | None) -> int:
    """Parse ``limit`` within ``1..API_PAGE_MAX`` (default ``API_PAGE_DEFAULT``)."""
    maximum = current_app.config["API_PAGE_MAX"]
    if raw is None:
        return min(current_app.config["API_PAGE_DEFAULT"], maximum)
    try:
        limit = int(raw)
    except ValueError:
        raise BadParameter("limit", f"expected an integer, got {raw!r}") from None
    if not 1 <= limit <= maximum:
        raise BadParameter("limit", f"must be between 1 and {maximum}")
    return limit


@dataclass(frozen=True)
class Page:
    """One page, newest first: ``next`` continues with older rows, ``previous`` goes back to newer ones."""

    rows: Sequence[Any]
    next: str | None
    previous: str | None


def paginate(
    stmt: Select[Any], id_column: Any, cursor: str | None, limit: int, conditions: Sequence[Any] = ()
) -> tuple[Sequence[Any], str | None]:
    """Run ``stmt`` filtered by ``conditions`` for one page after ``cursor``; return the rows and the next cursor."""
    page = keyset_page(stmt, id_column, limit, conditions, after=cursor)
    return page.rows, page.next


def keyset_page(
    stmt: Select[Any],
    id_column: Any,
    limit: int,
    conditions: Sequence[Any] = (),
    after: str | None = None,
    before: str | None = None,
) -> Page:
    """One page of ``stmt`` filtered by ``conditions``: older than ``after``, or the newer page before ``before``.

    Going back reads ``id > before`` in ascending order and turns the rows round, so both directions
    cost the same one index range. A condition that is an OR of several arms (the free-text search)
    becomes "the newest ids of each arm": one ``ORDER BY id DESC LIMIT n`` per arm, merged. The page
    is the same rows the OR gives, but each arm is planned on its own, so PostgreSQL reads a rare term
    from its index and walks the id index only for a common one; planned as one OR it can walk the
    whole table for a rare term whose matches are fewer than a page.

    ``stmt`` selects one entity (the rows are its objects) or several columns (the rows are plain rows
    with an ``id``, as the API's lists read them: :mod:`app.api.lists`).
    """
    backwards = before is not None
    bounds = []
    if before is not None:
        bounds.append(id_column > decode_cursor(before))
    elif after:
        bounds.append(id_column < decode_cursor(after))
    order = id_column.asc() if backwards else id_column.desc()
    wanted = limit + 1
    searched = [condition for condition in conditions if or_arms(condition)]
    if len(searched) == 1:
        others = [condition for condition in conditions if condition is not searched[0]]
        newest = union_all(
            *(
                select(sub.c.id)
                for sub in (
                    select(id_column.label("id")).where(*others, *bounds, arm).order_by(order).limit(wanted).subquery()
                    for arm in or_arms(searched[0])
                )
            )
        ).subquery()
        stmt = stmt.where(id_column.in_(select(newest.c.id)))
    else:
        stmt = stmt.where(*conditions, *bounds)
    result = db.session.execute(stmt.order_by(order).limit(wanted))
    rows = list(result.scalars().all() if len(result.keys()) == 1 else result.all())
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
        older, newer = bool(rows), more
    else:
        older, newer = more, bool(after and rows)
    return Page(rows, encode_cursor(rows[-1].id) if older else None, encode_cursor(rows[0].id) if newer else None)
