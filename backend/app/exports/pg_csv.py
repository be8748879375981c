"""CSV written by PostgreSQL's ``COPY (SELECT ...) TO STDOUT (FORMAT csv)``, streamed to the client as it comes.

The export SELECT is rewritten so each column is already the text today's writer puts in that field
(:mod:`app.exports.csv_writer`): text neutralised against formula injection with a leading ``'``,
empty text as NULL, a list joined with ``", "``, timestamps cut to the second and written in the
export's zone with their offset (the connection's ``TimeZone`` is set to it; ``TZH:TZM`` prints the
offset as Python's ``isoformat`` does, for every zone offset of whole minutes, which is all of them since 1921);
dates and numbers are PostgreSQL's own output (DateStyle ISO: ``2026-11-27``; numeric as stored,
which is what ``str(Decimal)`` gives for it). COPY's CSV then quotes exactly as ``csv.writer``'s
QUOTE_MINIMAL does (a field holding ``,``, ``"``, CR or LF is quoted, quotes doubled; NULL is
nothing, and no field is an empty string, which COPY would write as ``""``) and passes control
characters through as csv.writer does. The one difference, COPY's LF after each row where
csv.writer writes CRLF, is fixed per row: COPY sends every row as one message, so its last byte is
the row's end. A test compares both writers' bytes on hostile data.

Why psycopg (3) and not psycopg2's ``copy_expert``: psycopg2 refuses ``copy_expert`` while a wait
callback is installed ("copy_expert cannot be used with an asynchronous callback"), and psycogreen
installs one in every gevent worker; its copy loop also reads with a blocking ``PQgetCopyData``,
which would freeze every greenlet of the worker for the length of the export. psycopg 3 waits
cooperatively under gevent (since 3.1.14) and its COPY is read by pulling: a row is read from the
connection only when the response generator asks for the next piece, so a slow client leaves the
rows in PostgreSQL's socket buffer (backpressure) and the worker's memory holds one piece.

Each export opens its own short-lived psycopg connection (outside SQLAlchemy's pool: the export
holds it for its whole length, which is why ``EXPORT_MAX_CONCURRENT`` bounds it). psycopg is
imported here, when the first CSV export runs, not by every worker at boot.
"""

from __future__ import annotations

import select as io_select
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, Select, Text, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from app.exports.cells import FORMULA_TRIGGERS, QUOTE
from app.exports.columns import Column, Kind
from app.exports.csv_writer import csv_header
from app.exports.turns import Turns


def _neutralised(text: ColumnElement[Any]) -> ColumnElement[Any]:
    """:func:`app.exports.cells.neutralise` in SQL; '' becomes NULL (both are written as nothing).

    ``ascii()`` is the code point of the first character (0 for ''): an integer test, no substring.
    """
    triggers = sorted(ord(char) for char in FORMULA_TRIGGERS)
    # Letters, the usual first character, pass after one comparison; the IN list (the slow part) only
    # sees the rest. A trigger never sorts above "@", the last of them.
    return case(
        (func.ascii(text) > max(triggers), text),
        (func.ascii(text).in_(triggers), QUOTE + text),
        (text != "", text),
    )


# A JSON array of plain strings as SQLAlchemy's json.dumps writes it: ["A", "B"], no escapes inside.
_SIMPLE_STRING_LIST = r'^\["[^"\\]*"(, "[^"\\]*")*\]$'


