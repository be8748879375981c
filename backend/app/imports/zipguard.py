"""Refuse zip bombs before any XLSX parser opens the archive.

openpyxl would happily inflate whatever the archive holds. Three checks run first, on the declared
numbers only (cheap, nothing is decompressed): the entry count and central directory size from the
end-of-central-directory record (read by hand, because ``zipfile`` builds an object per entry before
anyone can look), then per entry the compression method, the declared uncompressed size and the
compression ratio. Declared sizes are binding: ``zipfile`` stops inflating an entry at its declared
size and fails on a CRC mismatch, so a lying header cannot smuggle more bytes past these limits.
"""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

END_RECORD = b"PK\x05\x06"
END_RECORD_SIZE = 22
MAX_COMMENT = 65535
MAX_ENTRIES = 1000
MAX_CENTRAL_DIRECTORY = 1024 * 1024
MAX_UNCOMPRESSED = 1024 * 1024 * 1024
MAX_RATIO = 200
RATIO_FLOOR = 1024 * 1024  # small entries (styles, content types) may compress at any ratio
ALLOWED_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


class UnsafeArchive(ValueError):
    """The archive is malformed or would expand beyond the limits; the message says which."""


def check_archive(path: str | Path) -> None:
    """Raise :class:`UnsafeArchive` unless ``path`` is a zip that is safe to hand to a parser."""
    entries, directory_size = _end_record(path)
    if entries > MAX_ENTRIES:
        raise UnsafeArchive(f"archive declares {entries} entries (limit {MAX_ENTRIES})")
    if directory_size > MAX_CENTRAL_DIRECTORY:
        raise UnsafeArchive(f"archive directory of {directory_size} bytes (limit {MAX_CENTRAL_DIRECTORY})")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnsafeArchive(f"not a valid zip archive ({exc})") from None
    total = 0
    for info in infos:
        _check_entry(info)
        total += info.file_size
    if total > MAX_UNCOMPRESSED:
        raise UnsafeArchive(f"archive expands to {total} bytes (limit {MAX_UNCOMPRESSED})")


def _end_record(path: str | Path) -> tuple[int, int]:
    """``(entry count, central directory size)`` from the end-of-central-directory record."""
    size = os.path.getsize(path)
    tail_size = min(size, END_RECORD_SIZE + MAX_COMMENT)
    with open(path, "rb") as file:
        file.seek(size - tail_size)
        tail = file.read(tail_size)
    at = tail.rfind(END_RECORD)
    if at == -1 or at + END_RECORD_SIZE > len(tail):
        raise UnsafeArchive("not a valid zip archive (no end of central directory)")
    entries, directory_size = struct.unpack("<HI", tail[at + 10 : at + 16])
    if entries == 0xFFFF or directory_size == 0xFFFFFFFF:
        raise UnsafeArchive("ZIP64 archives are not accepted")
    return entries, directory_size


def _check_entry(info: zipfile.ZipInfo) -> None:
    if info.compress_type not in ALLOWED_METHODS:
        raise UnsafeArchive(f"entry {info.filename!r} uses compression method {info.compress_type}")
    if info.file_size > MAX_UNCOMPRESSED:
        raise UnsafeArchive(f"entry {info.filename!r} expands to {info.file_size} bytes")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        raise UnsafeArchive(f"entry {info.filename!r} has a compression ratio of {ratio}:1 (limit {MAX_RATIO}:1)")
