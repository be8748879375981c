"""Each writable resource once: its fields, unique fields, finance fields, references that block a delete.

The API uses these specs and nothing else, so a rule (a required field, a unique one, who may edit
what) has one home per resource.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func

from app.api.serializers import invoice_json, ot_json
from app.catalogs import cost_type_codes
from app.models import (
    BILLING_STATUSES,
    OPERATION_TYPES,
    OT_PROVISION_STATUSES,
    OT_STATUSES,
    PROVIDER_TYPES,
    Client,
    ClientResolution,
    CostCategory,
    CostType,
    ExtractionPattern,
    Invoice,
    Ot,
    Provider,
)
from app.writes.fields import (
    Field,
    boolean,
    choice,
    containers,
    date,
    integer,
    money,
    ot_number,
    reference,
    text,
    text_list,
)


@dataclass(frozen=True)
class Resource:
    """A writable record kind: ``name`` is its path segment and its name in the history."""

    name: str
    model: Any
    fields: tuple[Field, ...]
    to_json: Callable[[Any], dict[str, Any]]
    create_role: str = "jefe_operaciones"
    edit_role: str = "jefe_operaciones"
    # Unique fields: a tuple of columns that must be unique together, named by the first one.
    unique: tuple[tuple[str, ...], ...] = ()
    # Fields finanzas may change (it may not create or delete); empty: finanzas cannot edit this resource.
    finance_fields: frozenset[str] = frozenset()
    # (model, column) pairs whose rows refer to this record: a delete is refused while any exists.
    referenced_by: tuple[tuple[Any, Any], ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        return self.name[:-1].replace("-", " ")


def client_json(row: Client) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "nit": row.nit,
        "nrc": row.nrc,
        "version": row.version,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def provider_json(row: Provider) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "nit": row.nit,
        "nrc": row.nrc,
        "type": row.type,
        "credit_days": row.credit_days,
        "version": row.version,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def cost_type_json(row: CostType) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "category_id": row.category_id,
        "linked_to_ot": row.linked_to_ot,
        "active": row.active,
        "display_order": row.display_order,
        "version": row.version,
    }


def _code(value: Any) -> str | None:
    parsed = text(32, required=True)(value)
    return parsed.upper() if parsed else parsed


CLIENTS = Resource(
    name="clients",
    model=Client,
    fields=(Field("name", text(200, required=True), required=True), Field("nit", text(32)), Field("nrc", text(32))),
    to_json=client_json,
    unique=(("name",),),
    referenced_by=((Ot, Ot.client_id), (ClientResolution, ClientResolution.client_id)),
)
PROVIDERS = Resource(
    name="providers",
    model=Provider,
    fields=(
        Field("name", text(200, required=True), required=True),
        Field("nit", text(32, required=True), required=True),
        Field("nrc", text(32)),
        Field("type", choice(PROVIDER_TYPES), required=True),
        Field("credit_days", integer(0, 365)),
    ),
    to_json=provider_json,
    unique=(("nit",),),
    referenced_by=(
        (Invoice, Invoice.provider_id),
        (Ot, Ot.carrier_id),
        (ExtractionPattern, ExtractionPattern.provider_id),
    ),
)
COST_TYPES = Resource(
    name="cost-types",
    model=CostType,
    fields=(
        Field("code", _code, required=True),
        Field("name", text(100, required=True), required=True),
        Field("category_id", reference(CostCategory), required=True),
        Field("linked_to_ot", boolean),
        Field("active", boolean),
        Field("display_order", integer(0, 10_000)),
    ),
    to_json=cost_type_json,
    create_role="admin",
    edit_role="admin",
    unique=(("code",),),
    referenced_by=((Invoice, Invoice.cost_type),),
)
OT_FINANCE = frozenset(
    {
        "provision_status",
        "provision_date",
        "billing_status",
        "billing_date",
        "billing_request_date",
        "invoice_reception_date",
        "comments",
    }
)
OTS = Resource(
    name="ots",
    model=Ot,
    fields=(
        Field("ot_number", ot_number, required=True, key=True),
        Field("client_id", reference(Client), required=True, key=True),
        Field("carrier_id", reference(Provider, nullable=True)),
        Field("master_bl", text(64)),
        Field("containers", containers),
        Field("house_bls", text_list(64)),
        Field("vessel", text(120)),
        Field("operativo", text(100)),
        Field("operation_type", choice(OPERATION_TYPES)),
        Field("shipment_type", text(40)),
        Field("origin_port", text(100)),
        Field("destination_port", text(100)),
        Field("etd", date),
        Field("eta", date),
        Field("arrival_date", date),
        Field("status", choice(OT_STATUSES)),
        Field("provision_status", choice(OT_PROVISION_STATUSES)),
        Field("provision_date", date),
        Field("billing_status", choice(BILLING_STATUSES)),
        Field("billing_date", date),
        Field("billing_request_date", date),
        Field("invoice_reception_date", date),
        Field("express_release_type", text(60)),
        Field("express_release_date", date),
        Field("cash_on_delivery_type", text(60)),
        Field("cash_on_delivery_date", date),
        Field("closing_sent_date", date),
        Field("comments", text(5000)),
    ),
    to_json=ot_json,
    unique=(("ot_number",),),
    finance_fields=OT_FINANCE,
    edit_role="finanzas",
    referenced_by=((Invoice, Invoice.ot_id),),
    defaults={"field_sources": {}, "containers": [], "house_bls": []},
)
INVOICE_FINANCE = frozenset({"provision_date", "billing_date", "payment_date", "notes"})
INVOICES = Resource(
    name="invoices",
    model=Invoice,
    fields=(
        Field("invoice_number", text(64, required=True), required=True, key=True),
        Field("provider_id", reference(Provider), required=True, key=True),
        Field("cost_type", choice(cost_type_codes), required=True, key=True),
        Field("amount", money, required=True, key=True),
        Field("applicable_amount", money),
        Field("issue_date", lambda v: date(v) if v is not None else _required(), required=True, key=True),
        Field("due_date", date),
        Field("ot_id", reference(Ot, nullable=True), key=True),
        Field("control_number", text(64)),
        Field("generation_code", text(64)),
        Field("provision_date", date),
        Field("billing_date", date),
        Field("payment_date", date),
        Field("notes", text(5000)),
    ),
    to_json=invoice_json,
    unique=(("invoice_number", "provider_id"),),
    finance_fields=INVOICE_FINANCE,
    edit_role="finanzas",
    defaults={"detected_references": {}},
)
RESOURCES = {resource.name: resource for resource in (CLIENTS, PROVIDERS, COST_TYPES, OTS, INVOICES)}


def _required() -> None:
    from app.writes.fields import Invalid

    raise Invalid("required")


def count(model: Any, column: Any, value: Any) -> int:
    from app.extensions import db

    return db.session.scalar(func.count().select().select_from(model).where(column == value)) or 0