def _joined_list(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """:func:`app.exports.cells.joined` for a JSON list of strings: ``", "``-joined, NULL when empty.

    The common case, a list of strings without escapes, is cut out of the JSON text directly (the
    characters between the quotes are the strings: ~1 us per row); anything else (escapes, other
    spacing) goes through ``json_array_elements_text``, exact but a subquery per row (~7 us).
    """
    text = cast(value, Text)
    elements = func.json_array_elements_text(value).table_valued("value", with_ordinality="ordinality")
    joined = select(
        func.string_agg(elements.c.value, aggregate_order_by(literal(", ", Text), elements.c.ordinality))
    ).scalar_subquery()
    return case(
        (
            text.regexp_match(_SIMPLE_STRING_LIST),
            func.replace(func.substr(text, 3, func.length(text) - 4), '", "', ", "),
        ),
        # A JSON null (what the JSON type stores for None) is no list: NULL, as joined(None) is None.
        (func.json_typeof(value) == "array", joined),
    )


def csv_field_select(columns: Sequence[Column], stmt: Select[Any]) -> Select[Any]:
    """``stmt`` (the export SELECT: same FROM, WHERE and ORDER BY) with each column as its CSV field text.

    Every expression refers to its column's value, never to another expression, so PostgreSQL
    computes nothing twice (a list is neutralised with one ``regexp_replace`` for that reason).
    """
    expressions = {expression.key: expression.element for expression in stmt.selected_columns}
    fields = [_field(column.kind, expressions[column.key]).label(column.key) for column in columns]
    return stmt.with_only_columns(*fields, maintain_column_froms=True)


def _field(kind: Kind, value: ColumnElement[Any]) -> ColumnElement[Any]:
    if kind is Kind.TEXT:
        return _neutralised(cast(value, Text))
    if kind is Kind.LIST:
        return func.nullif(func.regexp_replace(_joined_list(value), _FORMULA_START, "'\\1"), "")
    if kind is Kind.DATETIME:
        # Stored as naive UTC: AT TIME ZONE 'UTC' makes it a timestamptz, printed in the session's zone.
        # isoformat(timespec="seconds") truncates too.
        return func.to_char(func.timezone("UTC", func.date_trunc("second", value)), "YYYY-MM-DD HH24:MI:SSTZH:TZM")
    return value  # integers, numerics and dates: COPY prints them as str() of what psycopg2 returns


# A first character that makes a spreadsheet read a formula; the replacement puts a quote before it.
_FORMULA_START = "^([" + "".join(sorted(FORMULA_TRIGGERS)).replace("-", "") + "-])"


def _wait_readable(fd: int) -> None:
    """Until the connection has data; under gevent ``select`` is patched, so other greenlets run meanwhile."""
    io_select.select([fd], [], [])


class CopyOut:
    """``COPY (stmt) TO STDOUT (options)`` on a connection of its own, read a chunk of rows at a time.

    The constructor connects and starts the COPY (a failing statement raises here); :meth:`rows`
    returns up to ``count`` rows, each one COPY message (LF-terminated), and ``[]`` at the end;
    :meth:`close` is idempotent and closes the connection, mid-COPY too (the server then ends it).

    The COPY is driven through libpq's non-blocking calls (``psycopg.pq``): ``get_copy_data`` hands
    over the rows already received, and only when there are none does the reader wait for the
    socket. psycopg's own ``Copy`` iterator does the same with ~60% more Python per row (measured:
    3.5 against 2.2 us of CPU per row at 100k rows), which a gevent worker shares with every request.
    """

    def __init__(self, engine: Engine, stmt: Select[Any], options: str, zone: str) -> None:
        import psycopg  # only the exports on PostgreSQL need it: not imported at boot (worker memory)

        self._done = False
        self._closed = False
        compiled = stmt.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.connection = psycopg.connect(url, autocommit=True, client_encoding="UTF8")
        try:
            self.connection.execute("SET datestyle TO 'ISO, YMD'")
            self.connection.execute("SELECT set_config('TimeZone', %s, false)", [zone])
            # Values inlined by psycopg's own quoting: COPY takes no parameters.
            query = psycopg.ClientCursor(self.connection).mogrify(str(compiled), compiled.params)
            self._pg = self.connection.pgconn
            self._start(f"COPY ({query}) TO STDOUT ({options}, ENCODING 'UTF8')".encode())
        except BaseException:
            self.close()
            raise

    def _start(self, command: bytes) -> None:
        from psycopg import pq

        pg = self._pg
        pg.send_query(command)
        while pg.flush():  # non-blocking connection: a long statement may need several writes
            io_select.select([], [pg.socket], [])
        result = self._result()
        if result is None or result.status != pq.ExecStatus.COPY_OUT:
            self._raise(result)

    def _result(self) -> Any:
        pg = self._pg
        pg.consume_input()
        while pg.is_busy():
            _wait_readable(pg.socket)
            pg.consume_input()
        return pg.get_result()

    def _raise(self, result: Any) -> None:
        import psycopg

        message = result.error_message.decode(errors="replace") if result is not None else "no result"
        raise psycopg.DatabaseError(f"export COPY failed: {message.strip()}")

    def _finish(self) -> None:
        from psycopg import pq

        self._done = True
        while (result := self._result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                self._raise(result)

    def rows(self, count: int) -> list[Any]:
        """Up to ``count`` rows (each one COPY message, LF-terminated); fewer only at the end."""
        rows: list[Any] = []
        pg = self._pg
        while not self._done and len(rows) < count:
            size, data = pg.get_copy_data(1)
            if size > 0:
                rows.append(data)
            elif size == 0:  # nothing buffered: wait for the server, cooperatively
                _wait_readable(pg.socket)
                pg.consume_input()
            elif size == -1:
                self._finish()
            else:
                self._raise(pg.get_result())
        return rows

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.connection.close()


class PostgresCsvStream:
    """The CSV file as bytes from PostgreSQL's COPY, one piece per ``chunk_size`` rows.

    Like :class:`app.exports.queries.RowStream`, the constructor starts the query and reads the
    first chunk (a failing query raises before the response starts), and :meth:`close` is idempotent
    and closes the connection however the download ended.
    """

    def __init__(
        self, engine: Engine, columns: Sequence[Column], stmt: Select[Any], chunk_size: int, zone: str
    ) -> None:
        self.rows_read = 0
        self.columns = columns
        self.chunk_size = chunk_size
        self._copy = CopyOut(engine, csv_field_select(columns, stmt), "FORMAT csv", zone)
        self.connection = self._copy.connection
        try:
            self._first: list[Any] | None = self._chunk()
        except BaseException:
            self.close()
            raise

    def _chunk(self) -> list[Any]:
        rows = self._copy.rows(self.chunk_size)
        self.rows_read += len(rows)
        return rows

    def pieces(self) -> Iterator[bytes]:
        """BOM and header, then one piece per chunk of rows; the connection is closed after the last row."""
        try:
            rows, self._first = self._first or [], None
            piece = csv_header(self.columns)
            with Turns() as turns:
                while rows:
                    # Each row arrives as one COPY message ending in LF; csv.writer ends rows with CRLF.
                    yield piece + b"\r\n".join([row[:-1] for row in rows]) + b"\r\n"
                    turns.take()
                    piece = b""
                    rows = self._chunk()
            if piece:
                yield piece
        finally:
            self.close()

    def close(self) -> None:
        self._first = None
        self._copy.close()
