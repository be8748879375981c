"""On PostgreSQL the XLSX export's SELECT returns each cell's text, so Python only assembles the sheet XML.

What :func:`app.exports.xlsx_writer._values` does per value in Python is done here by the database,
in the same statement: dates become Excel serial numbers (days since 1899-12-30), timestamps (stored
in UTC) the serial of their wall-clock time in the export's zone with the time of day as the
fraction (exact decimal text, which every reader parses to the nearest double), amounts and
fractions numeric text (NaN/Infinity, not valid in ``<v>``, blank), ids text, an OT's containers
joined with ``", "``. Text stays as it is: the writer still checks each column for characters to
escape, formula triggers and edge spaces.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, Select, Text, cast, extract, func, literal
from sqlalchemy.sql.elements import ColumnElement

from app.exports.columns import Column, Kind
from app.exports.pg_csv import CopyOut, _joined_list
from values import EXCEL_EPOCH

UNIX_EPOCH_SERIAL = (dt.date(1970, 1, 1) - EXCEL_EPOCH).days  # 25569
SECONDS_PER_DAY = 86_400


def _cell_text(kind: Kind, value: ColumnElement[Any], zone: str) -> ColumnElement[Any]:
    if kind is Kind.TEXT:
        return value
    if kind is Kind.LIST:
        return _joined_list(value)
    if kind is Kind.DATE:
        return cast(value - literal(EXCEL_EPOCH), Text)
    if kind is Kind.DATETIME:
        # naive UTC -> timestamptz -> naive local time; the epoch of a naive timestamp counts its wall clock.
        local = func.timezone(zone, func.timezone("UTC", value))
        return cast(extract("epoch", local) / SECONDS_PER_DAY + UNIX_EPOCH_SERIAL, Text)
    if kind in (Kind.MONEY, Kind.PERCENT):
        text = cast(value, Text)
        return func.nullif(func.nullif(func.nullif(text, "NaN"), "Infinity"), "-Infinity")
    return cast(value, Text)


def prepared_select(columns: Sequence[Column], stmt: Select[Any], zone: str) -> Select[Any]:
    """``stmt`` (the export SELECT: same FROM, WHERE and ORDER BY) with every column as its cell's text."""
    expressions = {expression.key: expression.element for expression in stmt.selected_columns}
    cells = [_cell_text(column.kind, expressions[column.key], zone).label(column.key) for column in columns]
    return stmt.with_only_columns(*cells, maintain_column_froms=True)


_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_ESCAPED = re.compile(r"\\(.)")


def _unescape(value: str) -> str:
    """COPY's text format escapes backslash, TAB, LF, CR, BS, FF and VT; everything else comes as it is."""
    return _ESCAPED.sub(lambda match: _ESCAPES.get(match.group(1), match.group(1)), value)


class CopyRowStream:
    """The prepared SELECT's rows through ``COPY ... TO STDOUT (FORMAT text, NULL '')``, as lists of str.

    COPY streams: PostgreSQL computes the next rows while this worker writes XML, where a named
    cursor's FETCH would leave one side idle while the other works (a third of the XLSX time at
    100k rows). Text format, with NULL written as nothing, splits with two ``str.split`` per chunk;
    only a chunk holding a backslash (an escaped TAB, LF, CR or backslash in some text) is unescaped
    value by value. Empty and NULL are the same to the writer: no cell.
    """

    def __init__(self, engine: Engine, stmt: Select[Any], chunk_size: int, zone: str) -> None:
        self.rows_read = 0
        self.chunk_size = chunk_size
        self._copy = CopyOut(engine, stmt, "FORMAT text, NULL ''", zone)
        self.connection = self._copy.connection
        try:
            self._first: list[list[str]] | None = self._chunk()
        except BaseException:
            self.close()
            raise

    def _chunk(self) -> list[list[str]]:
        rows = self._copy.rows(self.chunk_size)
        if not rows:
            return []
        text = b"".join(rows).decode()
        lines = text.split("\n")
        lines.pop()  # every row ends with LF
        parsed = [line.split("\t") for line in lines]
        if "\\" in text:
            parsed = [[_unescape(value) if "\\" in value else value for value in row] for row in parsed]
        self.rows_read += len(parsed)
        return parsed

    def chunks(self) -> Iterator[list[list[str]]]:
        """Yield the rows chunk by chunk; the connection is closed as soon as the last one is read."""
        try:
            chunk, self._first = self._first or [], None
            while chunk:
                yield chunk
                chunk = self._chunk()
        finally:
            self.close()

    def close(self) -> None:
        self._first = None
        self._copy.close()
