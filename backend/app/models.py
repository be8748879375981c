"""The logistics domain: clients, providers, cost types, work orders (OTs), supplier invoices, stored files, tokens.

Vocabularies follow the operations team's own words (El Salvador, Spanish): codes are what the API,
filters and imports accept; the ``*_LABELS`` maps give the Spanish label exports and pages show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    cast,
)
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db

OT_STATUS_LABELS = {
    "almacenadora": "Almacenadora",
    "bodega": "Bodega",
    "cerrada": "Cerrada",
    "desprendimiento": "Desprendimiento",
    "disputa": "Disputa",
    "en_rada": "En rada",
    "fact_adicionales": "Facturación adicional",
    "finalizada": "Finalizada",
    "puerto": "Puerto",
    "transito": "Tránsito",
}
OT_STATUSES = tuple(OT_STATUS_LABELS)
OPERATION_TYPE_LABELS = {"importacion": "Importación", "exportacion": "Exportación"}
OPERATION_TYPES = tuple(OPERATION_TYPE_LABELS)
PROVIDER_TYPE_LABELS = {
    "naviera": "Naviera",
    "agente_local": "Agente local",
    "agencia_aduanal": "Agencia aduanal",
    "agente_origen": "Agente de origen",
    "aseguradora": "Aseguradora",
    "aerolinea": "Aerolínea",
    "consolidadora": "Consolidadora",
    "almacenadora": "Almacenadora",
    "transportista": "Transportista",
    "otro": "Otro",
}
PROVIDER_TYPES = tuple(PROVIDER_TYPE_LABELS)
PROVISION_STATUS_LABELS = {
    "pending": "Pendiente",
    "in_review": "En revisión",
    "disputed": "Disputada",
    "provisioned": "Provisionada",
    "voided": "Anulada",
    "partially_voided": "Anulada parcialmente",
    "rejected": "Rechazada",
}
PROVISION_STATUSES = tuple(PROVISION_STATUS_LABELS)
BILLING_STATUS_LABELS = {"pending": "Pendiente", "billed": "Facturado"}
BILLING_STATUSES = tuple(BILLING_STATUS_LABELS)
PAYMENT_STATUS_LABELS = {"pending": "Pendiente", "partial": "Pago parcial", "paid": "Pagada"}
PAYMENT_STATUSES = tuple(PAYMENT_STATUS_LABELS)
OT_PROVISION_STATUS_LABELS = {
    "pending": "Pendiente",
    "in_review": "En revisión",
    "disputed": "Disputada",
    "provisioned": "Provisionada",
}
OT_PROVISION_STATUSES = tuple(OT_PROVISION_STATUS_LABELS)
ASSIGNMENT_METHOD_LABELS = {
    "manual": "Manual",
    "ot_number": "Número de OT",
    "mbl_container": "MBL y contenedor",
    "master_bl": "MBL",
    "container": "Contenedor",
    "unassigned": "Sin asignar",
}
ASSIGNMENT_METHODS = tuple(ASSIGNMENT_METHOD_LABELS)
# Where an OT field's value came from; a higher rank is never overwritten by a lower one.
FIELD_SOURCE_RANK = {"import": 1, "manual": 3}
# The OT fields an import may set: each remembers its source in Ot.field_sources (a person's edit marks it manual).
IMPORT_DATE_FIELDS = (
    "etd",
    "eta",
    "arrival_date",
    "billing_request_date",
    "invoice_reception_date",
    "closing_sent_date",
)
TRACKED_FIELDS = (
    "client_id",
    "operativo",
    "operation_type",
    "carrier_id",
    "master_bl",
    "house_bls",
    "containers",
    "shipment_type",
    "vessel",
    "origin_port",
    "destination_port",
    *IMPORT_DATE_FIELDS,
    "express_release_type",
    "express_release_date",
    "cash_on_delivery_type",
    "cash_on_delivery_date",
    "status",
    "comments",
)
# The team's four roles, lowest first: each one can do everything the ones before it can (docs/accounts.md).
ROLE_LABELS = {
    "operativo": "Operativo",
    "finanzas": "Finanzas",
    "jefe_operaciones": "Jefe de operaciones",
    "admin": "Administrador",
}
ROLES = tuple(ROLE_LABELS)
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
TOKEN_ROLES = ROLES
# Invoice columns the list filters by equality; each gets a (column, id) index (see Invoice.__table_args__).
INVOICE_EQUALITY_FILTERS = (
    "provider_nit",
    "cost_type",
    "provision_status",
    "billing_status",
    "payment_status",
    "assignment_method",
    "needs_review",
)


# Indexes that exist only on PostgreSQL (pg_trgm GIN). They are declared here, beside the columns they serve, so that
# autogenerate on PostgreSQL compares them; on SQLite, which has no GIN, the migration skips them and
# :func:`autogenerate_filter` hides them from the comparison (``ddl_if`` keeps ``create_all`` from trying).
POSTGRESQL_ONLY = "postgresql_only"


def trigram_index(name: str, column: str) -> Index:
    """A pg_trgm GIN index on ``column``: lets ``ILIKE '%text%'`` use an index instead of reading every row."""
    index = Index(
        name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}, info={POSTGRESQL_ONLY: True}
    )
    return index.ddl_if(dialect="postgresql")


def json_text_trigram_index(name: str, column: Any) -> Index:
    """A pg_trgm GIN index on a JSON list column read as text (the searches match it that way)."""
    label = f"{column.name}_text"
    return Index(
        name,
        cast(column, String).label(label),
        postgresql_using="gin",
        postgresql_ops={label: "gin_trgm_ops"},
        info={POSTGRESQL_ONLY: True},
    ).ddl_if(dialect="postgresql")


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
    nrc: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (trigram_index("ix_clients_name_trgm", "name"),)
    __mapper_args__ = {"version_id_col": version}


class ClientResolution(db.Model):
    """A client name as an import wrote it, resolved once by a person to a client on record.

    Later imports apply it silently, so the same spelling is never asked about twice.
    """

    __tablename__ = "client_resolutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    normalized_name: Mapped[str] = mapped_column(String(200), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Provider(db.Model):
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    nit: Mapped[str] = mapped_column(String(32), index=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    nrc: Mapped[str | None] = mapped_column(String(32))
    credit_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (trigram_index("ix_providers_name_trgm", "name"),)
    __mapper_args__ = {"version_id_col": version}


class CostCategory(db.Model):
    __tablename__ = "cost_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class CostType(db.Model):
    """A row of the cost-type catalog; invoices refer to it by ``code``, so filters and exports read codes."""

    __tablename__ = "cost_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    category_id: Mapped[int] = mapped_column(ForeignKey("cost_categories.id"), index=True)
    linked_to_ot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    display_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    category: Mapped[CostCategory] = relationship()
    __mapper_args__ = {"version_id_col": version}


class ExtractionPattern(db.Model):
    """How to find one field in a provider's invoice text: a regular expression, tried by priority.

    Patterns are data, editable by admins, so a provider changing its layout needs no deploy. A
    pattern without a provider applies to every provider, after the provider's own.
    """

    __tablename__ = "extraction_patterns"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    field: Mapped[str] = mapped_column(String(32))
    pattern: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
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
    house_bls: Mapped[list[str]] = mapped_column(JSON, default=list)
    vessel: Mapped[str | None] = mapped_column(String(120))  # vessel and voyage, as the team writes it
    operativo: Mapped[str | None] = mapped_column(String(100), index=True)
    operation_type: Mapped[str] = mapped_column(String(12), default="importacion", server_default="importacion")
    shipment_type: Mapped[str | None] = mapped_column(String(40))
    origin_port: Mapped[str | None] = mapped_column(String(100))
    destination_port: Mapped[str | None] = mapped_column(String(100))
    etd: Mapped[dt.date | None] = mapped_column(Date)
    eta: Mapped[dt.date | None] = mapped_column(Date, index=True)
    arrival_date: Mapped[dt.date | None] = mapped_column(Date)  # "ETA confirmada" / ATRAQUE
    status: Mapped[str] = mapped_column(String(20), default="transito", index=True)
    provision_status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    provision_date: Mapped[dt.date | None] = mapped_column(Date)
    billing_status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    billing_date: Mapped[dt.date | None] = mapped_column(Date)
    billing_request_date: Mapped[dt.date | None] = mapped_column(Date)
    invoice_reception_date: Mapped[dt.date | None] = mapped_column(Date)
    express_release_type: Mapped[str | None] = mapped_column(String(60))
    express_release_date: Mapped[dt.date | None] = mapped_column(Date)
    cash_on_delivery_type: Mapped[str | None] = mapped_column(String(60))
    cash_on_delivery_date: Mapped[dt.date | None] = mapped_column(Date)
    closing_sent_date: Mapped[dt.date | None] = mapped_column(Date)
    comments: Mapped[str | None] = mapped_column(Text)
    # {field: "import" | "manual"} for the fields an import may set: a manual value is never overwritten.
    field_sources: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    row_hash: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    client: Mapped[Client] = relationship()
    carrier: Mapped[Provider | None] = relationship()
    __mapper_args__ = {"version_id_col": version}

    # The related names the API shows. The list endpoints select them as labelled columns of the same
    # names instead (app.api.lists), so one serializer reads a loaded OT and a plain row alike.
    @property
    def client_name(self) -> str | None:
        return self.client.name if self.client else None

    @property
    def carrier_name(self) -> str | None:
        return self.carrier.name if self.carrier else None

    # The searches (invoices' and OTs' q=) match these by substring (the JSON lists as text: below the class).
    __table_args__ = (
        trigram_index("ix_ots_ot_number_trgm", "ot_number"),
        trigram_index("ix_ots_master_bl_trgm", "master_bl"),
        trigram_index("ix_ots_vessel_trgm", "vessel"),
        trigram_index("ix_ots_operativo_trgm", "operativo"),
    )


json_text_trigram_index("ix_ots_containers_trgm", Ot.__table__.c.containers)
json_text_trigram_index("ix_ots_house_bls_trgm", Ot.__table__.c.house_bls)


class ImportedFile(db.Model):
    """A workbook already imported, by sha256: the same file sent again is recognised and skipped."""

    __tablename__ = "imported_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


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
    cost_type: Mapped[str] = mapped_column(ForeignKey("cost_types.code"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), index=True)
    # What is owed after disputes and credit notes; equal to ``amount`` until one of those exists.
    applicable_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    amount_paid: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"), server_default="0")
    control_number: Mapped[str | None] = mapped_column(String(64))  # DTE numeroControl
    generation_code: Mapped[str | None] = mapped_column(String(64), index=True)  # DTE codigoGeneracion
    # OT numbers, MBLs and containers read in the document, kept so a person can see why it matched.
    detected_references: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    issue_date: Mapped[dt.date] = mapped_column(Date, index=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    provision_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    billing_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    provision_status: Mapped[str] = mapped_column(String(20), default="pending")
    billing_status: Mapped[str] = mapped_column(String(20), default="pending")
    payment_status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    payment_date: Mapped[dt.date | None] = mapped_column(Date)
    assignment_method: Mapped[str] = mapped_column(String(20), default="unassigned")
    match_confidence: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    ot: Mapped[Ot | None] = relationship()
    provider: Mapped[Provider] = relationship()
    document: Mapped[StoredFile | None] = relationship()
    __mapper_args__ = {"version_id_col": version}

    # As on Ot: the related names the API shows, selected as columns of these names by the list endpoints.
    @property
    def ot_number(self) -> str | None:
        return self.ot.ot_number if self.ot else None

    @property
    def operativo(self) -> str | None:
        return self.ot.operativo if self.ot else None

    @property
    def provider_name(self) -> str | None:
        return self.provider.name if self.provider else None

    __table_args__ = (
        Index("ix_invoices_provider_issue", "provider_id", "issue_date"),
        UniqueConstraint("provider_id", "invoice_number", name="uq_invoices_provider_number"),
        # Equality filters of the list, each with the page order: (column, id) is read backwards from the
        # newest matching id, so a page costs ~limit index entries whatever the filter matches.
        *(Index(f"ix_invoices_{name}_id", name, "id") for name in INVOICE_EQUALITY_FILTERS),
        # Free-text search (q=): substring ILIKE on these columns, answered by pg_trgm on PostgreSQL.
        *(trigram_index(f"ix_invoices_{name}_trgm", name) for name in ("invoice_number", "provider_nit", "notes")),
    )


class User(db.Model):
    """A person who signs in. Username and email are stored lower-cased, so uniqueness is case-insensitive.

    ``session_version`` is copied into the session cookie at sign-in; bumping it (password change,
    deactivation) ends every live session of the account without a server-side session store.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # The web app's language ("es", "en"); None follows the browser's Accept-Language.
    language: Mapped[str | None] = mapped_column(String(5))


