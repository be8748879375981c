"""The invoice and OT lists: the API's filters as a GET form, keyset pages, tabs with (capped) counts, exports.

The query string is the API's own (``provision_status=pending&q=MSC``), so a page's URL can be
bookmarked, and its Export links are the same filter on the streamed endpoints. Empty form fields
are dropped before :mod:`app.filters` sees them (a GET form sends ``q=`` for an empty box).
Counting every match of a broad filter over a million invoices is slow, so a count stops at
:data:`COUNT_CAP` and is shown as "about N" from PostgreSQL's own estimate above that.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select, text, union
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import MultiDict

from app.errors import BadParameter
from app.extensions import db
from app.filters import Condition
from app.pagination import Page, keyset_page, or_arms

PAGE_SIZE = 50
COUNT_CAP = 10_000
PAGING_KEYS = ("cursor", "before")


@dataclass(frozen=True)
class Count:
    value: int
    exact: bool


@dataclass
class Listing:
    page: Page
    args: MultiDict[str, str]  # the filter, without paging
    error: str | None = None

    def url(self, path: str, **changes: str | None) -> str:
        """``path`` with this filter and ``changes`` applied (None removes a key)."""
        args = MultiDict(self.args)
        for key, value in changes.items():
            args.poplist(key)
            if value is not None:
                args[key] = value
        query = urlencode(list(args.items(multi=True)))
        return f"{path}?{query}" if query else path

    def values(self, name: str) -> list[str]:
        """Every value of a multi-value filter (comma lists split), for the checkboxes."""
        return [part for raw in self.args.getlist(name) for part in raw.split(",") if part]


def cleaned(args: MultiDict[str, str]) -> MultiDict[str, str]:
    return MultiDict([(key, value) for key, value in args.items(multi=True) if value.strip()])


def filter_only(args: MultiDict[str, str]) -> MultiDict[str, str]:
    return MultiDict([(key, value) for key, value in args.items(multi=True) if key not in PAGING_KEYS])


def listing(
    args: MultiDict[str, str],
    stmt: Any,
    id_column: Any,
    conditions: Callable[[MultiDict[str, str]], list[Condition]],
) -> Listing:
    """One page for the filter in ``args``; a bad filter is reported on the page (no rows), not as an error page."""
    args = cleaned(args)
    try:
        where = conditions(filter_only(args))
        page = keyset_page(stmt, id_column, PAGE_SIZE, where, after=args.get("cursor"), before=args.get("before"))
    except BadParameter as exc:
        db.session.rollback()
        return Listing(Page([], None, None), filter_only(args), exc.description)
    return Listing(page, filter_only(args))


def capped_count(model: Any, where: Sequence[Condition]) -> Count:
    """The exact number of matches up to :data:`COUNT_CAP`; above it, the planner's estimate (PostgreSQL).

    A free-text OR is counted arm by arm (each capped, then the distinct ids of all), for the reason
    :func:`app.pagination.keyset_page` pages it that way: planned as one OR, a rare term can make
    PostgreSQL read the whole table.
    """
    found = db.session.scalar(select(func.count()).select_from(_capped_ids(model, where))) or 0
    if found <= COUNT_CAP:
        return Count(found, exact=True)
    return Count(max(_estimate(select(model.id).where(*where)), COUNT_CAP), exact=False)


def _capped_ids(model: Any, where: Sequence[Condition]) -> Any:
    searched = [condition for condition in where if or_arms(condition)]
    if len(searched) != 1:
        return select(model.id).where(*where).limit(COUNT_CAP + 1).subquery()
    others = [condition for condition in where if condition is not searched[0]]
    arms = (
        select(model.id.label("id")).where(*others, arm).limit(COUNT_CAP + 1).subquery()
        for arm in or_arms(searched[0])
    )
    return union(*(select(arm.c.id) for arm in arms)).subquery()


def _estimate(stmt: Any) -> int:
    """PostgreSQL's row estimate for ``stmt`` (EXPLAIN, not run); on SQLite or on failure the cap."""
    if db.engine.dialect.name != "postgresql":
        return COUNT_CAP
    try:
        compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        plan = db.session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar()
    except (SQLAlchemyError, NotImplementedError, TypeError, ValueError):
        db.session.rollback()
        return COUNT_CAP
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])
