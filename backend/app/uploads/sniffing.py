"""Content type from the bytes themselves, never from the client's name or header.

The sniffer is fed every chunk of an upload as it streams past. Most types are decided by the first
``HEAD_SIZE`` bytes (magic numbers, or the shape of the text), so a disallowed file is rejected
before the rest of it is read. An XLSX is a zip archive whose tell-tale entries (``[Content_Types].xml``
and ``xl/...``) may sit anywhere in the archive (openpyxl writes the content types last), so for zip
input the sniffer keeps scanning local file headers chunk by chunk, holding only a small overlap.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

PDF = "application/pdf"
XML = "application/xml"
JSON = "application/json"
PNG = "image/png"
JPEG = "image/jpeg"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
ALL_TYPES = frozenset({PDF, XML, JSON, PNG, JPEG, XLSX, CSV})

HEAD_SIZE = 4096
ZIP_LOCAL_HEADER = b"PK\x03\x04"
ZIP_HEADER_LENGTH = 30
MAX_ZIP_NAME = 1024
ZIP_OVERLAP = ZIP_HEADER_LENGTH + MAX_ZIP_NAME
UTF8_BOM = codecs.BOM_UTF8
# Control bytes never found in text files (TAB, LF, CR and the printable range are allowed).
BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
XML_START = re.compile(rb"<(\?xml|!--|!DOCTYPE|[A-Za-z_][\w.:-]*[\s/>])")
HTML_START = re.compile(rb"<(!doctype\s+html|html|head|body|script|iframe|svg)\b", re.IGNORECASE)
CSV_DELIMITERS = (b",", b";", b"\t")


class UnsupportedType(ValueError):
    """The bytes are not one of the allowed types; the message says what was seen."""


class Sniffer:
    """Decides an upload's content type from its bytes, one chunk at a time."""

    def __init__(self, allowed: frozenset[str] = ALL_TYPES) -> None:
        self.allowed = allowed
        self._head = bytearray()
        self._decided: str | None = None
        self._zip_tail = b""
        self._content_types_seen = False
        self._workbook_part_seen = False
        self._is_zip = False

    def feed(self, chunk: bytes) -> None:
        """Look at the next chunk; raises :class:`UnsupportedType` as soon as the answer is no."""
        if self._is_zip:
            self._scan_zip(chunk)
            return
        if self._decided is not None:
            return
        earlier = bytes(self._head)
        self._head += chunk[: HEAD_SIZE - len(self._head)]
        if len(self._head) >= HEAD_SIZE:
            self._decide()
            if self._is_zip:
                self._scan_zip(earlier + chunk)

    def result(self) -> str:
        """The content type once the whole upload was fed; raises :class:`UnsupportedType`."""
        if self._decided is None and not self._is_zip:
            head = bytes(self._head)
            self._decide()
            if self._is_zip:
                self._scan_zip(head)
        if self._is_zip:
            if self._has_xlsx_entries():
                return self._accept(XLSX)
            raise UnsupportedType("zip archive that is not an XLSX workbook")
        assert self._decided is not None
        return self._decided

    def _decide(self) -> None:
        head = bytes(self._head)
        if head.startswith(ZIP_LOCAL_HEADER):
            if XLSX not in self.allowed:
                raise UnsupportedType("zip archive")
            self._is_zip = True
            self._head = bytearray()
            return
        self._decided = self._accept(sniff_head(head))

    def _accept(self, content_type: str) -> str:
        if content_type not in self.allowed:
            raise UnsupportedType(content_type)
        return content_type

    def _has_xlsx_entries(self) -> bool:
        return self._content_types_seen and self._workbook_part_seen

    def _scan_zip(self, chunk: bytes) -> None:
        """Note entry names from local file headers; a small overlap catches headers split by chunks."""
        if self._has_xlsx_entries():
            return
        data = self._zip_tail + chunk
        start = data.find(ZIP_LOCAL_HEADER)
        while start != -1 and start + ZIP_HEADER_LENGTH <= len(data):
            name_length = int.from_bytes(data[start + 26 : start + 28], "little")
            name_end = start + ZIP_HEADER_LENGTH + name_length
            if name_length <= MAX_ZIP_NAME and name_end <= len(data):
                name = data[start + ZIP_HEADER_LENGTH : name_end]
                self._content_types_seen |= name == b"[Content_Types].xml"
                self._workbook_part_seen |= name.startswith(b"xl/")
            start = data.find(ZIP_LOCAL_HEADER, start + 1)
        self._zip_tail = data[-ZIP_OVERLAP:]


def sniff_file(path: str | Path, allowed: frozenset[str] = ALL_TYPES, chunk_size: int = 64 * 1024) -> str:
    """The content type of a file on disk (the CLI's counterpart of sniffing an upload)."""
    sniffer = Sniffer(allowed)
    with open(path, "rb") as file:
        while chunk := file.read(chunk_size):
            sniffer.feed(chunk)
    return sniffer.result()


def sniff_head(head: bytes) -> str:
    """Classify the first bytes of a non-zip file."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    text = _as_text(head)
    if text is None:
        raise UnsupportedType("binary data of an unknown kind")
    return _text_type(text)


def _as_text(head: bytes) -> bytes | None:
    """The head without BOM and leading blanks if it is text (UTF-8 or an 8-bit code page), else None.

    Decoding is not required to succeed: Windows-1252 CSV exports from Excel are common and they
    contain no control bytes either.
    """
    if head.startswith(UTF8_BOM):
        head = head[len(UTF8_BOM) :]
    if BINARY_BYTES.search(head):
        return None
    return head.lstrip()


def _text_type(text: bytes) -> str:
    if text[:1] in (b"{", b"["):
        return JSON
    if text.startswith(b"<"):
        if XML_START.match(text) and not HTML_START.match(text):
            return XML
        raise UnsupportedType("markup that is not XML")
    first_line = text.split(b"\n", 1)[0]
    if any(delimiter in first_line for delimiter in CSV_DELIMITERS):
        return CSV
    if not text:
        raise UnsupportedType("blank text")
    raise UnsupportedType("plain text without CSV delimiters")
