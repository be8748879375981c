"""Row ids as the API accepts them: positive and within a signed 64-bit integer.

Both databases store ids as 64-bit integers, but they fail differently on a larger number: PostgreSQL
answers "no such row", SQLite's driver raises ``OverflowError`` while binding it (a 500). Bounding every
id where it enters (URL segments, filters, cursors, form fields) makes both answer the same 404/400.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

from app.errors import BadParameter

MAX_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    """``<id:name>`` in a route: digits in ``1..MAX_ID``; anything else does not match (404).

    The pattern stops at 19 digits: Werkzeug checks a rule's method before its converter, so with
    GET and PATCH on one path a too-long id would be a 405 instead of a 404 otherwise.
    """

    regex = r"\d{1,19}"

    def __init__(self, url_map: Any) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def parse_id(name: str, raw: str) -> int:
    """``raw`` as an id, or a 400 naming the parameter ``name``."""
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, f"expected an integer, got {raw!r}") from None
    if not 1 <= value <= MAX_ID:
        raise BadParameter(name, f"expected a positive id (at most {MAX_ID}), got {raw!r}")
    return value


def is_id(value: int) -> bool:
    """Whether ``value`` can be an id (for values decoded from a cursor)."""
    return 1 <= value <= MAX_ID
