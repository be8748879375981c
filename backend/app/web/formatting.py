"""How the pages write dates, money and timestamps, as the team writes them whatever the language.

Dates ``DD/MM/YYYY``; money in US dollars ``$1,234.50`` (comma thousands, point decimals, as the
team's invoices and workbooks do); timestamps are stored in UTC (naive) and shown in ``APP_TIMEZONE``.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from decimal import Decimal

from flask import Flask, current_app

UTC = dt.UTC


def date(value: dt.date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.strftime("%d/%m/%Y")


def money(value: Decimal | int | str | None) -> str:
    """``Decimal("1234.5")`` -> ``$1,234.50``; a negative amount keeps its sign before the dollar."""
    if value is None or value == "":
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


@functools.lru_cache(maxsize=4)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def local(value: dt.datetime) -> dt.datetime:
    """A stored (naive UTC) timestamp in the team's zone."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(_zone(current_app.config["APP_TIMEZONE"]))


def timestamp(value: dt.datetime | None) -> str:
    """``DD/MM/YYYY HH:MM`` in ``APP_TIMEZONE``."""
    if value is None:
        return ""
    return local(value).strftime("%d/%m/%Y %H:%M")


def iso_date(value: dt.date | None) -> str:
    """The value an ``<input type=date>`` needs (the browser shows it in its own way)."""
    return value.isoformat() if value else ""


def install_filters(app: Flask) -> None:
    app.jinja_env.filters.update(date=date, money=money, timestamp=timestamp, iso_date=iso_date)
