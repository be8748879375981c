"""The logistics domain: clients, providers, work orders (OTs), supplier invoices, stored files, API tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Numeric, String, Text, cast
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db

PROVIDER_TYPES = ("carrier", "customs_agent", "trucking", "other")
OT_STATUSES = ("open", "in_transit", "arrived", "closed", "cancelled")
COST_TYPES = ("ocean_freight", "local_charges", "customs", "trucking", "storage", "demurrage", "other")
PROVISION_STATUSES = ("pending", "provisioned", "reversed")
BILLING_STATUSES = ("pending", "billed", "paid")
ASSIGNMENT_METHODS = ("manual", "ot_number", "master_bl", "container", "unassigned")
TOKEN_ROLES = ("admin", "user")
# Invoice columns the list filters by equality; each gets a (column, id) index (see Invoice.__table_args__).
INVOICE_EQUALITY_FILTERS = (
    "provider_nit",
    "cost_type",
    "provision_status",
    "billing_status",
    "assignment_method",
    "needs_review",
)


# Indexes that exist only on PostgreSQL (pg_trgm GIN). They are declared here, beside the columns they serve, so that
# autogenerate on PostgreSQL compares them; on SQLite, which has no GIN, the migration skips them and
# :func:`include_in_autogenerate` hides them from the comparison (``ddl_if`` keeps ``create_all`` from trying).
POSTGRESQL_ONLY = "postgresql_only"


def trigram_index(name: str, column: str) -> Index:
    """A pg_trgm GIN index on ``column``: lets ``ILIKE '%text%'`` use an index instead of reading every row."""
    index = Index(
        name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}, info={POSTGRESQL_ONLY: True}
    )
    return index.ddl_if(dialect="postgresql")


def autogenerate_filter(dialect_name: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's ``include_object`` hook for a database of kind ``dialect_name`` (env.py and the schema test).

    Off PostgreSQL the PostgreSQL-only indexes are left out of the comparison: SQLite cannot have
    them, so without this autogenerate there would always propose creating them.
    """

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "index" and not reflected and obj.info.get(POSTGRESQL_ONLY):
            return dialect_name == "postgresql"
        return True

    return include


def utcnow() -> dt.datetime:
    """Naive UTC timestamp: stored the same way on SQLite and PostgreSQL."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Client(db.Model):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    nit: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (trigram_index("ix_clients_name_trgm", "name"),)


class Provider(db.Model):
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    nit: Mapped[str] = mapped_column(String(32), index=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (trigram_index("ix_providers_name_trgm", "name"),)


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

    # The searches (invoices' and OTs' q=) match these by substring (and the containers as text: below the class).
    __table_args__ = (
        trigram_index("ix_ots_ot_number_trgm", "ot_number"),
        trigram_index("ix_ots_master_bl_trgm", "master_bl"),
        trigram_index("ix_ots_vessel_trgm", "vessel"),
    )


# The OT search matches the JSON list of containers as text: CAST(containers AS VARCHAR), indexed as that expression.
Index(
    "ix_ots_containers_trgm",
    cast(Ot.__table__.c.containers, String).label("containers_text"),
    postgresql_using="gin",
    postgresql_ops={"containers_text": "gin_trgm_ops"},
    info={POSTGRESQL_ONLY: True},
).ddl_if(dialect="postgresql")


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
    cost_type: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), index=True)
    issue_date: Mapped[dt.date] = mapped_column(Date, index=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    provision_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    billing_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    provision_status: Mapped[str] = mapped_column(String(20), default="pending")
    billing_status: Mapped[str] = mapped_column(String(20), default="pending")
    assignment_method: Mapped[str] = mapped_column(String(20), default="unassigned")
    match_confidence: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"), index=True)

    ot: Mapped[Ot | None] = relationship()
    provider: Mapped[Provider] = relationship()
    document: Mapped[StoredFile | None] = relationship()

    __table_args__ = (
        Index("ix_invoices_provider_issue", "provider_id", "issue_date"),
        # Equality filters of the list, each with the page order: (column, id) is read backwards from the
        # newest matching id, so a page costs ~limit index entries whatever the filter matches.
        *(Index(f"ix_invoices_{name}_id", name, "id") for name in INVOICE_EQUALITY_FILTERS),
        # Free-text search (q=): substring ILIKE on these columns, answered by pg_trgm on PostgreSQL.
        *(trigram_index(f"ix_invoices_{name}_trgm", name) for name in ("invoice_number", "provider_nit", "notes")),
    )


class ApiToken(db.Model):
    """An API bearer token; only its sha256 is stored, the token itself is shown once at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
