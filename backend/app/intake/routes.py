"""The intake's HTTP surface: take invoices in, assign or unassign their OT, and the admins' patterns.

Every view is under ``/api`` so the bearer-token guard applies; the pattern views need ``admin``.
JSON bodies are small and bounded (:data:`MAX_JSON_BODY`); a body that is not the expected object
is a ``400 invalid_body`` naming what is wrong.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.api.serializers import invoice_json
from app.auth import require_role
from app.catalogs import cost_type_codes
from app.errors import ApiError, BadParameter
from app.extensions import db
from app.filters import check_known, parse_flag
from app.intake import bp
from app.intake.patterns import (
    FIELDS,
    PatternError,
    PatternTimeout,
    compile_pattern,
    find_matches,
    normalised,
    value_of,
)
from app.intake.reading import Limits
from app.intake.service import Options, take_in
from app.models import ExtractionPattern, Invoice, Ot, Provider
from app.uploads.streaming import open_request_uploads
from app.writes import history
from app.writes.changes import apply_changes
from app.writes.resources import INVOICES

INTAKE_PARAMETERS = ("provider_id", "cost_type", "dry_run")
MAX_JSON_BODY = 1024 * 1024  # a pattern test carries up to INTAKE_PDF_MAX_CHARS of text
MAX_TEST_MATCHES = 100
PATTERN_KEYS = frozenset({"provider_id", "field", "pattern", "priority", "active"})


@bp.post("/invoices/intake")
def intake() -> ResponseReturnValue:
    """Store and read each ``file`` part (PDF or DTE JSON), create and match the invoices; one report per file."""
    check_known(request.args, INTAKE_PARAMETERS)
    for name in INTAKE_PARAMETERS:
        if len(request.args.getlist(name)) > 1:
            raise BadParameter(name, "given more than once")
    options = Options(
        provider=provider_parameter(request.args.get("provider_id")),
        cost_type=cost_type_parameter(request.args.get("cost_type")),
        dry_run=parse_flag("dry_run", request.args.get("dry_run", "false")),
        limits=Limits.from_config(current_app.config),
    )
    db.session.commit()  # no read transaction held open while the body streams in
    return jsonify(take_in(open_request_uploads(), options))


@bp.post("/invoices/<int:invoice_id>/assign")
def assign(invoice_id: int) -> ResponseReturnValue:
    """A person's choice: method ``manual``, confidence 1.0, out of the review queue."""
    body = _json_object({"ot_id"})
    ot_id = body.get("ot_id")
    if not isinstance(ot_id, int) or isinstance(ot_id, bool):
        raise ApiError(400, 'expected {"ot_id": <integer>}', "invalid_body")
    assign_ot(_invoice(invoice_id), ot_id)
    return jsonify(invoice_json(_invoice(invoice_id)))


def assign_ot(invoice: Invoice, ot_id: int) -> None:
    """A person's choice of OT, with its history row (the API's assign and the invoice page's form)."""
    ot = db.session.get(Ot, ot_id)
    if ot is None:
        raise ApiError(422, f"no OT with id {ot_id}", "unknown_ot")
    changes = apply_changes(
        INVOICES, invoice, {"ot_id": ot.id, "assignment_method": "manual", "match_confidence": Decimal(1)}
    )
    changes.update(apply_changes(INVOICES, invoice, {"needs_review": False}))
    history.record("invoices", invoice.id, "assign", changes)  # same transaction as the change
    db.session.commit()


@bp.post("/invoices/<int:invoice_id>/unassign")
def unassign(invoice_id: int) -> ResponseReturnValue:
    """Take the OT away: method ``unassigned``, no confidence, back in the review queue."""
    _json_object(set(), optional=True)
    unassign_ot(_invoice(invoice_id))
    return jsonify(invoice_json(_invoice(invoice_id)))


def unassign_ot(invoice: Invoice) -> None:
    """Take the OT away: method ``unassigned``, no confidence, back in the review queue."""
    changes = apply_changes(
        INVOICES, invoice, {"ot_id": None, "assignment_method": "unassigned", "match_confidence": None}
    )
    changes.update(apply_changes(INVOICES, invoice, {"needs_review": True}))
    history.record("invoices", invoice.id, "unassign", changes)
    db.session.commit()


# Extraction patterns ------------------------------------------------------------------------------


@bp.get("/extraction-patterns")
@require_role("admin")
def list_patterns() -> ResponseReturnValue:
    """Every pattern (active or not), grouped as they are tried: per provider by priority, then generic."""
    conditions = []
    if "provider_id" in request.args:
        raw = request.args["provider_id"]
        conditions.append(
            ExtractionPattern.provider_id.is_(None)
            if raw in ("", "null")
            else ExtractionPattern.provider_id == _int_parameter("provider_id", raw)
        )
    check_known(request.args, {"provider_id"})
    rows = db.session.scalars(
        select(ExtractionPattern)
        .where(*conditions)
        .order_by(ExtractionPattern.provider_id.is_(None), ExtractionPattern.provider_id, ExtractionPattern.priority)
        .order_by(ExtractionPattern.id)
    ).all()
    return jsonify(items=[_pattern_json(row) for row in rows])


@bp.post("/extraction-patterns")
@require_role("admin")
def create_pattern() -> ResponseReturnValue:
    body = _json_object(PATTERN_KEYS)
    missing = sorted({"field", "pattern"} - set(body))
    if missing:
        raise ApiError(400, f"missing {', '.join(missing)}", "invalid_body")
    row = ExtractionPattern(priority=100, active=True)
    _apply_pattern(row, body)
    db.session.add(row)
    db.session.commit()
    return jsonify(_pattern_json(row)), 201


