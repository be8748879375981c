"""Content type from the bytes themselves, never from the client's name or header.

The sniffer is fed every chunk of an upload as it streams past. Most types are decided by the first
``HEAD_SIZE`` bytes (magic numbers, or the shape of the text), so a disallowed file is rejected
before the rest of it is read.

A zip is only accepted as an XLSX workbook when the archive says so, which needs the whole file:

- its central directory (at the end; the last ``ZIP_TAIL_SIZE`` bytes are kept, a few chunks, and
  read with ``zipfile``) lists only OOXML package parts (``[Content_Types].xml``, ``_rels/``,
  ``docProps/``, ``xl/``, ``customXml/``), including ``xl/workbook.xml``, and no ``vbaProject.bin``;
  a zip holding an ``.exe`` next to a workbook is not a workbook;
- its ``[Content_Types].xml`` (inflated on the fly as it streams past, at most 1 MiB) declares the
  workbook part as ``spreadsheetml.sheet.main+xml`` and nothing ``macroEnabled``: an ``.xlsm`` renamed
  ``.xlsx`` is refused, macros or not.
"""

from __future__ import annotations

import codecs
import collections
import io
import re
import zipfile
import zlib
from pathlib import Path

PDF = "application/pdf"
XML = "application/xml"
JSON = "application/json"
PNG = "image/png"
JPEG = "image/jpeg"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
ALL_TYPES = frozenset({PDF, XML, JSON, PNG, JPEG, XLSX, CSV})
# The extension a stored document is served with, per sniffed type (the first one is the one given).
EXTENSIONS = {
    PDF: (".pdf",),
    XML: (".xml",),
    JSON: (".json",),
    PNG: (".png",),
    JPEG: (".jpg", ".jpeg", ".jpe"),
    XLSX: (".xlsx",),
    CSV: (".csv",),
}

HEAD_SIZE = 4096
ZIP_LOCAL_HEADER = b"PK\x03\x04"
ZIP_HEADER_LENGTH = 30
CONTENT_TYPES_NAME = b"[Content_Types].xml"
CONTENT_TYPES_MAX = 1024 * 1024
# The end-of-directory record (22 bytes + a comment of up to 64 KiB) and a directory of up to 1 MiB.
ZIP_TAIL_SIZE = 22 + 65535 + 1024 * 1024
OOXML_PREFIXES = ("[content_types].xml", "_rels/", "docprops/", "xl/", "customxml/")
WORKBOOK_PART = "xl/workbook.xml"
WORKBOOK_MAIN = b"spreadsheetml.sheet.main+xml"
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
        self._zip: _ZipInspector | None = None

    def feed(self, chunk: bytes) -> None:
        """Look at the next chunk; raises :class:`UnsupportedType` as soon as the answer is no."""
        if self._zip is not None:
            self._zip.feed(chunk)
            return
        if self._decided is not None:
            return
        earlier = bytes(self._head)
        self._head += chunk[: HEAD_SIZE - len(self._head)]
        if len(self._head) >= HEAD_SIZE:
            self._decide()
            if self._zip is not None:
                self._zip.feed(earlier + chunk)

    def result(self) -> str:
        """The content type once the whole upload was fed; raises :class:`UnsupportedType`."""
        if self._decided is None and self._zip is None:
            head = bytes(self._head)
            self._decide()
            if self._zip is not None:
                self._zip.feed(head)
        if self._zip is not None:
            self._zip.check_workbook()
            return self._accept(XLSX)
        assert self._decided is not None
        return self._decided

    def _decide(self) -> None:
        head = bytes(self._head)
        if head.startswith(ZIP_LOCAL_HEADER):
            if XLSX not in self.allowed:
                raise UnsupportedType("zip archive")
            self._zip = _ZipInspector()
            self._head = bytearray()
            return
        self._decided = self._accept(sniff_head(head))

    def _accept(self, content_type: str) -> str:
        if content_type not in self.allowed:
            raise UnsupportedType(content_type)
        return content_type


