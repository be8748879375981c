"""The two export formats: how to parse ``?format=``, name the file and write the bytes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from app.errors import BadParameter
from app.exports.columns import LANGUAGES
from app.exports.csv_writer import CONTENT_TYPE as CSV_CONTENT_TYPE
from app.exports.csv_writer import csv_chunks
from app.exports.queries import Chunk, ExportDefinition
from app.exports.xlsx_writer import CONTENT_TYPE as XLSX_CONTENT_TYPE
from app.exports.xlsx_writer import MAX_ROWS, xlsx_chunks
from app.filters import Condition

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
        """``invoices-20261127-083005-America-El_Salvador.xlsx``: when, and in which zone the file's times are.

        The time is ``now`` in the export's zone; the zone's ``/`` becomes ``-`` (no ``/`` in a file name).
        Used by the Content-Disposition, the CLI's default name and the background jobs.
        """
        local = now.astimezone(definition.tzinfo)
        return f"{definition.name}-{local:%Y%m%d-%H%M%S}-{definition.zone.replace('/', '-')}.{self.name}"


FORMATS: dict[str, ExportFormat] = {
    "xlsx": ExportFormat(
        "xlsx",
        XLSX_CONTENT_TYPE,
        lambda definition, chunks: xlsx_chunks(definition.columns, chunks, definition.title, definition.tzinfo),
        MAX_ROWS - 1,
        postgres_prepared=True,
    ),
    "csv": ExportFormat(
        "csv",
        CSV_CONTENT_TYPE,
        lambda definition, chunks: csv_chunks(definition.columns, chunks, definition.tzinfo),
        None,
        True,
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


def parse_columns(values: list[str]) -> list[str] | None:
    """``columns=id,invoice_number,amount``: the keys in the order given, or None (every column) when absent.

    The keys are checked against the export by :meth:`ExportDefinition.with_columns`.
    """
    if not values:
        return None
    if len(values) > 1:
        raise BadParameter("columns", "given more than once; list the columns separated by commas")
    keys = [key.strip() for key in values[0].split(",")]
    if "" in keys:
        raise BadParameter("columns", "an empty column name; list the columns separated by commas")
    return keys


# Parameters that choose the file, not the rows: everything else is a list filter.
CHOICE_PARAMETERS = ("format", "lang", "columns")


@dataclass(frozen=True)
class ExportChoice:
    """One export as asked for: what goes in the file, in which format, and which rows."""

    definition: ExportDefinition
    export_format: ExportFormat
    conditions: list[Condition]


def parse_export(definition: ExportDefinition, args: MultiDict[str, str], zone: str) -> ExportChoice:
    """The streamed endpoints' query string or a background job's request, parsed by the same code (400s)."""
    export_format = parse_format(args.getlist("format"))
    definition = definition.localised(parse_language(args.getlist("lang")), zone)
    keys = parse_columns(args.getlist("columns"))
    if keys is not None:
        definition = definition.with_columns(keys)
    return ExportChoice(definition, export_format, definition.conditions(args, CHOICE_PARAMETERS))
