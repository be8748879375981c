"""Small PDFs written by hand for tests and benchmarks: text pages, image-only pages, hostile shapes.

A PDF is a handful of numbered objects and a cross-reference table of their byte offsets; writing
them directly needs no dependency and lets a test build what no PDF library would write (a page
tree of thousands of pages, a compressed stream that inflates to gigabytes, a file cut short).
Everything is synthetic: no real customer data.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence


def _escape(text: str) -> bytes:
    raw = text.encode("latin-1", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def text_stream(lines: Sequence[str]) -> bytes:
    """A content stream drawing ``lines`` top-down in Helvetica 10 (one ``Tj`` per line)."""
    body = [b"BT /F1 10 Tf 14 TL 50 800 Td"]
    for line in lines:
        body.append(b"(" + _escape(line) + b") Tj T*")
    body.append(b"ET")
    return b"\n".join(body)


def build_pdf(
    pages: Sequence[bytes], *, compress: bool = False, shared_page: bool = False, flate_encoded: bool = False
) -> bytes:
    """A PDF whose pages draw the given content streams.

    ``compress`` Flate-encodes the streams; ``flate_encoded`` says they already are. ``shared_page``
    writes one content stream that every page of ``pages`` refers to (``pages`` then only sets the
    count), so thousands of pages stay small.
    """
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below, once the page tree's number is known
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    tree = add(b"")
    contents: list[int] = []
    for index, stream in enumerate(pages):
        if shared_page and index > 0:
            contents.append(contents[0])
            continue
        data = zlib.compress(stream) if compress else stream
        extra = b" /Filter /FlateDecode" if compress or flate_encoded else b""
        contents.append(add(b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"))
    kids = []
    for content in contents:
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (tree, content, font)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


def text_pdf(*pages: Sequence[str], compress: bool = True) -> bytes:
    """A PDF with a text layer: one page per sequence of lines."""
    return build_pdf([text_stream(lines) for lines in pages], compress=compress)


def image_only_pdf() -> bytes:
    """A page that only paints (a grey rectangle): what a scan without OCR looks like to a text extractor."""
    return build_pdf([b"0.5 g 50 50 495 742 re f"])


def many_pages_pdf(count: int) -> bytes:
    """``count`` pages sharing one small text stream."""
    return build_pdf([text_stream(["page"])] * count, shared_page=True)


def inflating_pdf(megabytes: int) -> bytes:
    """One page whose Flate stream inflates to ``megabytes`` MB of spaces (a compression bomb)."""
    compressor = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    data = b"".join(compressor.compress(chunk) for _ in range(megabytes)) + compressor.flush()
    return build_pdf([data], flate_encoded=True)
