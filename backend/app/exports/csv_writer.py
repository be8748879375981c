"""CSV bytes, chunk by chunk: UTF-8 with a BOM, a header row, ISO dates and ``.`` decimals.

Timestamps are stored in UTC (naive) and written in the export's zone with their offset
(``2026-11-27 09:05:09-06:00``): a reader knows the wall-clock time the team saw and the instant.

The BOM makes Excel read the file as UTF-8 (the data has accents); ``csv.writer`` does the quoting.
Each chunk of rows is turned into columns, the columns that need it are converted (text neutralised
against formula injection, lists joined, timestamps to the second), and the rows
are written into a small text buffer drained after the chunk: memory holds one chunk at most. Dates,
integers and decimals need no conversion: ``str()`` already gives ``2026-11-27`` and ``1234.50``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any

from app.exports.cells import joined, neutralise_column
from app.exports.columns import Chunk, Column, Kind

BOM = "\ufeff"
CONTENT_TYPE = "text/csv; charset=utf-8"

ColumnTransform = Callable[[Sequence[Any]], Sequence[Any]]


def local_time(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """A stored (naive UTC) timestamp as an aware datetime in ``zone``."""
    return value.replace(tzinfo=dt.UTC).astimezone(zone)


def _timestamps(values: Sequence[dt.datetime | None], zone: dt.tzinfo) -> list[str | None]:
    return [
        local_time(value, zone).isoformat(sep=" ", timespec="seconds") if value is not None else None
        for value in values
    ]


def _lists(values: Sequence[list[str] | None]) -> Sequence[str | None]:
    return neutralise_column([joined(value) for value in values])


def _transforms(zone: dt.tzinfo) -> dict[Kind, ColumnTransform]:
    return {
        Kind.TEXT: neutralise_column,
        Kind.LIST: _lists,
        Kind.DATETIME: lambda values: _timestamps(values, zone),
    }


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data


def csv_header(columns: Sequence[Column]) -> bytes:
    """BOM and header line, as both CSV paths (this writer and PostgreSQL's, app/exports/pg_csv.py) start."""
    buffer = io.StringIO()
    buffer.write(BOM)
    csv.writer(buffer, lineterminator="\r\n").writerow([column.header for column in columns])
    return _drain(buffer)


def csv_chunks(columns: Sequence[Column], chunks: Iterable[Chunk], zone: dt.tzinfo) -> Generator[bytes, None, None]:
    """Yield the CSV file as bytes, one piece per chunk of rows (the first piece carries BOM and header).

    ``zone``: the time zone timestamps are written in, with their offset.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([column.header for column in columns])
    kinds = _transforms(zone)
    transforms = [(index, kinds[column.kind]) for index, column in enumerate(columns) if column.kind in kinds]
    for chunk in chunks:
        if not chunk:
            continue
        values = list(zip(*chunk, strict=True))
        for index, transform in transforms:
            values[index] = transform(values[index])
        writer.writerows(zip(*values, strict=True))
        yield _drain(buffer)
    if buffer.tell():
        yield _drain(buffer)
