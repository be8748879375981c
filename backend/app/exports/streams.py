"""Which path an export's bytes take: a Python writer over a row cursor, or CSV lines formatted by PostgreSQL.

Both open their own pooled connection and fetch the first chunk when constructed (a failing query
is a JSON 500, not a broken file), yield the file as bytes, count the rows read, and release the
connection on :meth:`close` (idempotent) however the download ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from sqlalchemy import Engine

from app.exports.formats import ExportFormat
from app.exports.pg_csv import PostgresCsvStream
from app.exports.pg_xlsx import CopyRowStream, prepared_select
from app.exports.queries import ExportDefinition, RowStream
from app.exports.turns import Turns
from app.exports.xlsx_writer import xlsx_chunks
from app.filters import Condition


def _taking_turns(chunks: Iterator[Any]) -> Iterator[Any]:
    """Pass the row chunks through, taking a turn after each (see :mod:`app.exports.turns`)."""
    with Turns() as turns:
        for chunk in chunks:
            yield chunk
            turns.take()


class ExportStream(Protocol):
    rows_read: int

    def pieces(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class WriterStream:
    """Rows from :class:`RowStream`, turned into bytes by the format's Python writer.

    On PostgreSQL, for a format with ``postgres_prepared`` (XLSX), the SELECT returns each cell's
    text (:func:`app.exports.pg_xlsx.prepared_select`), read through COPY as plain lists of str.
    """

    def __init__(
        self,
        engine: Engine,
        definition: ExportDefinition,
        export_format: ExportFormat,
        conditions: list[Condition],
        chunk_size: int,
    ) -> None:
        stmt = definition.select(conditions)
        self._prepared = export_format.postgres_prepared and engine.dialect.name == "postgresql"
        if self._prepared:
            self._rows: RowStream | CopyRowStream = CopyRowStream(
                engine, prepared_select(definition.columns, stmt, definition.zone), chunk_size, definition.zone
            )
        else:
            self._rows = RowStream(engine, stmt, chunk_size)
        self._definition = definition
        self._format = export_format

    @property
    def rows_read(self) -> int:
        return self._rows.rows_read

    def pieces(self) -> Iterator[bytes]:
        if self._prepared:
            definition = self._definition
            body = xlsx_chunks(
                definition.columns,
                _taking_turns(self._rows.chunks()),
                definition.title,
                definition.tzinfo,
                prepared=True,
            )
        else:
            body = self._format.write(self._definition, _taking_turns(self._rows.chunks()))
        try:
            yield from body
        finally:
            body.close()
            self._rows.close()

    def close(self) -> None:
        self._rows.close()


def open_export(
    engine: Engine,
    definition: ExportDefinition,
    export_format: ExportFormat,
    conditions: list[Condition],
    chunk_size: int,
) -> ExportStream:
    """The stream for this export: PostgreSQL-formatted CSV when the format and the database allow it."""
    if export_format.postgres_csv and engine.dialect.name == "postgresql":
        return PostgresCsvStream(
            engine, definition.columns, definition.select(conditions), chunk_size, definition.zone
        )
    return WriterStream(engine, definition, export_format, conditions, chunk_size)
