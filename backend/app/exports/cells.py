"""Cell values shared by the XLSX and CSV writers: formula-injection neutralisation and readable text.

OWASP's CSV-injection advice: a text cell that starts with ``=``, ``+``, ``-``, ``@``, TAB, CR or LF
can be run as a formula by a spreadsheet, so it is prefixed with a single quote. Both formats apply
the same rule, so a value reads the same in either file. Numbers and dates are never text
cells and stay typed (a negative amount is still a number).

The writers transform a chunk column by column; :func:`neutralise_column` looks at the first
characters of a whole column at once and only rewrites values when one of them needs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

FORMULA_TRIGGERS = frozenset("=+-@\t\r\n")
QUOTE = "'"


def neutralise(text: str) -> str:
    """Prefix ``text`` with a quote when a spreadsheet could read it as a formula."""
    if text and text[0] in FORMULA_TRIGGERS:
        return QUOTE + text
    return text


def neutralise_column(values: Sequence[str | None]) -> Sequence[str | None]:
    """:func:`neutralise` every value of a column (None stays None); unchanged when no value needs it."""
    if FORMULA_TRIGGERS.isdisjoint({value[0] for value in values if value}):
        return values
    return [neutralise(value) if value else value for value in values]


def joined(values: Iterable[str] | None) -> str | None:
    """A list column (an OT's containers) as one comma-separated text cell."""
    if not values:
        return None
    return ", ".join(str(value) for value in values)