class _ZipInspector:
    """Keeps what deciding "is this an XLSX workbook" needs from a streamed zip: its tail and its content types."""

    def __init__(self) -> None:
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0
        self._overlap = b""
        self._inflater: zlib._Decompress | None = None
        self._stored_left: int | None = None  # an uncompressed [Content_Types].xml: bytes still to take
        self._skip = 0  # header bytes (extra field) still to pass before the entry's data
        self._searching = True
        self.content_types = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._keep_tail(chunk)
        if self._searching:
            self._search(chunk)
        elif self._inflater is not None or self._stored_left is not None:
            self._take(chunk)

    def _keep_tail(self, chunk: bytes) -> None:
        self._tail.append(chunk)
        self._tail_size += len(chunk)
        while self._tail_size - len(self._tail[0]) >= ZIP_TAIL_SIZE:
            self._tail_size -= len(self._tail.popleft())

    def _search(self, chunk: bytes) -> None:
        """Find the local header of ``[Content_Types].xml`` (a 19-byte name: no false match in data)."""
        data = self._overlap + chunk
        at = data.find(CONTENT_TYPES_NAME)
        while at != -1:
            start = at - ZIP_HEADER_LENGTH
            if (
                start >= 0
                and data[start : start + 4] == ZIP_LOCAL_HEADER
                and int.from_bytes(data[start + 26 : start + 28], "little") == len(CONTENT_TYPES_NAME)
            ):
                self._searching = False
                method = int.from_bytes(data[start + 8 : start + 10], "little")
                extra = int.from_bytes(data[start + 28 : start + 30], "little")
                if method == zipfile.ZIP_DEFLATED:
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                elif method == zipfile.ZIP_STORED:
                    size = int.from_bytes(data[start + 18 : start + 22], "little")
                    self._stored_left = size or CONTENT_TYPES_MAX
                self._skip = extra
                self._take(data[at + len(CONTENT_TYPES_NAME) :])
                return
            at = data.find(CONTENT_TYPES_NAME, at + 1)
        self._overlap = data[-(ZIP_HEADER_LENGTH + len(CONTENT_TYPES_NAME)) :]

    def _take(self, data: bytes) -> None:
        if self._skip:
            skipped = min(self._skip, len(data))
            self._skip -= skipped
            data = data[skipped:]
        if not data:
            return
        room = CONTENT_TYPES_MAX - len(self.content_types)
        if self._inflater is not None:
            try:
                self.content_types += self._inflater.decompress(data, room)
            except zlib.error:
                self._inflater = None
                return
            if self._inflater.eof or len(self.content_types) >= CONTENT_TYPES_MAX:
                self._inflater = None
        elif self._stored_left is not None:
            taken = data[: min(self._stored_left, room)]
            self.content_types += taken
            self._stored_left -= len(taken)
            if self._stored_left <= 0 or len(self.content_types) >= CONTENT_TYPES_MAX:
                self._stored_left = None

    def check_workbook(self) -> None:
        """Raise :class:`UnsupportedType` unless the archive is an OOXML workbook without macros."""
        try:
            with zipfile.ZipFile(io.BytesIO(b"".join(self._tail))) as archive:
                names = [info.filename for info in archive.infolist()]
        except (zipfile.BadZipFile, ValueError, OSError):
            raise UnsupportedType("zip archive whose directory cannot be read (truncated, or not a workbook)") from None
        lowered = [name.lower() for name in names]
        if any(name.rsplit("/", 1)[-1] == "vbaproject.bin" for name in lowered):
            raise UnsupportedType("macro-enabled workbook (vbaProject.bin)")
        stray = [name for name, low in zip(names, lowered, strict=True) if not low.startswith(OOXML_PREFIXES)]
        if stray:
            raise UnsupportedType(f"zip archive that is not an XLSX workbook (it holds {stray[0]!r})")
        if WORKBOOK_PART not in lowered or "[content_types].xml" not in lowered:
            raise UnsupportedType("zip archive that is not an XLSX workbook (no xl/workbook.xml)")
        declared = bytes(self.content_types).lower()
        if b"macroenabled" in declared:
            raise UnsupportedType("macro-enabled workbook (application/vnd.ms-excel.sheet.macroEnabled)")
        if WORKBOOK_MAIN not in declared:
            raise UnsupportedType("zip archive whose [Content_Types].xml declares no XLSX workbook")


def name_for_type(name: str, content_type: str, max_length: int = 255) -> str:
    """``name`` with an extension that matches ``content_type``: the bytes decide, not the client.

    A matching extension is kept (any case: ``Scan.JPEG``). Otherwise a trailing extension-like
    suffix (1 to 5 letters/digits, at least one letter) is replaced, and anything else gets the
    type's extension appended: ``setup.exe`` holding a PDF is served as ``setup.pdf``, a CSV posted
    as ``upload`` as ``upload.csv``, ``Factura No. 12`` as ``Factura No. 12.pdf``.
    """
    extensions = EXTENSIONS.get(content_type)
    if not extensions:
        return name
    stem, dot, suffix = name.rpartition(".")
    if dot and ("." + suffix.lower()) in extensions:
        return name
    base = stem if dot and stem and re.fullmatch(r"(?=.*[A-Za-z])[A-Za-z0-9]{1,5}", suffix) else name
    return base[: max_length - len(extensions[0])] + extensions[0]  # the column holds 255 characters


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
