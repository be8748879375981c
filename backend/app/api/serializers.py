"""Model -> JSON dicts for the read API; dates as ISO strings, money as strings (exact decimals)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from app.models import Invoice, Ot


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _decimal(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    ot, provider = invoice.ot, invoice.provider
    return {
        "id": invoice.id,
        "invoice_number": invoice.invoice_number,
        "ot_id": invoice.ot_id,
        "ot_number": ot.ot_number if ot else None,
        "provider_id": invoice.provider_id,
        "provider_name": provider.name if provider else None,
        "provider_nit": invoice.provider_nit,
        "cost_type": invoice.cost_type,
        "amount": _decimal(invoice.amount),
        "currency": "USD",
        "issue_date": _iso(invoice.issue_date),
        "due_date": _iso(invoice.due_date),
        "provision_date": _iso(invoice.provision_date),
        "billing_date": _iso(invoice.billing_date),
        "provision_status": invoice.provision_status,
        "billing_status": invoice.billing_status,
        "assignment_method": invoice.assignment_method,
        "match_confidence": _decimal(invoice.match_confidence),
        "needs_review": invoice.needs_review,
        "notes": invoice.notes,
        "document_id": invoice.document_id,
        "created_at": _iso(invoice.created_at),
    }


def ot_json(ot: Ot) -> dict[str, Any]:
    return {
        "id": ot.id,
        "ot_number": ot.ot_number,
        "client_id": ot.client_id,
        "client_name": ot.client.name if ot.client else None,
        "carrier_id": ot.carrier_id,
        "carrier_name": ot.carrier.name if ot.carrier else None,
        "master_bl": ot.master_bl,
        "containers": list(ot.containers or []),
        "vessel": ot.vessel,
        "eta": _iso(ot.eta),
        "status": ot.status,
        "created_at": _iso(ot.created_at),
        "updated_at": _iso(ot.updated_at),
    }
