"""Which fields each edit form shows, with their label and input; who may edit them is the write API's rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.catalogs import cost_type_codes
from app.extensions import db
from app.i18n import N_
from app.models import (
    BILLING_STATUSES,
    OPERATION_TYPES,
    OT_PROVISION_STATUSES,
    OT_STATUSES,
    PROVIDER_TYPES,
    Client,
    Provider,
)
from app.web.layout import label
from app.writes.resources import CLIENTS, INVOICES, OTS, PROVIDERS, Resource

PICKER_MAX = 500  # a picker lists at most this many clients or providers


@dataclass(frozen=True)
class FormField:
    name: str
    label: str  # English msgid
    kind: str = "text"  # text, textarea, date, money, number, select, lines
    options: str | None = None  # for select: a key of :func:`options`


INVOICE_FORM = (
    FormField("invoice_number", N_("Invoice number")),
    FormField("provider_id", N_("Provider"), "select", "providers"),
    FormField("cost_type", N_("Cost type"), "select", "cost_types"),
    FormField("amount", N_("Amount (US$)"), "money"),
    FormField("applicable_amount", N_("Applicable amount (US$)"), "money"),
    FormField("issue_date", N_("Issue date"), "date"),
    FormField("due_date", N_("Due date"), "date"),
    FormField("control_number", N_("Control number")),
    FormField("generation_code", N_("Generation code")),
    FormField("provision_date", N_("Provision date"), "date"),
    FormField("billing_date", N_("Billing date"), "date"),
    FormField("payment_date", N_("Payment date"), "date"),
    FormField("notes", N_("Notes"), "textarea"),
)
OT_FORM = (
    FormField("ot_number", N_("OT number")),
    FormField("client_id", N_("Client"), "select", "clients"),
    FormField("carrier_id", N_("Shipping line"), "select", "carriers"),
    FormField("operativo", N_("Operativo")),
    FormField("operation_type", N_("Operation"), "select", "operation_types"),
    FormField("master_bl", N_("MBL")),
    FormField("containers", N_("Containers (one per line)"), "lines"),
    FormField("house_bls", N_("House BLs (one per line)"), "lines"),
    FormField("vessel", N_("Vessel and voyage")),
    FormField("shipment_type", N_("Shipment type")),
    FormField("origin_port", N_("Origin port")),
    FormField("destination_port", N_("Destination port")),
    FormField("etd", N_("ETD"), "date"),
    FormField("eta", N_("ETA"), "date"),
    FormField("arrival_date", N_("Arrival date"), "date"),
    FormField("status", N_("Status"), "select", "ot_statuses"),
    FormField("provision_status", N_("Provision status"), "select", "ot_provision"),
    FormField("provision_date", N_("Provision date"), "date"),
    FormField("billing_status", N_("Billing status"), "select", "billing"),
    FormField("billing_date", N_("Billing date"), "date"),
    FormField("billing_request_date", N_("Billing request date"), "date"),
    FormField("invoice_reception_date", N_("Invoice reception date"), "date"),
    FormField("comments", N_("Comments"), "textarea"),
)
CLIENT_FORM = (FormField("name", N_("Name")), FormField("nit", N_("NIT")), FormField("nrc", N_("NRC")))
PROVIDER_FORM = (
    FormField("name", N_("Name")),
    FormField("nit", N_("NIT")),
    FormField("nrc", N_("NRC")),
    FormField("type", N_("Type"), "select", "provider_types"),
    FormField("credit_days", N_("Credit days"), "number"),
)
FORMS: dict[str, tuple[Resource, tuple[FormField, ...]]] = {
    "invoices": (INVOICES, INVOICE_FORM),
    "ots": (OTS, OT_FORM),
    "clients": (CLIENTS, CLIENT_FORM),
    "providers": (PROVIDERS, PROVIDER_FORM),
}


def editable(resource: Resource, fields: tuple[FormField, ...], role: str, creating: bool) -> list[str]:
    """The fields ``role`` may change: all for jefe_operaciones and up, finanzas only its own (write API rule)."""
    from app.auth import has_role

    if has_role(role, resource.create_role if creating else "jefe_operaciones"):
        return [item.name for item in fields]
    if not creating and has_role(role, resource.edit_role):
        return [item.name for item in fields if item.name in resource.finance_fields]
    return []


def options(key: str) -> list[tuple[Any, str]]:
    """``(value, label)`` pairs for a select, codes in the page's language."""
    if key == "providers" or key == "carriers":
        stmt = select(Provider.id, Provider.name).order_by(Provider.name).limit(PICKER_MAX)
        if key == "carriers":
            stmt = stmt.where(Provider.type == "naviera")
        return [(row.id, row.name) for row in db.session.execute(stmt)]
    if key == "clients":
        stmt = select(Client.id, Client.name).order_by(Client.name).limit(PICKER_MAX)
        return [(row.id, row.name) for row in db.session.execute(stmt)]
    codes = {
        "cost_types": ("", list(cost_type_codes())),
        "operation_types": ("operation", OPERATION_TYPES),
        "ot_statuses": ("ot_status", OT_STATUSES),
        "ot_provision": ("provision", OT_PROVISION_STATUSES),
        "billing": ("billing", BILLING_STATUSES),
        "provider_types": ("provider_type", PROVIDER_TYPES),
    }[key]
    return [(code, label(codes[0], code) if codes[0] else code) for code in codes[1]]
