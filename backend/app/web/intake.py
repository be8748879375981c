"""``/invoices/intake``: pick the provider and cost type, drop PDFs and DTE JSONs, see per file what happened.

With JavaScript each file goes to ``POST /api/invoices/intake`` on its own (``static/js/intake.js``),
with one progress bar per file. Without it the form posts every file to ``POST /invoices/intake``,
which runs the same :func:`app.intake.service.take_in` with the same parameter checks and renders
its reports. The review queue is the invoice list filtered by ``needs_review=true``.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import ApiError
from app.extensions import db
from app.intake.reading import Limits
from app.intake.routes import cost_type_parameter, provider_parameter
from app.intake.service import Options, take_in
from app.models import CostType, Provider
from app.web import bp
from app.web.guard import page_role
from app.web.labels import ASSIGNMENT
from app.web.streamed import checked_uploads, streamed_form

REVIEW_QUEUE = "/invoices?needs_review=true"
MAX_PROVIDERS = 500  # the picker: providers are a short reference list, never a page of invoices


def _statuses() -> dict[str, str]:
    return {
        "created": _("Invoice created"),
        "duplicate": _("Duplicate: already on record"),
        "not_created": _("Not created"),
        "rejected": _("Rejected"),
        "would_create": _("Would be created"),
    }


def _messages() -> dict[str, Any]:
    """What intake.js shows, translated here so the catalog holds every string of the page."""
    return {
        "status": _statuses(),
        "methods": {code: _(label) for code, label in ASSIGNMENT.items()},
        "kind": _("Read as"),
        "invoice_number": _("Invoice number"),
        "issue_date": _("Issue date"),
        "total": _("Total"),
        "provider": _("Provider"),
        "invoice_created": _("Invoice"),
        "duplicate_of": _("Already on record as"),
        "ot": _("OT"),
        "confidence": _("confidence"),
        "no_ot": _("No OT matched"),
        "needs_review": _("Needs review"),
        "failed": _("Upload failed"),
    }


def _choices() -> dict[str, Any]:
    providers = db.session.execute(
        select(Provider.id, Provider.name, Provider.nit).order_by(Provider.name).limit(MAX_PROVIDERS)
    ).all()
    cost_types = db.session.execute(
        select(CostType.code, CostType.name).where(CostType.active).order_by(CostType.display_order, CostType.code)
    ).all()
    db.session.commit()
    return {"providers": providers, "cost_types": cost_types}


def _page(
    reports: list[dict[str, Any]] | None = None, chosen: dict[str, str] | None = None, error: str | None = None
) -> str:
    return render_template(
        "web/intake.html",
        error=error,
        **_choices(),
        reports=reports,
        chosen=chosen or {},
        statuses=_statuses(),
        methods=ASSIGNMENT,
        review_queue=REVIEW_QUEUE,
        messages=_messages(),
    )


@bp.get("/invoices/intake")
@page_role("jefe_operaciones")  # the role POST /api/invoices/intake needs
def intake() -> ResponseReturnValue:
    return _page()


@bp.post("/invoices/intake")
@streamed_form
@page_role("jefe_operaciones")
def intake_files() -> ResponseReturnValue:
    """The no-JavaScript intake: provider and cost type are the fields before the files."""
    fields, uploads = checked_uploads()
    chosen = {"provider_id": fields.get("provider_id", ""), "cost_type": fields.get("cost_type", "")}
    try:
        options = Options(
            provider=provider_parameter(chosen["provider_id"]),
            cost_type=cost_type_parameter(chosen["cost_type"]),
            dry_run=False,
            limits=Limits.from_config(current_app.config),
        )
        db.session.commit()  # no read transaction held open while the files stream in
        answer = take_in(uploads, options)
    except ApiError as exc:  # a bad choice, or a broken body: the files before it are kept (docs/intake.md)
        db.session.rollback()
        return _page(None, chosen, exc.description), exc.code
    return _page(answer["files"], chosen)
