"""Extraction patterns: which regular expression finds which invoice field, tried by priority, time-bounded.

Patterns are data (``ExtractionPattern`` rows, editable by admins, plus the built-in
``default_patterns.json``), so a provider that changes its invoice layout needs no deploy. Because an
admin types them, every pattern is compiled and run with the ``regex`` package's ``timeout``: a
catastrophic pattern (``(a+)+$``) costs at most that long and is reported, it never hangs the worker.

Order: the provider's own active patterns by priority, then the generic ones (no provider) by
priority, then the built-in defaults. A single-valued field (number, date, total) takes the first
pattern that gives a value that parses; a list field (MBLs, containers, OT numbers) takes the values
of every pattern, in order, without repeats, because matching to an OT checks each against the
database anyway.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import regex
from sqlalchemy import or_, select

from app.extensions import db
from app.intake.values import normalise_bl, parse_amount, parse_date
from app.models import ExtractionPattern
from app.shipping_codes import dedupe, is_ot_number, normalise_ot_number, split_containers

SCALAR_FIELDS = ("invoice_number", "issue_date", "total")
LIST_FIELDS = ("master_bl", "containers", "ot_numbers")
FIELDS = SCALAR_FIELDS + LIST_FIELDS
REFERENCE_FIELDS = LIST_FIELDS
MAX_PATTERN_LENGTH = 1000
MAX_MATCHES = 50  # per pattern: enough for an invoice, bounded for a hostile text
MAX_VALUE_LENGTH = 64  # Invoice.invoice_number is String(64); no reference is longer
DEFAULTS_FILE = Path(__file__).with_name("default_patterns.json")


class PatternError(ValueError):
    """The pattern does not compile (the message is the regex module's)."""


class PatternTimeout(TimeoutError):
    """The pattern ran longer than its time bound on this text."""


@dataclass(frozen=True)
class Pattern:
    field: str
    source: str  # "provider", "generic" or "default"
    priority: int
    compiled: regex.Pattern[str]
    id: int | None = None

    @property
    def label(self) -> str:
        return f"pattern {self.id}" if self.id is not None else f"built-in {self.field} pattern"


@dataclass
class Extracted:
    """What the patterns found: typed scalar values, normalised reference lists, and what went wrong."""

    invoice_number: str | None = None
    issue_date: Any = None  # datetime.date
    total: Any = None  # Decimal
    references: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in REFERENCE_KEYS.values()})
    found_by: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# Pattern field -> key of Invoice.detected_references and of the intake answer.
REFERENCE_KEYS = {"master_bl": "master_bls", "containers": "containers", "ot_numbers": "ot_numbers"}


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile an admin's pattern (version 0 syntax, like ``re``); raise :class:`PatternError`."""
    if not isinstance(pattern, str) or not pattern:
        raise PatternError("pattern must be a non-empty string")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return regex.compile(pattern)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise PatternError(str(exc)) from None


def find_matches(compiled: regex.Pattern[str], text: str, timeout: float, limit: int = MAX_MATCHES) -> list[Any]:
    """Up to ``limit`` matches of ``compiled`` in ``text``; raise :class:`PatternTimeout` past ``timeout`` s."""
    found = []
    try:
        for match in compiled.finditer(text, timeout=timeout):
            found.append(match)
            if len(found) >= limit:
                break
    except TimeoutError:
        raise PatternTimeout(f"the pattern ran longer than {timeout:g} s") from None
    return found


def value_of(match: Any) -> str:
    """Group ``value`` if the pattern names one, else group 1, else the whole match; stripped."""
    if "value" in match.re.groupindex:
        value = match.group("value")
    elif match.re.groups:
        value = match.group(1)
    else:
        value = match.group(0)
    return (value or "").strip()


def normalised(field_name: str, raw: str) -> Any:
    """``raw`` as the field's type: a str, a date, a Decimal, or a list of reference codes; None if it does not fit."""
    if field_name == "invoice_number":
        value = " ".join(raw.split()).upper()
        return value if 0 < len(value) <= MAX_VALUE_LENGTH else None
    if field_name == "issue_date":
        return parse_date(raw)
    if field_name == "total":
        return parse_amount(raw)
    if field_name == "containers":
        return split_containers(raw)[0]
    if field_name == "ot_numbers":
        number = normalise_ot_number(raw)
        return [number] if is_ot_number(number) and len(number) <= 32 else []
    if field_name == "master_bl":
        bl = normalise_bl(raw)
        return [bl] if 6 <= len(bl) <= MAX_VALUE_LENGTH else []
    raise ValueError(f"unknown field {field_name!r}")


def extract(text: str, patterns: Iterable[Pattern], timeout: float, fields: Iterable[str] = FIELDS) -> Extracted:
    """Run ``patterns`` over ``text`` for ``fields``: scalars from the first pattern that fits, lists from all."""
    wanted = set(fields)
    result = Extracted()
    for pattern in patterns:
        if pattern.field not in wanted:
            continue
        if pattern.field in SCALAR_FIELDS and getattr(result, pattern.field) is not None:
            continue
        try:
            matches = find_matches(pattern.compiled, text, timeout)
        except PatternTimeout:
            result.warnings.append(f"{pattern.label} ({pattern.field}) timed out after {timeout:g} s; skipped")
            continue
        for match in matches:
            value = normalised(pattern.field, value_of(match))
            if pattern.field in SCALAR_FIELDS:
                if value is not None:
                    setattr(result, pattern.field, value)
                    result.found_by[pattern.field] = pattern.label
                    break
            else:
                key = REFERENCE_KEYS[pattern.field]
                result.references[key] = dedupe([*result.references[key], *value])
    return result


def patterns_for(provider_id: int | None) -> list[Pattern]:
    """The provider's active patterns, then the generic ones, each by priority (then id), then the defaults."""
    condition = ExtractionPattern.provider_id.is_(None)
    if provider_id is not None:
        condition = or_(condition, ExtractionPattern.provider_id == provider_id)
    rows = db.session.scalars(
        select(ExtractionPattern)
        .where(ExtractionPattern.active.is_(True), condition)
        .order_by(ExtractionPattern.provider_id.is_(None), ExtractionPattern.priority, ExtractionPattern.id)
    ).all()
    result = []
    for row in rows:
        try:
            compiled = compile_pattern(row.pattern)
        except PatternError:
            continue  # written before validation existed, or by hand in the database: never fatal
        source = "generic" if row.provider_id is None else "provider"
        result.append(Pattern(row.field, source, row.priority, compiled, row.id))
    return [*result, *default_patterns()]


@cache
def default_patterns() -> tuple[Pattern, ...]:
    """The built-in patterns shipped as data in ``default_patterns.json``, by priority."""
    entries = json.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))["patterns"]
    patterns = [
        Pattern(entry["field"], "default", int(entry["priority"]), compile_pattern(entry["pattern"]))
        for entry in entries
    ]
    return tuple(sorted(patterns, key=lambda p: (FIELDS.index(p.field), p.priority)))


def validated_field(raw: object, fail: Callable[[str], Exception]) -> str:
    if raw not in FIELDS:
        raise fail(f"field must be one of {', '.join(FIELDS)}")
    return str(raw)
