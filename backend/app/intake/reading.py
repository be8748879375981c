"""One document to invoice fields: a DTE JSON or a PDF's text, through the extraction patterns.

The answer is a :class:`Reading`: the fields an invoice needs, the references found for matching,
and every reason a person should look at it. Nothing here writes to the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.intake import dte, pdf_text
from app.intake.patterns import FIELDS, REFERENCE_FIELDS, extract, patterns_for
from app.uploads.sniffing import JSON, PDF


@dataclass(frozen=True)
class Limits:
    """The intake's bounds, from the INTAKE_* settings."""

    pdf_max_pages: int
    pdf_max_chars: int
    pdf_max_seconds: float
    json_max_bytes: int
    pattern_timeout: float

    @classmethod
    def from_config(cls, config: Any) -> Limits:
        return cls(
            pdf_max_pages=config["INTAKE_PDF_MAX_PAGES"],
            pdf_max_chars=config["INTAKE_PDF_MAX_CHARS"],
            pdf_max_seconds=float(config["INTAKE_PDF_MAX_SECONDS"]),
            json_max_bytes=config["INTAKE_JSON_MAX_KB"] * 1024,
            pattern_timeout=config["INTAKE_PATTERN_TIMEOUT_MS"] / 1000,
        )


@dataclass
class Reading:
    kind: str  # "dte", "pdf" or "json" (JSON that is not a DTE)
    invoice_number: str | None = None
    issue_date: dt.date | None = None
    total: Decimal | None = None
    control_number: str | None = None
    generation_code: str | None = None
    issuer_nit: str | None = None
    issuer_name: str | None = None
    text: str = ""
    references: dict[str, list[str]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # nothing usable was read (unreadable, scanned, not a DTE)
    warnings: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        return {
            "invoice_number": self.invoice_number,
            "issue_date": self.issue_date.isoformat() if self.issue_date else None,
            "total": str(self.total) if self.total is not None else None,
            "control_number": self.control_number,
            "generation_code": self.generation_code,
            "issuer_nit": self.issuer_nit,
            "issuer_name": self.issuer_name,
            **self.details,
        }


def read_document(path: str | Path, content_type: str, limits: Limits) -> Reading:
    """The raw reading of the spooled file: DTE fields, or a PDF's text (patterns come later)."""
    if content_type == JSON:
        return _read_json(Path(path), limits)
    if content_type == PDF:
        return _read_pdf(path, limits)
    return Reading("other", problem=f"{content_type} is stored but not read")


def apply_patterns(reading: Reading, provider_id: int | None, limits: Limits) -> None:
    """Fill what the patterns find: every field for a PDF, only the references for a DTE."""
    if not reading.text:
        reading.references = {"ot_numbers": [], "master_bls": [], "containers": []}
        return
    fields = REFERENCE_FIELDS if reading.kind == "dte" else FIELDS
    extracted = extract(reading.text, patterns_for(provider_id), limits.pattern_timeout, fields)
    reading.references = extracted.references
    reading.warnings.extend(extracted.warnings)
    if reading.kind == "pdf":
        reading.invoice_number = extracted.invoice_number
        reading.issue_date = extracted.issue_date
        reading.total = extracted.total
        if extracted.found_by:
            reading.details["found_by"] = extracted.found_by


def _read_json(path: Path, limits: Limits) -> Reading:
    size = path.stat().st_size
    if size > limits.json_max_bytes:
        return Reading("json", problem=f"JSON larger than {limits.json_max_bytes // 1024} KB is stored but not read")
    try:
        document = dte.load_json(path.read_bytes(), limits.json_max_bytes)
        parsed = dte.read_dte(document, limits.pdf_max_chars)
    except dte.NotReadable as exc:
        return Reading("json", problem=str(exc))
    reading = Reading(
        "dte",
        invoice_number=parsed.control_number,
        issue_date=parsed.issue_date,
        total=parsed.total,
        control_number=parsed.control_number,
        generation_code=parsed.generation_code,
        issuer_nit=parsed.issuer_nit,
        issuer_name=parsed.issuer_name,
        text=parsed.text,
        warnings=parsed.warnings,
    )
    reading.details["document_type"] = parsed.document_type
    if parsed.missing:
        reading.details["missing"] = parsed.missing
    return reading


def _read_pdf(path: str | Path, limits: Limits) -> Reading:
    text = pdf_text.read_pdf_text(path, limits.pdf_max_pages, limits.pdf_max_chars, limits.pdf_max_seconds)
    reading = Reading("pdf", text=text.text if text.has_text else "", problem=text.problem, warnings=text.truncated)
    reading.details.update(pages_read=text.pages_read, page_count=text.page_count, characters=len(text.text))
    return reading
