"""Setting values on a record and saying what changed: the one step every write path shares.

The API's PATCH, the transitions, assign/unassign and document attach/detach all go through
:func:`apply_changes`, so an OT field a person set is always marked ``manual`` (the import never
overwrites it) and an invoice whose key fields a person corrected always leaves the review queue.
"""

from __future__ import annotations

from typing import Any

from app.models import TRACKED_FIELDS, Invoice
from app.writes import history
from app.writes.resources import INVOICES, Resource


def apply_changes(resource: Resource, row: Any, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Set ``values`` on ``row``; the changed fields, old -> new. Used by PATCH, assign and transitions."""
    changes = {}
    for name, value in values.items():
        old = getattr(row, name)
        if old != value:
            changes[name] = (old, value)
            setattr(row, name, value)
    if resource.name == "ots" and changes:
        # A person's value: the import never overwrites it (app/imports/importer.py).
        sources = dict(row.field_sources or {})
        sources.update({name: "manual" for name in changes if name in TRACKED_FIELDS})
        row.field_sources = sources
    if (
        resource.name == "invoices"
        and row.needs_review
        and any(field.key and field.name in changes for field in resource.fields)
    ):
        changes["needs_review"] = (True, False)
        row.needs_review = False
    return changes


def attach(invoice: Invoice, document_id: int | None, action: str = "attach") -> None:
    """Point ``invoice`` at ``document_id`` (``None`` detaches) and record it; the caller commits."""
    changes = apply_changes(INVOICES, invoice, {"document_id": document_id})
    if changes:
        history.record("invoices", invoice.id, action, changes)
