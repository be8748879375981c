"""The logistics domain: clients, providers, work orders (OTs), supplier invoices, stored files, API tokens."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db

OT_STATUSES = ("open", "in_transit", "arrived", "closed", "cancelled")
COST_TYPES = ("ocean_freight", "local_charges", "customs", "trucking", "storage", "demurrage", "other")
PROVISION_STATUSES = ("pending", "provisioned", "reversed")
BILLING_STATUSES = ("pending", "billed", "paid")
ASSIGNMENT_METHODS = ("manual", "ot_number", "master_bl", "container", "unassigned")
TOKEN_ROLES = ("admin", "user")


def utcnow() -> dt.datetime:
    """Naive UTC timestamp: stored the same way on SQLite and PostgreSQL."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Client(db.Model):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    nit: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Provider(db.Model):
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    nit: Mapped[str] = mapped_column(String(32), index=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Ot(db.Model):
    """A work order (orden de trabajo): one shipment the team handles for a client."""

    __tablename__ = "ots"

    id: Mapped[int] = mapped_column(primary_key=True)
    ot_number: Mapped[str] = mapped_column(String(32), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    carrier_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    master_bl: Mapped[str | None] = mapped_column(String(64), index=True)
    containers: Mapped[list[str]] = mapped_column(JSON, default=list)
    vessel: Mapped[str | None] = mapped_column(String(120))
    eta: Mapped[dt.date | None] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    client: Mapped[Client] = relationship()
    carrier: Mapped[Provider | None] = relationship()


class StoredFile(db.Model):
    """A document kept in file storage; the sha256 is the identity, so the same bytes are stored once."""

    __tablename__ = "stored_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    original_filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Invoice(db.Model):
    """A supplier invoice, matched (or not yet) to an OT."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_number: Mapped[str] = mapped_column(String(64), index=True)
    ot_id: Mapped[int | None] = mapped_column(ForeignKey("ots.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    provider_nit: Mapped[str | None] = mapped_column(String(32))
    cost_type: Mapped[str] = mapped_column(String(32), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    issue_date: Mapped[dt.date] = mapped_column(Date, index=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    provision_date: Mapped[dt.date | None] = mapped_column(Date)
    billing_date: Mapped[dt.date | None] = mapped_column(Date)
    provision_status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    billing_status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    assignment_method: Mapped[str] = mapped_column(String(20), default="unassigned")
    match_confidence: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"), index=True)

    ot: Mapped[Ot | None] = relationship()
    provider: Mapped[Provider] = relationship()
    document: Mapped[StoredFile | None] = relationship()

    __table_args__ = (Index("ix_invoices_provider_issue", "provider_id", "issue_date"),)


class ApiToken(db.Model):
    """An API bearer token; only its sha256 is stored, the token itself is shown once at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
