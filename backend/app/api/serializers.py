"""Model -> JSON dicts for the read API; dates as ISO strings, money as strings (exact decimals).

Each serializer reads attributes only, so it takes a loaded model (a detail, a write's answer) or a
record of the list SELECT (:func:`app.api.lists.records`) whose columns carry the same names.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from app.models import Invoice, Ot


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _decimal(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def invoice_json(invoice: Invoice | SimpleNamespace) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "invoice_number": invoice.invoice_number,
        "ot_id": invoice.ot_id,
        "ot_number": invoice.ot_number,
        "provider_id": invoice.provider_id,
        "provider_name": invoice.provider_name,
        "provider_nit": invoice.provider_nit,
        "operativo": invoice.operativo,
        "cost_type": invoice.cost_type,
        "amount": _decimal(invoice.amount),
        "applicable_amount": _decimal(invoice.applicable_amount),
        "amount_paid": _decimal(invoice.amount_paid),
        "currency": "USD",
        "issue_date": _iso(invoice.issue_date),
        "due_date": _iso(invoice.due_date),
        "provision_date": _iso(invoice.provision_date),
        "billing_date": _iso(invoice.billing_date),
        "provision_status": invoice.provision_status,
        "billing_status": invoice.billing_status,
        "payment_status": invoice.payment_status,
        "payment_date": _iso(invoice.payment_date),
        "control_number": invoice.control_number,
        "generation_code": invoice.generation_code,
        "detected_references": invoice.detected_references or {},
        "assignment_method": invoice.assignment_method,
        "match_confidence": _decimal(invoice.match_confidence),
        "needs_review": invoice.needs_review,
        "notes": invoice.notes,
        "document_id": invoice.document_id,
        "version": invoice.version,
        "created_at": _iso(invoice.created_at),
    }


def ot_json(ot: Ot | SimpleNamespace) -> dict[str, Any]:
    return {
        "id": ot.id,
        "ot_number": ot.ot_number,
        "operativo": ot.operativo,
        "operation_type": ot.operation_type,
        "client_id": ot.client_id,
        "client_name": ot.client_name,
        "carrier_id": ot.carrier_id,
        "carrier_name": ot.carrier_name,
        "master_bl": ot.master_bl,
        "house_bls": list(ot.house_bls or []),
        "containers": list(ot.containers or []),
        "shipment_type": ot.shipment_type,
        "vessel": ot.vessel,
        "origin_port": ot.origin_port,
        "destination_port": ot.destination_port,
        "etd": _iso(ot.etd),
        "eta": _iso(ot.eta),
        "arrival_date": _iso(ot.arrival_date),
        "status": ot.status,
        "provision_status": ot.provision_status,
        "provision_date": _iso(ot.provision_date),
        "billing_status": ot.billing_status,
        "billing_date": _iso(ot.billing_date),
        "billing_request_date": _iso(ot.billing_request_date),
        "invoice_reception_date": _iso(ot.invoice_reception_date),
        "express_release_type": ot.express_release_type,
        "express_release_date": _iso(ot.express_release_date),
        "cash_on_delivery_type": ot.cash_on_delivery_type,
        "cash_on_delivery_date": _iso(ot.cash_on_delivery_date),
        "closing_sent_date": _iso(ot.closing_sent_date),
        "comments": ot.comments,
        "field_sources": dict(ot.field_sources or {}),
        "version": ot.version,
        "created_at": _iso(ot.created_at),
        "updated_at": _iso(ot.updated_at),
    }
