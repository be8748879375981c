"""openpyxl's workbook reader with a compact shared-strings table.

Excel stores every distinct text of a workbook once, in ``xl/sharedStrings.xml``, and cells refer to
it by index; a 100k-row OT sheet has ~300k distinct strings (OT numbers, BLs, containers). Even in
``read_only`` mode openpyxl loads that table whole, and its loader keeps every parsed ``<si>`` element
attached to the document root until the end, so the table costs several times its text
(``make bench-uploads`` compares openpyxl's read_only reader with this one). :class:`CompactExcelReader`
replaces only that step. It parses the same way (openpyxl's own ``Text`` model and ``iterparse``, which
is defusedxml's when installed), drops each element once read, and keeps the texts as UTF-8 in one
``bytearray`` with an offsets array. Cells still receive ordinary ``str`` values: the table decodes one
on each lookup.
"""

from __future__ import annotations

from array import array
from typing import IO, Any

from openpyxl.cell.text import Text
from openpyxl.packaging.manifest import Manifest
from openpyxl.reader.excel import ExcelReader
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

STRING_TAG = f"{{{SHEET_MAIN_NS}}}si"
PLAIN_TAG = f"{{{SHEET_MAIN_NS}}}t"


class SharedStrings:
    """Read-only sequence of the workbook's shared strings, stored as UTF-8 in one buffer."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("Q")

    def append(self, text: str) -> None:
        self._data += text.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._data))

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        end = self._ends[index]  # IndexError for a bad index, as with the list openpyxl builds
        start = self._ends[index - 1] if index > 0 else 0
        return self._data[start:end].decode("utf-8", "surrogatepass")


def read_shared_strings(source: IO[bytes]) -> SharedStrings:
    """Same texts as ``openpyxl.reader.strings.read_string_table``, without keeping the parsed tree."""
    table = SharedStrings()
    events = iterparse(source, events=("start", "end"))
    _, root = next(events)
    for event, node in events:
        if event == "end" and node.tag == STRING_TAG:
            table.append(_text(node).replace("x005F_", ""))
            root.clear()  # the finished <si> elements are the only children: drop them
    return table


def _text(node: Any) -> str:
    """``Text.from_tree(node).content``, with a fast path for the usual ``<si><t>plain</t></si>``."""
    if len(node) == 1 and node[0].tag == PLAIN_TAG:
        return node[0].text or ""
    return Text.from_tree(node).content


class CompactExcelReader(ExcelReader):
    """``ExcelReader`` (what ``openpyxl.load_workbook`` uses) with :func:`read_shared_strings`."""

    package: Manifest

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)
        if part is not None:
            with self.archive.open(part.PartName[1:]) as source:
                self.shared_strings = read_shared_strings(source)


def load_read_only(file: IO[bytes]) -> Any:
    """``openpyxl.load_workbook(file, read_only=True, data_only=True)`` with the compact strings table."""
    reader = CompactExcelReader(file, read_only=True, data_only=True)
    reader.read()
    return reader.wb
