"""Rows of an XLSX or CSV file on disk, one at a time, whatever the file's size.

XLSX: the zip-bomb guard runs first, then openpyxl in ``read_only`` mode (a streaming XML parse; the
normal mode builds every cell object, ~50x the file size), with a compact shared-strings table
(:mod:`app.imports.shared_strings`). openpyxl parses with defusedxml when it
is installed (it is a runtime dependency), which refuses entity and DTD tricks. ``reset_dimensions()``
discards the sheet's declared ``<dimension>``: read_only trusts it and pads every row out to the
declared width and the sheet out to the declared height, so a file claiming ``A1:XFD1048576`` would
turn three rows into a million rows of 16,384 cells.

CSV: the stdlib reader over the file (UTF-8, BOM tolerated), delimiter taken from the header line.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from app.imports.shared_strings import load_read_only
from app.imports.zipguard import UnsafeArchive, check_archive
from app.uploads.sniffing import CSV, XLSX

Row = Sequence[Any]
# Given the workbook's (sheet name, declared row count) list: the name to read, and a warning or None.
SheetChooser = Callable[[Sequence[tuple[str, int]]], tuple[str, str | None]]
CSV_DELIMITERS = (",", ";", "\t")
HEADER_SAMPLE = 64 * 1024


class SpreadsheetError(ValueError):
    """The file cannot be read as a spreadsheet; the message says why (shown to the user)."""


@dataclass
class Sheet:
    """The sheet being read: its name (``None`` for CSV), why it was chosen if that was not obvious, its rows."""

    name: str | None
    warning: str | None
    rows: Iterator[tuple[int, Row]]


def first_sheet(sheets: Sequence[tuple[str, int]]) -> tuple[str, str | None]:
    """The default chooser: a workbook with one sheet is read; with several, the caller must say which."""
    if len(sheets) == 1:
        return sheets[0][0], None
    raise SpreadsheetError(f"the workbook has {len(sheets)} sheets ({', '.join(n for n, _ in sheets)}); choose one")


@contextmanager
def open_sheet(path: str | Path, content_type: str, choose: SheetChooser = first_sheet) -> Iterator[Sheet]:
    """The chosen sheet of an XLSX file, or the rows of a CSV file; rows are numbered as the user sees them."""
    if content_type == CSV:
        choose([("csv", 1)])  # a CSV file is one sheet: a choice of another one is refused here too
        yield Sheet(None, None, csv_rows(path))
    elif content_type == XLSX:
        with _xlsx_workbook(path) as workbook:
            yield _choose(workbook, choose)
    else:
        raise SpreadsheetError(f"cannot import {content_type}; send an .xlsx or .csv file")


def xlsx_rows(path: str | Path) -> Iterator[tuple[int, Row]]:
    """Every row of a one-sheet workbook (what the guards are tested through)."""
    with open_sheet(path, XLSX) as sheet:
        yield from sheet.rows


@contextmanager
def _xlsx_workbook(path: str | Path) -> Iterator[Any]:
    if not openpyxl.DEFUSEDXML:
        raise RuntimeError("defusedxml must be installed (and OPENPYXL_DEFUSEDXML not False) to read XLSX")
    try:
        check_archive(path)
    except UnsafeArchive as exc:
        raise SpreadsheetError(f"rejected workbook: {exc}") from None
    with open(path, "rb") as file:  # a file object: openpyxl would otherwise insist on an .xlsx name
        try:
            workbook = load_read_only(file)
        except Exception as exc:  # any failure to open is the file's fault: report it, do not crash
            raise SpreadsheetError(f"not a readable XLSX workbook ({_reason(exc)})") from None
        try:
            yield workbook
        finally:
            workbook.close()


def _choose(workbook: Any, choose: SheetChooser) -> Sheet:
    if not workbook.worksheets:
        raise SpreadsheetError("the workbook has no worksheet")
    sizes = [(sheet.title, sheet.max_row or 0) for sheet in workbook.worksheets]  # as declared: cheap, a hint
    name, warning = choose(sizes)
    sheet = workbook[name]
    sheet.reset_dimensions()
    return Sheet(name, warning, _sheet_rows(sheet))


def _sheet_rows(sheet: Any) -> Iterator[tuple[int, Row]]:
    rows = enumerate(sheet.iter_rows(values_only=True), start=1)
    while True:
        try:
            item = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # malformed sheet XML, forbidden entities (defusedxml), bad zip data
            raise SpreadsheetError(f"the worksheet cannot be read ({_reason(exc)})") from None
        yield item


def _reason(exc: BaseException) -> str:
    """The innermost cause, e.g. defusedxml's ``EntitiesForbidden`` under openpyxl's generic ValueError
    (whose own message would also show the server's temp path)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return f"{type(exc).__name__}: {exc}"


def csv_rows(path: str | Path) -> Iterator[tuple[int, Row]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            delimiter = _delimiter(file.readline(HEADER_SAMPLE))
            file.seek(0)
            yield from enumerate(csv.reader(file, delimiter=delimiter), start=1)
    except UnicodeDecodeError:
        raise SpreadsheetError("the CSV file is not UTF-8 (in Excel: Save As 'CSV UTF-8')") from None
    except csv.Error as exc:
        raise SpreadsheetError(f"the CSV file cannot be read ({exc})") from None


def _delimiter(header: str) -> str:
    """The most frequent of comma, semicolon and tab in the header line (Excel in Spanish writes ';')."""
    return max(CSV_DELIMITERS, key=header.count)