@bp.patch("/extraction-patterns/<int:pattern_id>")
@require_role("admin")
def update_pattern(pattern_id: int) -> ResponseReturnValue:
    row = _pattern(pattern_id)
    _apply_pattern(row, _json_object(PATTERN_KEYS))
    db.session.commit()
    return jsonify(_pattern_json(row))


@bp.delete("/extraction-patterns/<int:pattern_id>")
@require_role("admin")
def delete_pattern(pattern_id: int) -> ResponseReturnValue:
    db.session.delete(_pattern(pattern_id))
    db.session.commit()
    return "", 204


@bp.post("/extraction-patterns/test")
@require_role("admin")
def test_pattern() -> ResponseReturnValue:
    """Run ``pattern`` on ``text`` with the intake's time bound; the matches, or 422 ``pattern_timeout``."""
    body = _json_object({"pattern", "text", "field"})
    text = body.get("text")
    if not isinstance(text, str):
        raise ApiError(400, '"text" must be a string', "invalid_body")
    limits = Limits.from_config(current_app.config)
    if len(text) > limits.pdf_max_chars:
        raise ApiError(400, f'"text" is longer than INTAKE_PDF_MAX_CHARS ({limits.pdf_max_chars})', "invalid_body")
    field_name = body.get("field")
    if field_name is not None and field_name not in FIELDS:
        raise ApiError(400, f"field must be one of {', '.join(FIELDS)}", "invalid_body")
    compiled = _compiled(body.get("pattern"))
    try:
        matches = find_matches(compiled, text, limits.pattern_timeout, MAX_TEST_MATCHES)
    except PatternTimeout as exc:
        raise ApiError(422, f"{exc}: it would be skipped on every invoice", "pattern_timeout") from None
    items = []
    for match in matches:
        item: dict[str, Any] = {
            "match": match.group(0),
            "value": value_of(match),
            "start": match.start(),
            "end": match.end(),
            "groups": list(match.groups()),
        }
        if field_name is not None:
            item["normalised"] = _json_value(normalised(field_name, value_of(match)))
        items.append(item)
    return jsonify(matches=items, count=len(items), truncated=len(items) >= MAX_TEST_MATCHES)


# Helpers ------------------------------------------------------------------------------------------


def _json_object(allowed: set[str] | frozenset[str], optional: bool = False) -> dict[str, Any]:
    request.max_content_length = MAX_JSON_BODY
    if optional and not request.get_data(cache=True):
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object body", "invalid_body")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(
            400, f"unknown key {unknown[0]!r}; expected {', '.join(sorted(allowed)) or 'none'}", "invalid_body"
        )
    return body


def _apply_pattern(row: ExtractionPattern, body: dict[str, Any]) -> None:
    if "field" in body:
        if body["field"] not in FIELDS:
            raise ApiError(400, f"field must be one of {', '.join(FIELDS)}", "invalid_body")
        row.field = body["field"]
    if "pattern" in body:
        _compiled(body["pattern"])
        row.pattern = body["pattern"]
    if "priority" in body:
        priority = body["priority"]
        if not isinstance(priority, int) or isinstance(priority, bool) or not -1_000_000 <= priority <= 1_000_000:
            raise ApiError(400, "priority must be an integer (lower is tried first)", "invalid_body")
        row.priority = priority
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise ApiError(400, "active must be true or false", "invalid_body")
        row.active = body["active"]
    if "provider_id" in body:
        provider_id = body["provider_id"]
        if provider_id is not None:
            if not isinstance(provider_id, int) or isinstance(provider_id, bool):
                raise ApiError(400, "provider_id must be an integer or null", "invalid_body")
            if db.session.get(Provider, provider_id) is None:
                raise ApiError(422, f"no provider with id {provider_id}", "unknown_provider")
        row.provider_id = provider_id


def _compiled(pattern: object) -> Any:
    if not isinstance(pattern, str):
        raise ApiError(400, '"pattern" must be a string', "invalid_body")
    try:
        return compile_pattern(pattern)
    except PatternError as exc:
        raise ApiError(422, f"the pattern does not compile: {exc}", "invalid_pattern") from None


def _pattern_json(row: ExtractionPattern) -> dict[str, Any]:
    return {
        "id": row.id,
        "provider_id": row.provider_id,
        "field": row.field,
        "pattern": row.pattern,
        "priority": row.priority,
        "active": row.active,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def _pattern(pattern_id: int) -> ExtractionPattern:
    row = db.session.get(ExtractionPattern, pattern_id)
    if row is None:
        raise ApiError(404, f"extraction pattern {pattern_id} not found")
    return row


def _invoice(invoice_id: int) -> Invoice:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        raise ApiError(404, f"invoice {invoice_id} not found")
    return invoice


def _int_parameter(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise BadParameter(name, f"expected an integer, got {raw!r}") from None


def provider_parameter(raw: str | None) -> Provider | None:
    """``provider_id`` from the query string (the API) or the intake page's form; 400 naming a bad one."""
    if raw is None or raw == "":
        return None
    provider = db.session.get(Provider, _int_parameter("provider_id", raw))
    if provider is None:
        raise BadParameter("provider_id", f"no provider with id {raw}")
    return provider


def cost_type_parameter(raw: str | None) -> str | None:
    """A cost-type code of the catalog, case-insensitive; None for none given."""
    if raw is None or raw == "":
        return None
    code = raw.strip().upper()
    codes = cost_type_codes()
    if code not in codes:
        raise BadParameter("cost_type", f"expected one of {', '.join(codes)}")
    return code


def _json_value(value: Any) -> Any:
    if isinstance(value, list | str | None):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
