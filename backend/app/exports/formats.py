"""The two export formats: how to parse ``?format=``, name the file and write the bytes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass

from app.errors import BadParameter
from app.exports.columns import LANGUAGES
from app.exports.csv_writer import CONTENT_TYPE as CSV_CONTENT_TYPE
from app.exports.csv_writer import csv_chunks
from app.exports.queries import Chunk, ExportDefinition
from app.exports.xlsx_writer import CONTENT_TYPE as XLSX_CONTENT_TYPE
from app.exports.xlsx_writer import MAX_ROWS, xlsx_chunks

DEFAULT_FORMAT = "xlsx"


@dataclass(frozen=True)
class ExportFormat:
    name: str
    content_type: str
    write: Callable[[ExportDefinition, Iterable[Chunk]], Generator[bytes, None, None]]
    max_rows: int | None  # what the format itself can hold (an Excel sheet), None when unbounded
    # On PostgreSQL the database formats the lines itself (app/exports/pg_csv.py): same bytes, a fraction of the CPU.
    postgres_csv: bool = False
    # On PostgreSQL the SELECT returns each cell's text (app/exports/pg_xlsx.py), read as plain tuples.
    postgres_prepared: bool = False

    def filename(self, definition: ExportDefinition, now: dt.datetime) -> str:
        """``invoices-20261127-143005.xlsx`` (UTC), as the Content-Disposition and the CLI's default name."""
        return f"{definition.name}-{now:%Y%m%d-%H%M%S}.{self.name}"


FORMATS: dict[str, ExportFormat] = {
    "xlsx": ExportFormat(
        "xlsx",
        XLSX_CONTENT_TYPE,
        lambda definition, chunks: xlsx_chunks(definition.columns, chunks, definition.title),
        MAX_ROWS - 1,
        postgres_prepared=True,
    ),
    "csv": ExportFormat(
        "csv", CSV_CONTENT_TYPE, lambda definition, chunks: csv_chunks(definition.columns, chunks), None, True
    ),
}


def parse_format(values: list[str]) -> ExportFormat:
    """The ``format`` query parameter (given at most once; ``xlsx`` when absent)."""
    if len(values) > 1:
        raise BadParameter("format", "given more than once")
    name = (values[0] if values else DEFAULT_FORMAT).strip().lower()
    if name not in FORMATS:
        raise BadParameter("format", f"expected one of {', '.join(FORMATS)}, got {values[0]!r}")
    return FORMATS[name]


def parse_language(values: list[str]) -> str:
    """The ``lang`` query parameter: headings and words in Spanish (the team's, the default) or English."""
    if len(values) > 1:
        raise BadParameter("lang", "given more than once")
    lang = (values[0] if values else LANGUAGES[0]).strip().lower()
    if lang not in LANGUAGES:
        raise BadParameter("lang", f"expected one of {', '.join(LANGUAGES)}, got {values[0]!r}")
    return lang


def row_limit(export_format: ExportFormat, configured: int) -> int | None:
    """The tighter of ``EXPORT_MAX_ROWS`` (0 = none) and the format's own capacity, or None."""
    limits = [limit for limit in (configured or None, export_format.max_rows) if limit]
    return min(limits) if limits else None
