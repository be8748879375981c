"""A streamed XLSX writer: the sheet XML is generated row chunk by row chunk and zipped on the fly.

openpyxl (normal or write_only) and XlsxWriter must finish the whole workbook before its first byte can
leave, and the normal modes hold every cell in RAM. Here the worksheet XML is produced while the rows
are read and compressed by ``stream-zip`` at zlib level 6 (its default, 9, costs far more CPU for a
slightly smaller file), so memory is one chunk of rows plus zlib's window.

What the file contains (SpreadsheetML, ECMA-376): a bold white-on-dark-blue header row, frozen, with an
autofilter; column widths; dates/timestamps as Excel serial numbers with ``DD/MM/YYYY`` formats; amounts
as numbers with ``$#,##0.00``; match confidence as a number with ``0.0%``; states and yes/no arrive as
words from the SELECT. Text uses inline strings (``t="inlineStr"``): a shared-string table would have to
be kept in memory until the end. Characters XML 1.0 forbids (most C0 controls) are dropped, and text is
escaped, so a hostile note cannot break the file. Parts whose content is only known at the end (the
autofilter range, the ``_xlnm._FilterDatabase`` name in workbook.xml) are written after the rows:
``<autoFilter>`` follows ``<sheetData>`` in the schema, and zip members may come in any order.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import stat
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from stream_zip import ZIP_32, MemberFile, stream_zip

from app.exports.cells import FORMULA_TRIGGERS, joined, neutralise
from app.exports.columns import Chunk, Column, Kind

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZLIB_LEVEL = 6
MAX_ROWS = 1_048_576  # Excel's sheet limit, header row included
MAX_CELL_TEXT = 32_767  # Excel's limit on characters in one cell
EXCEL_EPOCH = dt.date(1899, 12, 30).toordinal()  # serial 0 in the 1900 date system
SECONDS_PER_DAY = 86_400
FILE_MODE = stat.S_IFREG | 0o644

# cellXfs indexes in STYLES_XML below.
STYLE_HEADER, STYLE_DATE, STYLE_DATETIME, STYLE_MONEY, STYLE_PERCENT = 1, 2, 3, 4, 5

# Characters a text cannot carry as they are: XML's specials, the controls XML 1.0 forbids, and CR
# (parsers turn it into LF unless escaped). One search over a whole column of a chunk finds them.
_XML_UNSAFE = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
SHEET_PATH = "xl/worksheets/sheet1.xml"

CONTENT_TYPES = (
    XML_DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    f'<Override PartName="/{SHEET_PATH}" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    XML_DECL + f'<Relationships xmlns="{NS_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{NS_REL}/officeDocument" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{NS_PKG_REL}/metadata/core-properties" Target="docProps/core.xml"/>'
    "</Relationships>"
)
WORKBOOK_RELS = (
    XML_DECL + f'<Relationships xmlns="{NS_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{NS_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{NS_REL}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
STYLES_XML = (
    XML_DECL + f'<styleSheet xmlns="{NS_MAIN}">'
    '<numFmts count="4">'
    '<numFmt numFmtId="164" formatCode="DD/MM/YYYY"/>'
    '<numFmt numFmtId="165" formatCode="DD/MM/YYYY HH:MM"/>'
    '<numFmt numFmtId="166" formatCode="$#,##0.00"/>'
    '<numFmt numFmtId="167" formatCode="0.0%"/>'
    "</numFmts>"
    '<fonts count="2">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><color rgb="FFFFFFFF"/><name val="Calibri"/><family val="2"/></font>'
    "</fonts>"
    '<fills count="3">'
    '<fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FF002060"/><bgColor indexed="64"/></patternFill></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="6">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="167" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '<dxfs count="0"/><tableStyles count="0"/>'
    "</styleSheet>"
)


class TooManyRows(ValueError):
    """More rows than a worksheet can hold; callers check the count before streaming."""


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def text_element(value: str) -> str:
    """``<t>`` for any text: cut to Excel's cell limit, forbidden characters dropped, escaped."""
    text = value[:MAX_CELL_TEXT]
    if _XML_UNSAFE.search(text):
        text = escape(_ILLEGAL_XML.sub("", text), {"\r": "&#13;"})
    if text and (text[0].isspace() or text[-1].isspace()):
        return f'<t xml:space="preserve">{text}</t>'
    return f"<t>{text}</t>"


