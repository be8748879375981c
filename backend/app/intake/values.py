"""Reading the values invoices write by hand: amounts, dates, NITs, MBLs.

Text from a PDF or a DTE is typed by many systems, so each reader accepts the forms seen in El
Salvador (``1,234.56``, ``$ 1.234,56``, ``15/03/2026``, ``15 de marzo de 2026``, ``0614-150390-101-2``)
and answers ``None`` rather than guess when a value does not fit.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

# Invoice.amount is Numeric(14, 2): anything at or above 10^12 cannot be stored.
MAX_AMOUNT = Decimal("999999999999.99")
CENT = Decimal("0.01")
MAX_NUMBER_TEXT = 40  # longer "numbers" are not amounts (and would be slow to parse)
MONTHS = {
    "ene": 1, "jan": 1, "feb": 2, "mar": 3, "abr": 4, "apr": 4, "may": 5, "jun": 6, "jul": 7,
    "ago": 8, "aug": 8, "sep": 9, "set": 9, "oct": 10, "nov": 11, "dic": 12, "dec": 12,
}  # fmt: skip
_NUMERIC_DATE = re.compile(r"(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{2,4})")
_WORD_DATE = re.compile(r"(\d{1,2})(?:\s+de\s+|[\s\-/.]+)([a-záéíóú]{3,10})\.?(?:\s+de\s+|[\s\-/.,]+)(\d{4})", re.I)
_NOT_DIGIT = re.compile(r"\D+")
_NOT_ALPHANUMERIC = re.compile(r"[^A-Z0-9]+")


def parse_amount(raw: object) -> Decimal | None:
    """A non-negative amount with two decimals, from a number or text such as ``US$ 1,234.56``."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | Decimal):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw))
    elif isinstance(raw, str):
        value = _amount_from_text(raw)
    else:
        return None
    if value is None or not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        return None
    return value.quantize(CENT)


def _amount_from_text(raw: str) -> Decimal | None:
    text = re.sub(r"[^\d.,\-]", "", raw)
    if not text or len(text) > MAX_NUMBER_TEXT:
        return None
    last_dot, last_comma = text.rfind("."), text.rfind(",")
    if last_dot != -1 and last_comma != -1:  # the later separator is the decimal one
        decimal_mark = "." if last_dot > last_comma else ","
    elif last_comma != -1:
        decimal_mark = "," if len(text) - last_comma - 1 == 2 and text.count(",") == 1 else ""
    else:
        decimal_mark = "." if text.count(".") == 1 else ""
    thousands = {".", ","} - {decimal_mark}
    for mark in thousands:
        text = text.replace(mark, "")
    if decimal_mark == ",":
        text = text.replace(",", ".")
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def parse_date(raw: object) -> dt.date | None:
    """A date written ``YYYY-MM-DD``, ``d/m/Y`` (El Salvador's order; ``m/d/Y`` only when the day
    cannot be a month), ``d-m-y``, ``15 de marzo de 2026`` or ``15-MAR-2026``."""
    if not isinstance(raw, str) or len(raw) > 60:
        return None
    text = raw.strip()
    match = _NUMERIC_DATE.search(text)
    if match:
        first, second, third = (int(part) for part in match.groups())
        if len(match.group(1)) == 4:
            year, month, day = first, second, third
        else:
            day, month, year = first, second, third
            if month > 12 >= day:
                day, month = month, day
            if year < 100:
                year += 2000
        return _date(year, month, day)
    match = _WORD_DATE.search(text)
    if match:
        month = MONTHS.get(match.group(2)[:3].lower().replace("é", "e"))
        if month:
            return _date(int(match.group(3)), month, int(match.group(1)))
    return None


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        value = dt.date(year, month, day)
    except ValueError:
        return None
    return value if 1990 <= value.year <= 2100 else None


def normalise_nit(raw: object) -> str | None:
    """A NIT (or DUI) as its digits only: ``0614-150390-101-2`` and ``06141503901012`` are one issuer."""
    if isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        return None
    digits = _NOT_DIGIT.sub("", raw)
    return digits if 9 <= len(digits) <= 17 else None


def normalise_bl(raw: str) -> str:
    """A bill of lading number in upper case without spaces, dashes or dots (``medu-ab 123`` -> ``MEDUAB123``)."""
    return _NOT_ALPHANUMERIC.sub("", raw.upper())
