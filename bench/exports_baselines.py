"""Export baselines for ``bench/exports.py``, each run in a fresh child process (bench-only code).

``python bench/exports_baselines.py METHOD DATABASE_URL OUT_FILE``: imports and connects, prints
``ready``, waits for ``go`` on stdin (the parent starts sampling this process's RSS in between), runs
the export, prints one JSON line. Every method except ``pg_copy`` reads the same SELECT as the
endpoint (``app.exports.queries.EXPORTS["invoices"]``) through the same server-side cursor
(``yield_per=EXPORT_CHUNK_SIZE``); they differ only in how the rows become a file:

- ``openpyxl_normal``: the old system's way, a normal ``openpyxl.Workbook`` saved at the end;
- ``openpyxl_write_only``: ``Workbook(write_only=True)``, flat memory but bytes only at ``save()``;
- ``csv_writer``: bare ``csv.writer`` over the raw rows, no formatting;
- ``pg_copy``: ``COPY (same SELECT) TO STDOUT CSV``, PostgreSQL formatting the CSV itself;
- ``nextops_xlsx`` / ``nextops_csv``: our writers in-process (no HTTP), to separate writer cost
  from serving cost.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from openpyxl import Workbook
from sqlalchemy import create_engine
from sqlalchemy.dialects import postgresql

from app.exports.columns import INVOICE_COLUMNS, Kind
from app.exports.csv_writer import csv_chunks
from app.exports.queries import EXPORTS
from app.exports.xlsx_writer import xlsx_chunks

CHUNK_SIZE = 100  # EXPORT_CHUNK_SIZE's default, as the server runs it
HEADERS = [column.header for column in INVOICE_COLUMNS]
LISTS = [index for index, column in enumerate(INVOICE_COLUMNS) if column.kind is Kind.LIST]


class TimedFile(io.FileIO):
    """A file that remembers when its first byte was written (the baseline's time to first byte)."""

    first_write: float | None = None

    def write(self, data) -> int:  # type: ignore[override]
        if self.first_write is None and len(data):
            self.first_write = time.perf_counter()
        return super().write(data)


def _chunks(connection) -> Iterator:
    result = connection.execution_options(yield_per=CHUNK_SIZE).execute(EXPORTS["invoices"].select([]))
    yield from result.partitions()


def _cells(row) -> list:
    """openpyxl cannot store a list: the list columns (containers, house BLs) become one string each."""
    values = list(row)
    for index in LISTS:
        values[index] = ", ".join(values[index] or ())
    return values


def _openpyxl(connection, out: TimedFile, workbook: Workbook, sheet) -> int:
    """Append every row to ``sheet`` and save: the same loop for both openpyxl modes."""
    sheet.append(HEADERS)
    rows = 0
    for chunk in _chunks(connection):
        for row in chunk:
            sheet.append(_cells(row))
        rows += len(chunk)
    workbook.save(out)
    return rows


def openpyxl_normal(connection, out: TimedFile) -> int:
    workbook = Workbook()
    return _openpyxl(connection, out, workbook, workbook.active)


def openpyxl_write_only(connection, out: TimedFile) -> int:
    workbook = Workbook(write_only=True)
    return _openpyxl(connection, out, workbook, workbook.create_sheet("Invoices"))


def csv_writer(connection, out: TimedFile) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(HEADERS)
    rows = 0
    for chunk in _chunks(connection):
        writer.writerows(chunk)
        rows += len(chunk)
    text.flush()
    text.detach()
    return rows


def pg_copy(connection, out: TimedFile) -> int:
    sql = EXPORTS["invoices"].select([]).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)", out)
        return cursor.rowcount


def _ours(write: Callable) -> Callable:
    def run(connection, out: TimedFile) -> int:
        counted = []

        def counting() -> Iterator:
            for chunk in _chunks(connection):
                counted.append(len(chunk))
                yield chunk

        for piece in write(counting()):
            out.write(piece)
        return sum(counted)

    return run


ZONE = ZoneInfo("America/El_Salvador")  # APP_TIMEZONE's default: the server's exports use it too
METHODS: dict[str, Callable] = {
    "openpyxl_normal": openpyxl_normal,
    "openpyxl_write_only": openpyxl_write_only,
    "csv_writer": csv_writer,
    "pg_copy": pg_copy,
    "nextops_xlsx": _ours(lambda chunks: xlsx_chunks(INVOICE_COLUMNS, chunks, "Invoices", ZONE)),
    "nextops_csv": _ours(lambda chunks: csv_chunks(INVOICE_COLUMNS, chunks, ZONE)),
}


def main() -> None:
    method, url, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    engine = create_engine(url)
    with engine.connect() as connection, TimedFile(out_path, "w") as out:
        connection.exec_driver_sql("SELECT 1")
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return
        started, cpu_started = time.perf_counter(), time.process_time()
        rows = METHODS[method](connection, out)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        ttfb = (out.first_write or time.perf_counter()) - started
    size = Path(out_path).stat().st_size
    print(json.dumps({"rows": rows, "seconds": seconds, "ttfb": ttfb, "bytes": size, "cpu": cpu}), flush=True)


if __name__ == "__main__":
    main()
