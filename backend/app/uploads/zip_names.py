"""Entry names for the documents ZIP: the team's naming, made safe to extract anywhere, and unique.

The team files an invoice's document as ``<CLIENTE>/<OT>/FACTURA <PROVEEDOR> <NUMERO> <CLIENTE> <OT>.pdf``.
Every part of that name comes from data people typed (provider and client names, invoice numbers), so
each path component is cleaned on its own before the parts are joined with ``/``:

- Unicode is kept ("Roldán", "Ñandú") and normalised to NFC, so the same name typed on a Mac (NFD) and
  on Windows (NFC) is one name;
- separators (``/`` and ``\\``) and the other characters Windows refuses (``<>:"|?*``) become ``-``:
  an invoice number ``F-001/2025`` can never add a folder level;
- control, format (bidi overrides such as U+202E, which can disguise an extension), private-use and
  unassigned characters are dropped; runs of whitespace become one space;
- leading dots and trailing dots/spaces are removed, so ``..`` cannot climb out of the extraction
  folder, no hidden files appear, and Windows (which drops trailing dots) sees the name we wrote;
- Windows' reserved device names (``CON``, ``NUL``, ``COM1``... with or without an extension) get a
  leading ``_``: Explorer cannot create a file called ``CON.pdf``;
- each component is cut to a bounded length (60 characters per folder, 110 for the file name's stem,
  and 240 UTF-8 bytes whatever the characters), so a whole entry is at most about 245 characters and
  fits Windows' 260-character path limit below a short extraction folder.

Uniqueness is decided on the NFC, case-folded path, since Windows and macOS file systems are
case-insensitive: two invoices whose names differ only in case would otherwise overwrite each other
on extraction. A repeated name gets `` (2)``, `` (3)``... before its extension.
"""

from __future__ import annotations

import re
import unicodedata

from app.uploads.sniffing import CSV, JPEG, JSON, PDF, PNG, XLSX, XML

NO_OT = "SIN OT"
NO_CLIENT = "SIN CLIENTE"
NO_NAME = "SIN NOMBRE"
PREFIX = "FACTURA"
MAX_FOLDER_CHARS = 60
MAX_FILE_STEM_CHARS = 110
MAX_COMPONENT_BYTES = 240  # below the 255 bytes most file systems allow, with room for " (999)"
EXTENSIONS = {PDF: "pdf", PNG: "png", JPEG: "jpg", XML: "xml", JSON: "json", XLSX: "xlsx", CSV: "csv"}
FALLBACK_EXTENSION = "bin"

_FORBIDDEN = re.compile(r'[/\\<>:"|?*]')
_SPACES = re.compile(r"\s+")
_WHITE_CONTROLS = frozenset("\t\n\r\x0b\x0c")
# CON, PRN, AUX, NUL, COM0-9, LPT0-9 (Windows also reserves the superscript digits ¹²³).
_RESERVED = re.compile(r"^(con|prn|aux|nul|conin\$|conout\$|(com|lpt)[0-9¹²³])$", re.IGNORECASE)


def clean_component(raw: str | None, max_chars: int, placeholder: str = NO_NAME) -> str:
    """One path component from free text: safe on Windows, macOS and Linux, never empty."""
    text = unicodedata.normalize("NFC", raw or "")
    text = _FORBIDDEN.sub("-", text)
    text = "".join(" " if char.isspace() else char for char in text if not _dropped(char))
    text = _SPACES.sub(" ", text).strip()
    text = _bounded(text.lstrip(". "), max_chars).rstrip(". ")
    if not text:
        return placeholder
    if _RESERVED.match(text.split(".", 1)[0].rstrip()):
        text = "_" + text
    return text


def _dropped(char: str) -> bool:
    """Control, format, surrogate, private-use and unassigned characters (category C*); tabs and newlines
    are kept, to become spaces (Python counts the separators U+001C-U+001F as space: they are dropped)."""
    return unicodedata.category(char).startswith("C") and char not in _WHITE_CONTROLS


def _bounded(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters and ``MAX_COMPONENT_BYTES`` bytes of UTF-8, cut at a character."""
    text = text[:max_chars]
    while len(text.encode()) > MAX_COMPONENT_BYTES:
        text = text[:-1]
    return text.rstrip()


def extension_for(content_type: str) -> str:
    """The extension from the sniffed type (never from the uploader's file name, which may lie)."""
    return EXTENSIONS.get(content_type, FALLBACK_EXTENSION)


def invoice_entry(provider: str | None, number: str | None, client: str | None, ot: str | None, ext: str) -> str:
    """``<CLIENTE>/<OT>/FACTURA <PROVEEDOR> <NUMERO> <CLIENTE> <OT>.<ext>``; without an OT: ``SIN OT/FACTURA ...``.

    An invoice without an OT has no client either (the client is the OT's), so it goes into one
    top-level ``SIN OT`` folder and its file name simply leaves those two parts out.
    """
    parts = [PREFIX, provider, number] + ([client, ot] if ot else [])
    stem = " ".join(part.strip() for part in parts if part and part.strip())
    file_name = f"{clean_component(stem, MAX_FILE_STEM_CHARS)}.{ext}"
    if not ot:
        return f"{NO_OT}/{file_name}"
    folders = [clean_component(client, MAX_FOLDER_CHARS, NO_CLIENT), clean_component(ot, MAX_FOLDER_CHARS, NO_OT)]
    return "/".join([*folders, file_name])


class UniqueNames:
    """Hands out each path once; a repeat gets `` (2)``, `` (3)``... before the extension.

    Memory is one key per entry, bounded by ``DOCUMENTS_ZIP_MAX_FILES`` like the ZIP's own central
    directory (which stream-zip must keep until the end anyway).
    """

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, path: str) -> str:
        """``path`` itself if unused (ignoring case and normalisation), else the first free numbered variant."""
        folder, _, file_name = path.rpartition("/")
        stem, dot, ext = file_name.rpartition(".")
        if not dot:
            stem, ext = file_name, ""
        candidate, number = path, 1
        while self._key(candidate) in self._taken:
            number += 1
            candidate = f"{folder}/{stem} ({number}){dot}{ext}" if folder else f"{stem} ({number}){dot}{ext}"
        self._taken.add(self._key(candidate))
        return candidate

    @staticmethod
    def _key(path: str) -> str:
        return unicodedata.normalize("NFC", path).casefold()
