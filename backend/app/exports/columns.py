"""What each export contains: column order, headers, value kinds and widths, for every writer.

The kind decides how a value is written: XLSX gives dates, amounts and percentages real number
cells with a display format; CSV writes ISO dates and ``.`` decimals. The columns, their order and
their Spanish headings follow the team's own sheets so their filters and habits keep working;
states, types and yes/no are written as words (the SELECT turns codes into the team's labels).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

# What the writers receive: a chunk of rows, each row's values in column order (a DB row or a tuple).
Chunk = Sequence[Sequence[Any]]


class Kind(enum.Enum):
    TEXT = "text"
    LIST = "list"  # a JSON list of strings, written as one comma-separated text cell
    INTEGER = "integer"
    MONEY = "money"  # USD amount, a Decimal
    PERCENT = "percent"  # a fraction (0.875), shown as 87.5%
    DATE = "date"
    DATETIME = "datetime"


LANGUAGES = ("es", "en")  # the team reads Spanish; English for everyone else (``lang=en``)


@dataclass(frozen=True)
class Column:
    """One export column; ``key`` is the label of the matching expression in the export SELECT.

    ``header`` is the Spanish heading (the team's sheets), ``header_en`` the English one.
    """

    key: str
    header: str
    kind: Kind
    width: float
    header_en: str = ""


def in_language(columns: tuple[Column, ...], lang: str) -> tuple[Column, ...]:
    """The columns with their headings in ``lang`` (the writers read ``header``)."""
    if lang == "es":
        return columns
    return tuple(replace(column, header=column.header_en or column.header) for column in columns)


# The team's invoice sheet, plus Operativo, HBL and the applicable amount.
INVOICE_COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", Kind.INTEGER, 9, "ID"),
    Column("invoice_number", "Número Factura", Kind.TEXT, 18, "Invoice number"),
    Column("ot_number", "OT", Kind.TEXT, 13, "OT"),
    Column("operativo", "Operativo", Kind.TEXT, 18, "Operativo"),
    Column("client", "Cliente", Kind.TEXT, 30, "Client"),
    Column("master_bl", "MBL", Kind.TEXT, 16, "MBL"),
    Column("house_bls", "HBL", Kind.LIST, 16, "HBL"),
    Column("containers", "Contenedor", Kind.LIST, 28, "Containers"),
    Column("carrier", "Naviera", Kind.TEXT, 14, "Carrier"),
    Column("vessel", "Barco", Kind.TEXT, 20, "Vessel"),
    Column("provider", "Proveedor", Kind.TEXT, 30, "Provider"),
    Column("provider_nit", "NIT Proveedor", Kind.TEXT, 18, "Provider NIT"),
    Column("provider_type", "Tipo Proveedor", Kind.TEXT, 16, "Provider type"),
    Column("cost_type", "Tipo Costo", Kind.TEXT, 16, "Cost type"),
    Column("amount", "Monto (USD)", Kind.MONEY, 15, "Amount (USD)"),
    Column("applicable_amount", "Monto Aplicable (USD)", Kind.MONEY, 18, "Applicable amount (USD)"),
    Column("issue_date", "Fecha Emisión", Kind.DATE, 13, "Issue date"),
    Column("due_date", "Fecha Vencimiento", Kind.DATE, 13, "Due date"),
    Column("provision_date", "Fecha Provisión", Kind.DATE, 14, "Provision date"),
    Column("billing_date", "Fecha Facturación", Kind.DATE, 14, "Billing date"),
    Column("provision_status", "Estado Provisión", Kind.TEXT, 18, "Provision status"),
    Column("billing_status", "Estado Facturación", Kind.TEXT, 16, "Billing status"),
    Column("assignment_method", "Método Asignación", Kind.TEXT, 18, "Assignment method"),
    Column("match_confidence", "Confianza Match", Kind.PERCENT, 12, "Match confidence"),
    Column("needs_review", "Requiere Revisión", Kind.TEXT, 12, "Needs review"),
    Column("notes", "Notas", Kind.TEXT, 40, "Notes"),
    Column("created_at", "Creado", Kind.DATETIME, 17, "Created"),
)

# The team's OT sheet: their 27 columns in their order.
OT_COLUMNS: tuple[Column, ...] = (
    Column("operativo", "Operativo", Kind.TEXT, 18, "Operativo"),
    Column("ot_number", "Número OT", Kind.TEXT, 13, "OT number"),
    Column("client", "Cliente", Kind.TEXT, 30, "Client"),
    Column("house_bls", "HBL", Kind.LIST, 16, "HBL"),
    Column("master_bl", "MBL", Kind.TEXT, 16, "MBL"),
    Column("containers", "Contenedores", Kind.LIST, 28, "Containers"),
    Column("container_count", "Cantidad Contenedores", Kind.INTEGER, 11, "Container count"),
    Column("carrier", "Naviera", Kind.TEXT, 14, "Carrier"),
    Column("vessel", "Barco", Kind.TEXT, 20, "Vessel"),
    Column("status", "Estado", Kind.TEXT, 16, "Status"),
    Column("shipment_type", "Tipo Embarque", Kind.TEXT, 12, "Shipment type"),
    Column("origin_port", "Puerto Origen", Kind.TEXT, 16, "Origin port"),
    Column("destination_port", "Puerto Destino", Kind.TEXT, 16, "Destination port"),
    Column("etd", "ETD", Kind.DATE, 12, "ETD"),
    Column("eta", "ETA", Kind.DATE, 12, "ETA"),
    Column("arrival_date", "ETA Confirmada", Kind.DATE, 12, "Confirmed ETA"),
    Column("provision_date", "Fecha Provisión", Kind.DATE, 14, "Provision date"),
    Column("billing_date", "Fecha Facturación", Kind.DATE, 14, "Billing date"),
    Column("provision_status", "Estado Provisión", Kind.TEXT, 16, "Provision status"),
    Column("billing_status", "Estado Facturado", Kind.TEXT, 14, "Billing status"),
    Column("express_release", "Express Release", Kind.TEXT, 16, "Express release"),
    Column("cash_on_delivery", "Contra Entrega", Kind.TEXT, 16, "Cash on delivery"),
    Column("billing_request_date", "Solicitud Facturación", Kind.DATE, 14, "Billing request"),
    Column("closing_sent_date", "Envío Cierre OT", Kind.DATE, 14, "OT closing sent"),
    Column("created_at", "Fecha Creación", Kind.DATETIME, 17, "Created"),
    Column("updated_at", "Última Actualización", Kind.DATETIME, 17, "Updated"),
    Column("comments", "Comentarios", Kind.TEXT, 40, "Comments"),
)