def excel_datetime(value: dt.datetime) -> float:
    """Days since Excel's epoch, the time of day as the fraction."""
    seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    return value.toordinal() - EXCEL_EPOCH + seconds / SECONDS_PER_DAY


# Column transforms: one column of a chunk in, the text that goes inside its cells out (None = no cell).
ColumnTransform = Callable[[Sequence[Any]], Sequence[Any]]


def _needs_slow_path(present: list[str]) -> bool:
    """Whether any text needs more than ``<t>value</t>``: a formula trigger or whitespace at either end
    (``xml:space="preserve"``), characters to escape or drop, or more than an Excel cell holds."""
    firsts = {value[0] for value in present}
    edges = firsts | {value[-1] for value in present}
    return (
        not FORMULA_TRIGGERS.isdisjoint(firsts)
        or any(char.isspace() for char in edges)
        or _XML_UNSAFE.search("\n".join(present)) is not None
        or max(map(len, present), default=0) > MAX_CELL_TEXT
    )


def _texts(values: Sequence[str | None]) -> list[str | None]:
    if _needs_slow_path([value for value in values if value]):
        return [text_element(neutralise(value)) if value else None for value in values]
    return [f"<t>{value}</t>" if value else None for value in values]


def _lists(values: Sequence[list[str] | None]) -> list[str | None]:
    return _texts([joined(value) for value in values])


def _numbers(values: Sequence[Decimal | int | None]) -> Sequence[Decimal | int | None]:
    """Numbers pass through; a NaN/Infinity (possible in a PostgreSQL numeric) is not a valid ``<v>``: blank."""
    if all(map(math.isfinite, filter(None, values))):
        return values
    return [value if value is None or math.isfinite(value) else None for value in values]


def _dates(values: Sequence[dt.date | None]) -> list[int | None]:
    return [value.toordinal() - EXCEL_EPOCH if value is not None else None for value in values]


def _datetimes(values: Sequence[dt.datetime | None]) -> list[float | None]:
    return [excel_datetime(value) if value is not None else None for value in values]


INLINE_KINDS = frozenset({Kind.TEXT, Kind.LIST})
TRANSFORMS: dict[Kind, ColumnTransform] = {
    Kind.TEXT: _texts,
    Kind.LIST: _lists,
    Kind.INTEGER: _numbers,
    Kind.MONEY: _numbers,
    Kind.PERCENT: _numbers,
    Kind.DATE: _dates,
    Kind.DATETIME: _datetimes,
}
CELL_STYLES = {
    Kind.MONEY: STYLE_MONEY,
    Kind.PERCENT: STYLE_PERCENT,
    Kind.DATE: STYLE_DATE,
    Kind.DATETIME: STYLE_DATETIME,
}


