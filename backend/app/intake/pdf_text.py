"""The text layer of a PDF, page by page with pypdf, within bounds a hostile file cannot push.

Bounds, and why:

- pages: the page tree is walked by hand to the first ``max_pages`` leaves. pypdf's ``reader.pages``
  flattens the whole tree first (a 50,000-page file costs seconds and hundreds of MB before one
  character is read); the walk visits at most a few nodes per page read;
- characters: extraction stops once ``max_chars`` were collected;
- time: the deadline is checked between pages, and the worker yields to other requests there
  (``time.sleep(0)`` is gevent's cooperative yield once gevent patched ``time``);
- decompression: pypdf's own limits, tightened (:data:`LIMITS`): a content stream may inflate to at
  most 8 MB, so a compression bomb raises ``LimitReachedError`` after 8 MB, not 75.

Every pypdf failure (truncated, garbage, encrypted, a limit reached) becomes a reason in the
answer: the document is still stored, the invoice goes to review.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pypdf import PageObject, PdfReader, apply_configuration
from pypdf.errors import PdfReadError, PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from values import MB

LIMITS: dict[str, Any] = {
    "zlib_maximum_output_length": 8 * MB,
    "lzw_maximum_output_length": 8 * MB,
    "run_length_maximum_output_length": 8 * MB,
    "brotli_maximum_output_length": 8 * MB,
    "array_based_stream_maximum_output_length": 8 * MB,
    "maximum_declared_stream_length": 32 * MB,
    "stream_decoding_work_maximum_length": 32 * MB,
    "stream_parsing_work_maximum_count": 500_000,
    "array_maximum_element_count": 20_000,  # a flat /Kids of 50,000 pages fails here, at once
    "xform_maximum_invocations_per_extraction": 500,
    "page_tree_maximum_depth": 32,
    "jbig2dec_binary": None,  # never run an external decoder on an upload
}
INHERITED = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")
MIN_TEXT = 20  # fewer non-blank characters than this is "no text layer"
NO_TEXT = "no text layer (scanned?)"


@dataclass
class PdfText:
    text: str = ""
    pages_read: int = 0
    page_count: int | None = None  # as the file declares it (/Count), not trusted for anything
    truncated: list[str] = field(default_factory=list)
    problem: str | None = None  # why no usable text came out

    @property
    def has_text(self) -> bool:
        return self.problem is None


def read_pdf_text(path: str | Path, max_pages: int, max_chars: int, max_seconds: float) -> PdfText:
    """The text of the first ``max_pages`` pages of ``path`` (at most ``max_chars``), or why there is none."""
    result = PdfText()
    deadline = time.monotonic() + max_seconds
    try:
        with apply_configuration(**LIMITS), open(path, "rb") as file:
            reader = PdfReader(file, strict=False)
            if reader.is_encrypted and not _opened(reader):
                result.problem = "encrypted PDF (needs a password)"
                return result
            parts: list[str] = []
            size = 0
            for page in first_pages(reader, max_pages, result):
                text = page.extract_text() or ""
                result.pages_read += 1
                parts.append(text[: max_chars - size])
                size += len(parts[-1])
                time.sleep(0)
                if size >= max_chars:
                    result.truncated.append(f"text cut at {max_chars} characters")
                    break
                if time.monotonic() > deadline:
                    result.truncated.append(f"reading stopped after {max_seconds:g} s")
                    break
            result.text = "\n".join(parts)
    except (PyPdfError, PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        result.problem = f"unreadable PDF ({type(exc).__name__}: {str(exc)[:120]})"
        return result
    except OSError as exc:
        result.problem = f"unreadable PDF ({exc.__class__.__name__})"
        return result
    if result.page_count is not None and result.page_count > result.pages_read and not result.truncated:
        result.truncated.append(f"read {result.pages_read} of {result.page_count} pages")
    if len("".join(result.text.split())) < MIN_TEXT:
        result.problem = NO_TEXT if result.pages_read else "PDF without pages"
    return result


def first_pages(reader: PdfReader, limit: int, result: PdfText) -> Any:
    """Yield up to ``limit`` pages in order, walking the page tree depth-first without flattening it.

    Inheritable attributes (resources, boxes, rotation) are carried down as pypdf would. At most
    ``limit * 4 + 32`` tree nodes are visited, so a tree of empty or looping nodes ends quickly.
    """
    root = reader.trailer["/Root"].get_object()
    pages = root["/Pages"].get_object()
    count = pages.get("/Count")
    result.page_count = int(count) if isinstance(count, int) else None
    budget = limit * 4 + 32
    stack: list[tuple[Any, dict[str, Any], int]] = [(root.raw_get("/Pages"), {}, 0)]
    seen: set[tuple[int, int]] = set()
    yielded = 0
    while stack and yielded < limit and budget > 0:
        reference, inherited, depth = stack.pop()
        budget -= 1
        if isinstance(reference, IndirectObject):
            key = (reference.idnum, reference.generation)
            if key in seen:
                continue  # a loop, or a page listed twice
            seen.add(key)
        node = reference.get_object()
        if not isinstance(node, DictionaryObject):
            continue
        kids = node.get("/Kids")
        if node.get("/Type") == "/Pages" or isinstance(kids, ArrayObject):
            if depth >= LIMITS["page_tree_maximum_depth"] or not isinstance(kids, ArrayObject):
                continue
            carried = {**inherited, **{name: node[name] for name in INHERITED if name in node}}
            # Only as many kids as could still be read are put on the stack.
            room = min(len(kids), limit - yielded, budget)
            stack.extend((kid, carried, depth + 1) for kid in reversed(kids[:room]))
            continue
        page = _page(reader, reference, node, inherited)
        yielded += 1
        yield page


def _page(reader: PdfReader, reference: Any, node: DictionaryObject, inherited: dict[str, Any]) -> PageObject:
    indirect = reference if isinstance(reference, IndirectObject) else None
    page = PageObject(reader, indirect)
    if indirect is None:
        page.update(node)
    for name, value in inherited.items():
        if name not in page:
            page[name] = value
    return page


def _opened(reader: PdfReader) -> bool:
    """An encrypted PDF with an empty user password (common for 'protected' invoices) opens; others do not."""
    try:
        return bool(reader.decrypt(""))
    except (PyPdfError, NotImplementedError, ValueError):
        return False
