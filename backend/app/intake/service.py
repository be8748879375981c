"""``POST /api/invoices/intake`` file by file: store, read, find the provider, dedupe, match, create.

Each file is handled on its own and committed on its own: its document is stored first (one pass:
sha256, sniffing, storage and a local spool copy for the reader, via
:func:`app.uploads.documents.store_document`), so a file that cannot become an invoice is still kept
and its answer says why. A file of the wrong type or an empty one is reported and the next file is
read; a broken body (413, truncated) ends the request with that error, and the files before it stay
stored: sending the same request again is safe, since documents dedupe by sha256 and invoices by
number.

Unknown issuer: the invoice is not created and no provider is created either (a provider carries a
type and credit days a person must choose); the answer names the NIT and the name read.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import regex
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import ApiError
from app.extensions import db
from app.intake.matching import Match, match_ot
from app.intake.reading import Limits, Reading, apply_patterns, read_document
from app.intake.values import normalise_nit
from app.models import Invoice, Provider
from app.uploads.documents import store_document
from app.uploads.sniffing import JSON, PDF, Sniffer, UnsupportedType
from app.uploads.storage import get_storage
from app.uploads.streaming import Upload, receive, upload_limit
from app.writes import history
from app.writes.fields import check
from app.writes.resources import INVOICES
from ops.leftovers import PART_SUFFIX, part_prefix, temp_dir

INTAKE_TYPES = frozenset({PDF, JSON})
CONTINUABLE = frozenset({"unsupported_type", "empty_upload"})  # the body is intact: read the next file
DEFAULT_COST_TYPE = "OTRO"
# A NIT printed on a PDF: 4-6-3-1 digits with or without dashes, after the word NIT.
NIT_IN_TEXT = regex.compile(r"(?i)\bNIT\b\s*[:.#]?\s*(\d{4}-?\d{6}-?\d{3}-?\d)")


@dataclass(frozen=True)
class Options:
    provider: Provider | None
    cost_type: str | None
    dry_run: bool
    limits: Limits


@dataclass
class FileReport:
    filename: str
    status: str = "not_created"  # created, duplicate, not_created, rejected (dry run: would_create)
    kind: str | None = None
    document: dict[str, Any] | None = None
    read: dict[str, Any] = field(default_factory=dict)
    references: dict[str, list[str]] = field(default_factory=dict)
    provider: dict[str, Any] | None = None
    invoice: dict[str, Any] | None = None
    duplicate_of: dict[str, Any] | None = None
    match: dict[str, Any] | None = None
    needs_review: bool = True
    review_reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: dict[str, str] | None = None


def take_in(uploads: Iterator[Upload], options: Options) -> dict[str, Any]:
    """Every file of the request in turn; the answer lists one report per file and the totals."""
    reports = [take_in_one(upload, options) for upload in uploads]
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.status] = counts.get(report.status, 0) + 1
    return {
        "dry_run": options.dry_run,
        "files": [report.__dict__ for report in reports],
        "counts": counts,
        "needs_review": sum(1 for report in reports if report.needs_review),
    }


def take_in_one(upload: Upload, options: Options) -> FileReport:
    report = FileReport(upload.filename)
    directory = temp_dir(current_app.config["STORAGE_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    # intake-<pid>-<random>.part: the master removes it if this worker is killed mid-read (ops/leftovers.py).
    with tempfile.NamedTemporaryFile(dir=directory, prefix=part_prefix("intake"), suffix=PART_SUFFIX) as spool:
        try:
            content_type = _receive(upload, spool, options, report)
        except ApiError as exc:
            if exc.error_code not in CONTINUABLE:
                raise
            db.session.rollback()
            report.status, report.needs_review = "rejected", False
            report.error = {"code": exc.error_code, "message": exc.description or ""}
            return report
        spool.flush()
        reading = read_document(spool.name, content_type, options.limits)
    report.kind = reading.kind
    _process(reading, report, options)
    return report


def _receive(upload: Upload, spool: IO[bytes], options: Options, report: FileReport) -> str:
    """Store the upload (unless a dry run) while copying it to ``spool``; the sniffed type."""
    sniffer = Sniffer(INTAKE_TYPES)

    def copied(chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            try:
                sniffer.feed(chunk)
            except UnsupportedType as exc:
                raise _unsupported(exc) from None
            spool.write(chunk)
            yield chunk

    teed = Upload(upload.filename, copied(upload.chunks), upload.fields)
    if options.dry_run:
        received = receive(teed, lambda chunk: None, upload_limit(), frozenset(INTAKE_TYPES))
        report.document = {"id": None, "sha256": received.sha256, "content_type": received.content_type}
    else:
        stored = store_document(teed, get_storage(current_app), upload_limit(), "")
        record = stored.record
        report.document = {
            "id": record.id,
            "sha256": record.sha256,
            "content_type": record.content_type,
            "duplicate": stored.duplicate,
        }
    try:
        return sniffer.result()
    except UnsupportedType as exc:
        raise _unsupported(exc) from None


def _unsupported(exc: UnsupportedType) -> ApiError:
    return ApiError(415, f"unsupported file type ({exc}); the intake reads PDF and DTE JSON", "unsupported_type")


def _process(reading: Reading, report: FileReport, options: Options) -> None:
    reasons = report.review_reasons
    if reading.problem:
        reasons.append(reading.problem)
    provider = _provider(reading, options, reasons)
    if provider is not None:
        report.provider = {"id": provider.id, "name": provider.name, "nit": provider.nit}
    if not reading.problem:
        apply_patterns(reading, provider.id if provider else None, options.limits)
    report.read = reading.fields()
    report.references = reading.references
    report.warnings.extend(reading.warnings)
    if provider is not None and reading.issuer_nit and normalise_nit(provider.nit) != reading.issuer_nit:
        reasons.append(f"the document's issuer NIT {reading.issuer_nit} is not {provider.name}'s ({provider.nit})")
    existing = _duplicate(reading, provider, report)
    if existing is not None:
        report.status, report.needs_review = "duplicate", existing.needs_review
        report.duplicate_of = {"invoice_id": existing.id, "invoice_number": existing.invoice_number}
        report.review_reasons = []
        db.session.rollback()
        return
    match = match_ot(reading.references) if not reading.problem else Match(None, "unassigned", None)
    report.match = match.as_json()
    reasons.extend(match.reasons)
    missing = [name for name in ("invoice_number", "issue_date", "total") if getattr(reading, name) is None]
    if missing and not reading.problem:
        reasons.append(f"not found in the document: {', '.join(missing)}")
    if provider is None or missing or reading.problem:
        report.status, report.needs_review = "not_created", True
        db.session.rollback()
        return
    _create(reading, provider, match, report, options)


def _provider(reading: Reading, options: Options, reasons: list[str]) -> Provider | None:
    """The provider given in the request, else the one whose NIT the document names (only if exactly one)."""
    if options.provider is not None:
        return options.provider
    nits = [reading.issuer_nit] if reading.issuer_nit else _nits_in_text(reading.text)
    if not nits:
        if not reading.problem:
            reasons.append("no issuer NIT read: send provider_id")
        return None
    compact = func.replace(func.replace(Provider.nit, "-", ""), " ", "")
    found = db.session.scalars(select(Provider).where(compact.in_(nits)).order_by(Provider.id)).all()
    if len(found) == 1:
        return found[0]
    if not found:
        name = f" ({reading.issuer_name})" if reading.issuer_name else ""
        reasons.append(f"unknown issuer NIT {', '.join(nits)}{name}: create the provider or send provider_id")
    else:
        reasons.append(f"several providers match the NITs read ({', '.join(p.name for p in found)}): send provider_id")
    return None


def _nits_in_text(text: str) -> list[str]:
    try:
        raw = [match.group(1) for match in NIT_IN_TEXT.finditer(text[:20_000], timeout=0.5)]
    except TimeoutError:
        return []
    return list(dict.fromkeys(nit for nit in map(normalise_nit, raw) if nit))[:5]


def _duplicate(reading: Reading, provider: Provider | None, report: FileReport) -> Invoice | None:
    """The invoice already holding this number for this provider, this DTE generation code, or this document."""
    if provider is not None and reading.invoice_number:
        found = db.session.scalars(
            select(Invoice).where(Invoice.provider_id == provider.id, Invoice.invoice_number == reading.invoice_number)
        ).first()
        if found is not None:
            return found
    if reading.generation_code:
        found = db.session.scalars(select(Invoice).where(Invoice.generation_code == reading.generation_code)).first()
        if found is not None:
            return found
    document_id = (report.document or {}).get("id")
    if document_id is not None and (report.document or {}).get("duplicate"):
        return db.session.scalars(select(Invoice).where(Invoice.document_id == document_id)).first()
    return None


def _validated(
    reading: Reading, provider: Provider, cost_type: str, due_date: dt.date, match: Match, report: FileReport
) -> dict[str, Any] | None:
    """The invoice's values through the write API's own rules; ``None`` (not created, named why) if one fails.

    A document can say anything: a 70-character "number" or a control character is refused here
    exactly as the API would refuse it, instead of reaching the database.
    """
    body = {
        "invoice_number": reading.invoice_number,
        "provider_id": provider.id,
        "cost_type": cost_type,
        "amount": str(reading.total),
        "issue_date": reading.issue_date.isoformat() if reading.issue_date else None,
        "due_date": due_date.isoformat(),
        "ot_id": match.ot.id if match.ot else None,
        "control_number": reading.control_number,
        "generation_code": reading.generation_code,
    }
    values, problems = check(INVOICES.fields, {k: v for k, v in body.items() if v is not None}, creating=True)
    if not problems:
        return values
    report.status, report.needs_review = "not_created", True
    report.review_reasons.extend(f"{name}: {message}" for name, message in sorted(problems.items()))
    db.session.rollback()
    return None


def _create(reading: Reading, provider: Provider, match: Match, report: FileReport, options: Options) -> None:
    assert reading.invoice_number and reading.issue_date and reading.total is not None
    cost_type = options.cost_type or DEFAULT_COST_TYPE
    if options.cost_type is None:
        report.warnings.append(f"no cost_type given: {DEFAULT_COST_TYPE}")
    due_date = reading.issue_date + dt.timedelta(days=provider.credit_days or 0)
    values = _validated(reading, provider, cost_type, due_date, match, report)
    if values is None:
        return
    invoice = Invoice(
        **values,
        provider_nit=provider.nit,
        applicable_amount=values["amount"],
        detected_references=reading.references,
        assignment_method=match.method,
        match_confidence=match.confidence,
        needs_review=bool(report.review_reasons) or match.needs_review,
        document_id=(report.document or {}).get("id"),
    )
    report.needs_review = invoice.needs_review
    summary = {"cost_type": cost_type, "due_date": due_date.isoformat(), "amount": str(reading.total)}
    if options.dry_run:
        report.status, report.invoice = "would_create", {"id": None, **summary}
        db.session.rollback()
        return
    db.session.add(invoice)
    try:
        db.session.flush()
        history.record("invoices", invoice.id, "intake:create", {name: (None, value) for name, value in values.items()})
        db.session.commit()
    except IntegrityError:  # the same number committed by a concurrent intake since our check
        db.session.rollback()
        existing = _duplicate(reading, provider, report)
        if existing is None:
            raise
        report.status, report.needs_review, report.review_reasons = "duplicate", existing.needs_review, []
        report.duplicate_of = {"invoice_id": existing.id, "invoice_number": existing.invoice_number}
        return
    report.status, report.invoice = "created", {"id": invoice.id, **summary}
