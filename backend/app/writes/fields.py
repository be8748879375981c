"""Field parsers and the one validation step per resource: every bad field named in ``error.fields``.

Money arrives as a decimal string (``"1250.50"``), never a float: a JSON number for money is refused,
because a float has already lost the cents before we see it. Dates are ISO ``YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from app.errors import ApiError
from app.extensions import db
from app.shipping_codes import dedupe, is_ot_number, normalise_ot_number, split_containers

MONEY_MAX = Decimal("999999999999.99")


class Invalid(ValueError):
    """One field's value is unusable; the message says what is expected."""


@dataclass(frozen=True)
class Field:
    """A writable field: its parser, whether a create needs it, and whether editing it is a key change."""

    name: str
    parse: Callable[[Any], Any]
    required: bool = False
    key: bool = False


def text(maximum: int, required: bool = False) -> Callable[[Any], str | None]:
    def parse(value: Any) -> str | None:
        if value is None:
            if required:
                raise Invalid("required")
            return None
        if not isinstance(value, str):
            raise Invalid("expected a string")
        # A browser's textarea sends CRLF and a spreadsheet cell may hold CR: both are a line break.
        value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not value:
            if required:
                raise Invalid("must not be empty")
            return None
        if any(ord(char) < 32 and char not in "\n\t" for char in value):
            raise Invalid("must not contain control characters")
        if len(value) > maximum:
            raise Invalid(f"at most {maximum} characters")
        return value

    return parse


def money(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise Invalid('expected a decimal string such as "1250.50" (not a JSON number: floats lose cents)')
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise Invalid(f"not a decimal number: {value!r}") from None
    if not amount.is_finite() or amount < 0 or amount > MONEY_MAX:
        raise Invalid("must be between 0 and 999999999999.99")
    if amount != amount.quantize(Decimal("0.01")):
        raise Invalid("at most two decimals")
    return amount.quantize(Decimal("0.01"))


def date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("expected a date as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def integer(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise Invalid(f"an integer from {low} to {high}")
        return value

    return parse


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("true or false")
    return value


def choice(allowed: Sequence[str] | Callable[[], Sequence[str]], nullable: bool = False) -> Callable[[Any], str | None]:
    def parse(value: Any) -> str | None:
        if value is None and nullable:
            return None
        options = allowed() if callable(allowed) else allowed
        if value not in options:
            raise Invalid(f"one of {', '.join(options)}")
        return value

    return parse


def reference(model: Any, nullable: bool = False) -> Callable[[Any], int | None]:
    def parse(value: Any) -> int | None:
        if value is None and nullable:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**63:
            raise Invalid("an id")
        if db.session.get(model, value) is None:
            raise Invalid(f"no {model.__tablename__[:-1]} with id {value}")
        return value

    return parse


def ot_number(value: Any) -> str:
    """An OT number as the import and the intake store it (``25ot 1327`` -> ``25OT1327``)."""
    raw = text(32, required=True)(value)
    number = normalise_ot_number(raw or "")
    if not is_ot_number(number):
        raise Invalid(f"{raw!r} is not an OT number (letters, digits and '-')")
    return number


def containers(value: Any) -> list[str]:
    """ISO 6346 numbers normalised as every other path does (:mod:`app.shipping_codes`); other text is refused."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value) or len(value) > 200:
        raise Invalid("a list of at most 200 container numbers")
    found: list[str] = []
    for item in value:
        codes, leftover = split_containers(item)
        if leftover or (item.strip() and not codes):
            raise Invalid(f"not a container number (4 letters + 7 digits): {item[:40]!r}")
        found += codes
    return dedupe(found)


def text_list(maximum: int) -> Callable[[Any], list[str]]:
    def parse(value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise Invalid("a list of strings")
        items = [item.strip().upper() for item in value if item.strip()]
        if any(len(item) > maximum for item in items) or len(items) > 200:
            raise Invalid(f"at most 200 items of at most {maximum} characters")
        return dedupe(items)

    return parse


def check(fields: Sequence[Field], body: Mapping[str, Any], creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse ``body`` against ``fields``: the values, and a message per bad field (empty when all is well).

    The import and the intake call this directly, to report a bad field as a row problem or a review
    reason; the API calls :func:`validate`, which turns the messages into one 422.
    """
    by_name = {field.name: field for field in fields}
    problems: dict[str, str] = {name: "unknown field" for name in body if name not in by_name}
    values: dict[str, Any] = {}
    for field in fields:
        if field.name not in body:
            if creating and field.required:
                problems[field.name] = "required"
            continue
        try:
            values[field.name] = field.parse(body[field.name])
        except Invalid as exc:
            problems[field.name] = str(exc)
    return values, problems


def validate(fields: Sequence[Field], body: object, creating: bool) -> dict[str, Any]:
    """Parse ``body`` against ``fields``: the values, or one 422 naming every bad field (400 if not an object)."""
    if not isinstance(body, Mapping):
        raise ApiError(400, "expected a JSON object body", "invalid_body")
    values, problems = check(fields, body, creating)
    if problems:
        raise ApiError(422, f"invalid fields: {', '.join(sorted(problems))}", "validation_failed", fields=problems)
    return values
