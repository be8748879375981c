"""Rows of an XLSX or CSV file on disk, one at a time, whatever the file's size.

XLSX: the zip-bomb guard runs first, then openpyxl in ``read_only`` mode (a streaming XML parse; the
normal mode builds every cell object, ~50x the file size), with a compact shared-strings table
(:mod:`app.imports.shared_strings`). openpyxl parses with defusedxml when it
is installed (it is a runtime dependency), which refuses entity and DTD tricks. ``reset_dimensions()``
discards the sheet's declared ``<dimension>``: read_only trusts it and pads every row out to the
declared width and the sheet out to the declared height, so a file claiming ``A1:XFD1048576`` would
turn three rows into a million rows of 16,384 cells.

CSV: the stdlib reader over the file (UTF-8, BOM tolerated), delimiter taken from the header line.

Which sheet: a workbook with one sheet is read as it is; with several, the caller must say which
(:class:`SheetChoice`, from ``?sheet=``), and without a choice :class:`SheetChoiceNeeded` names them all:
reading the first one silently imported the wrong data whenever the OTs were not on the first tab.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from app.imports.shared_strings import load_read_only
from app.imports.zipguard import UnsafeArchive, check_archive
from app.uploads.sniffing import CSV, XLSX

Row = Sequence[Any]
CSV_DELIMITERS = (",", ";", "\t")
HEADER_SAMPLE = 64 * 1024


class SpreadsheetError(ValueError):
    """The file cannot be read as a spreadsheet; the message says why (shown to the user)."""


class SheetChoiceNeeded(SpreadsheetError):
    """The workbook has several sheets and none was chosen: ``sheets`` names them, in workbook order."""

    def __init__(self, sheets: list[str]) -> None:
        super().__init__(
            f"the workbook has {len(sheets)} sheets ({', '.join(sheets)}); choose one with sheet=1..{len(sheets)}"
        )
        self.sheets = sheets


class SheetNotFound(SpreadsheetError):
    """The chosen sheet is not in the workbook (or the file is a CSV, which has one)."""

    def __init__(self, message: str, sheets: list[str]) -> None:
        super().__init__(message)
        self.sheets = sheets


@dataclass(frozen=True)
class SheetChoice:
    """Which sheet to read: by position (1 = the first tab). Kept a type of its own so that choosing by
    name can be added beside ``position`` without touching the readers' signatures."""

    position: int

    @classmethod
    def parse(cls, raw: str | None) -> SheetChoice | None:
        """``?sheet=`` as given by the client; None when absent. Raises ``ValueError`` for anything else."""
        if raw is None or raw == "":
            return None
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"expected a sheet number (1 = the first sheet), got {raw!r}")
        return cls(int(raw))

    def pick(self, names: list[str]) -> int:
        """The index of the chosen sheet in ``names``."""
        if self.position > len(names):
            raise SheetNotFound(f"sheet={self.position}, but the workbook has {len(names)} sheet(s)", names)
        return self.position - 1


def read_rows(path: str | Path, content_type: str, sheet: SheetChoice | None = None) -> Iterator[tuple[int, Row]]:
    """``(row number, values)`` for every row, numbered as the user sees them (1 = first row)."""
    if content_type == XLSX:
        return xlsx_rows(path, sheet)
    if content_type == CSV:
        if sheet is not None and sheet.position != 1:
            raise SheetNotFound(f"sheet={sheet.position}, but a CSV file has one sheet", ["csv"])
        return csv_rows(path)
    raise SpreadsheetError(f"cannot import {content_type}; send an .xlsx or .csv file")


def xlsx_rows(path: str | Path, sheet: SheetChoice | None = None) -> Iterator[tuple[int, Row]]:
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
            yield from _sheet_rows(workbook, sheet)
        finally:
            workbook.close()


def _chosen_sheet(workbook: Any, choice: SheetChoice | None) -> Any:
    sheets = workbook.worksheets
    if not sheets:
        raise SpreadsheetError("the workbook has no worksheet")
    names = [sheet.title for sheet in sheets]
    if choice is None:
        if len(sheets) > 1:
            raise SheetChoiceNeeded(names)
        return sheets[0]
    return sheets[choice.pick(names)]


def _sheet_rows(workbook: Any, choice: SheetChoice | None) -> Iterator[tuple[int, Row]]:
    sheet = _chosen_sheet(workbook, choice)
    sheet.reset_dimensions()
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
    """The most frequent of comma, semicolon and tab in the header line (Excel in es-CO writes ';')."""
    return max(CSV_DELIMITERS, key=header.count)
