"""The shipment identifiers the team writes by hand: OT numbers and ISO 6346 container numbers.

They enter through imports, invoice documents and forms, typed with spaces, dashes or lower case
(``mscu 123456-7``). Every path normalises them here, so ``MSCU1234567`` is stored, searched and
matched one way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

OT_NUMBER = re.compile(r"[A-Z0-9-]+")
CONTAINER = re.compile(r"[A-Z]{4}[0-9]{7}")
_NOT_ALPHANUMERIC = re.compile(r"[^A-Z0-9]+")


def normalise_ot_number(raw: str) -> str:
    """Upper case without surrounding or inner spaces (``25ot 1327`` -> ``25OT1327``)."""
    return "".join(raw.split()).upper()


def is_ot_number(value: str) -> bool:
    return bool(OT_NUMBER.fullmatch(value))


def split_containers(raw: str) -> tuple[list[str], str]:
    """Container numbers found in ``raw`` (upper case, separators removed, duplicates dropped, in order),
    and whatever text was left over (empty when every character belonged to a number or a separator).

    Separators inside a number (``MSCU 123456-7``) and between numbers (``MSCU1234567/TGHU7654321``)
    are both removed before matching, so either way of writing gives the same numbers.
    """
    compact = _NOT_ALPHANUMERIC.sub("", raw.upper())
    found = dedupe(CONTAINER.findall(compact))
    return found, CONTAINER.sub("", compact)


def normalise_containers(values: Iterable[str]) -> list[str]:
    """The union of :func:`split_containers` over ``values``; leftovers are dropped."""
    return dedupe(code for value in values for code in split_containers(value)[0])


def dedupe(values: Iterable[str]) -> list[str]:
    """Drop repeats, keep the first occurrence's position."""
    return list(dict.fromkeys(values))
