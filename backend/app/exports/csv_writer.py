"""CSV bytes, chunk by chunk: UTF-8 with a BOM, a header row, ISO dates and ``.`` decimals.

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


def _timestamps(values: Sequence[dt.datetime | None]) -> list[str | None]:
    return [value.isoformat(sep=" ", timespec="seconds") if value is not None else None for value in values]


def _lists(values: Sequence[list[str] | None]) -> Sequence[str | None]:
    return neutralise_column([joined(value) for value in values])


TRANSFORMS: dict[Kind, ColumnTransform] = {
    Kind.TEXT: neutralise_column,
    Kind.LIST: _lists,
    Kind.DATETIME: _timestamps,
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


def csv_chunks(columns: Sequence[Column], chunks: Iterable[Chunk]) -> Generator[bytes, None, None]:
    """Yield the CSV file as bytes, one piece per chunk of rows (the first piece carries BOM and header)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([column.header for column in columns])
    transforms = [(index, TRANSFORMS[column.kind]) for index, column in enumerate(columns) if column.kind in TRANSFORMS]
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
