"""Hostile and odd PDFs for tests and benchmarks, built with the sample writer of ``app.intake.samples``.

Everything is synthetic: no real customer data.
"""

from __future__ import annotations

import zlib

from app.intake.samples import build_pdf, text_pdf, text_stream

__all__ = ["image_only_pdf", "inflating_pdf", "many_pages_pdf", "text_pdf"]


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