class SheetWriter:
    """Worksheet XML for ``columns``, produced chunk by chunk; knows the last row once finished.

    A chunk is handled column by column (each column converted in one list comprehension, text
    columns checked with one search) because per-cell function calls are what makes Python writers slow.
    """

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = columns
        self.letters = [column_letter(index) for index in range(len(columns))]
        self.transforms = [TRANSFORMS[column.kind] for column in columns]
        self.last_row = 1

    @property
    def range_ref(self) -> str:
        """``A1:X301``: header plus data rows, for the autofilter."""
        return f"A1:{self.letters[-1]}{self.last_row}"

    def _head(self) -> str:
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{column.width}" customWidth="1"/>'
            for i, column in enumerate(self.columns, start=1)
        )
        cells = "".join(
            f'<c r="{letter}1" s="{STYLE_HEADER}" t="inlineStr"><is>{text_element(column.header)}</is></c>'
            for column, letter in zip(self.columns, self.letters, strict=True)
        )
        return (
            XML_DECL + f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">'
            '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            "</sheetView></sheetViews>"
            '<sheetFormatPr defaultRowHeight="15"/>'
            f"<cols>{cols}</cols>"
            f'<sheetData><row r="1">{cells}</row>'
        )

    def _cells(self, index: int, values: Sequence[Any], numbers: range) -> list[str]:
        """One column's cells for the rows ``numbers``; an empty string where there is no value."""
        letter, kind = self.letters[index], self.columns[index].kind
        if kind in INLINE_KINDS:
            return [
                f'<c r="{letter}{n}" t="inlineStr"><is>{v}</is></c>' if v is not None else ""
                for n, v in zip(numbers, values, strict=True)
            ]
        style = f' s="{CELL_STYLES[kind]}"' if kind in CELL_STYLES else ""
        return [
            f'<c r="{letter}{n}"{style}><v>{v}</v></c>' if v is not None else ""
            for n, v in zip(numbers, values, strict=True)
        ]

    def _rows(self, chunk: Chunk) -> str:
        first = self.last_row + 1
        numbers = range(first, first + len(chunk))
        if numbers.stop - 1 > MAX_ROWS:
            raise TooManyRows(f"a worksheet holds at most {MAX_ROWS - 1} data rows")
        columns = list(zip(*chunk, strict=True))
        cells = [
            self._cells(index, transform(column), numbers)
            for index, (transform, column) in enumerate(zip(self.transforms, columns, strict=True))
        ]
        self.last_row = numbers.stop - 1
        return "".join(
            [f'<row r="{n}">{"".join(row)}</row>' for n, row in zip(numbers, zip(*cells, strict=True), strict=True)]
        )

    def xml(self, chunks: Iterable[Chunk]) -> Iterator[bytes]:
        """The worksheet part as bytes, one piece per chunk of rows."""
        yield self._head().encode()
        for chunk in chunks:
            if chunk:
                yield self._rows(chunk).encode()
        yield (
            f'</sheetData><autoFilter ref="{self.range_ref}"/>'
            '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
            "</worksheet>"
        ).encode()


def workbook_xml(title: str, sheet: SheetWriter) -> str:
    """workbook.xml, written after the sheet so the filter range (a defined name) is known."""
    absolute = f"$A$1:${sheet.letters[-1]}${sheet.last_row}"
    quoted = "'" + title.replace("'", "''") + "'"
    return (
        XML_DECL + f'<workbook xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f'<sheets><sheet name={quoteattr(title)} sheetId="1" r:id="rId1"/></sheets>'
        '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
        f"{escape(quoted)}!{absolute}</definedName></definedNames>"
        "</workbook>"
    )


def core_properties_xml(title: str, created: dt.datetime) -> str:
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        XML_DECL + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title><dc:creator>NextOps</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>"
    )


def _members(columns: Sequence[Column], chunks: Iterable[Chunk], title: str) -> Iterator[MemberFile]:
    """The package parts in write order; workbook.xml is built only after the sheet has been consumed."""
    created = dt.datetime.now(dt.UTC)
    modified = created.replace(tzinfo=None)
    sheet = SheetWriter(columns)

    def small(name: str, text: str) -> MemberFile:
        return name, modified, FILE_MODE, ZIP_32, (text.encode(),)

    yield small("[Content_Types].xml", CONTENT_TYPES)
    yield small("_rels/.rels", ROOT_RELS)
    yield small("docProps/core.xml", core_properties_xml(title, created))
    yield small("xl/styles.xml", STYLES_XML)
    # Zip32 even for the sheet: LibreOffice 7.4 refuses stream-zip's Zip64 members (data descriptor
    # after the data). The cost is a 4 GiB ceiling on the sheet XML, which Excel's 1,048,576-row limit
    # reaches first unless rows average over 4 KiB; past it stream-zip raises rather than write a corrupt file.
    yield SHEET_PATH, modified, FILE_MODE, ZIP_32, sheet.xml(chunks)
    yield small("xl/workbook.xml", workbook_xml(title, sheet))
    yield small("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)


def xlsx_chunks(columns: Sequence[Column], chunks: Iterable[Chunk], title: str) -> Generator[bytes, None, None]:
    """Yield an .xlsx file as bytes while ``chunks`` is read."""
    yield from stream_zip(
        _members(columns, chunks, title),
        get_compressobj=lambda: zlib.compressobj(level=ZLIB_LEVEL, wbits=-zlib.MAX_WBITS),
    )