class ApiToken(db.Model):
    """An API bearer token; only its sha256 is stored, the token itself is shown once at creation.

    A token with a ``user_id`` acts for that account and never above its role; one without is a
    service token an admin created. ``last_used_at`` is refreshed at most once a minute.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user: Mapped[User | None] = relationship()


class History(db.Model):
    """One audit row per create, update, delete or transition, written in the change's own transaction.

    ``changes`` is ``{field: [old, new]}`` with JSON values (money and dates as strings). The actor is
    the account, the token, or both (a user's token); ``actor`` keeps a readable name even after
    the account or token is gone.
    """

    __tablename__ = "history"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_history_resource_record", "resource", "record_id", "id"),)


EXPORT_JOB_STATES = ("queued", "running", "finished", "failed", "cancelled", "expired")
EXPORT_JOB_ACTIVE = ("queued", "running")


class ExportJob(db.Model):
    """A background export (docs/background-exports.md): the request, its owner, progress and result.

    ``request`` is the export as asked (resource, format, lang, columns, filters as ``[name, value]``
    pairs), parsed again by the worker with the streamed endpoints' parser. ``attempt`` grows on each
    retry, and a worker only writes progress for its own attempt, so a job failed as stale or
    cancelled stops at its next progress report. While the file is being written, ``partial_key``
    (the temporary file, or the S3 key of the multipart upload ``upload_id``) names what a failure
    must remove, from any process: the job itself, the worker that saw it die, or the purge.
    """

    __tablename__ = "export_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    owner: Mapped[str] = mapped_column(String(200))
    resource: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(8))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    rows_estimate: Mapped[int | None] = mapped_column(BigInteger)
    rows_written: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_written: Mapped[int] = mapped_column(BigInteger, default=0)
    file_name: Mapped[str | None] = mapped_column(String(200))
    result_key: Mapped[str | None] = mapped_column(String(300))
    size: Mapped[int | None] = mapped_column(BigInteger)
    partial_key: Mapped[str | None] = mapped_column(String(300))
    upload_id: Mapped[str | None] = mapped_column(String(1024))
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
