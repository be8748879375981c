"""What each export contains: column order, headers, value kinds and widths, for every writer.

The kind decides how a value is written: XLSX gives dates, amounts and percentages real number
cells with a display format; CSV writes ISO dates and ``.`` decimals. The invoice columns follow the
team's old spreadsheet so their filters and habits keep working.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
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
    BOOL = "bool"  # written as Yes / No


@dataclass(frozen=True)
class Column:
    """One export column; ``key`` is the label of the matching expression in the export SELECT."""

    key: str
    header: str
    kind: Kind
    width: float


INVOICE_COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", Kind.INTEGER, 9),
    Column("invoice_number", "Invoice number", Kind.TEXT, 18),
    Column("ot_number", "OT", Kind.TEXT, 13),
    Column("client", "Client", Kind.TEXT, 30),
    Column("master_bl", "MBL", Kind.TEXT, 16),
    Column("containers", "Containers", Kind.LIST, 28),
    Column("carrier", "Carrier", Kind.TEXT, 14),
    Column("vessel", "Vessel", Kind.TEXT, 20),
    Column("provider", "Provider", Kind.TEXT, 30),
    Column("provider_nit", "Provider NIT", Kind.TEXT, 14),
    Column("provider_type", "Provider type", Kind.TEXT, 14),
    Column("cost_type", "Cost type", Kind.TEXT, 15),
    Column("amount", "Amount (USD)", Kind.MONEY, 15),
    Column("issue_date", "Issue date", Kind.DATE, 12),
    Column("due_date", "Due date", Kind.DATE, 12),
    Column("provision_date", "Provision date", Kind.DATE, 14),
    Column("billing_date", "Billing date", Kind.DATE, 12),
    Column("provision_status", "Provision status", Kind.TEXT, 16),
    Column("billing_status", "Billing status", Kind.TEXT, 14),
    Column("assignment_method", "Assignment method", Kind.TEXT, 18),
    Column("match_confidence", "Match confidence", Kind.PERCENT, 12),
    Column("needs_review", "Needs review", Kind.BOOL, 12),
    Column("notes", "Notes", Kind.TEXT, 40),
    Column("created_at", "Created", Kind.DATETIME, 17),
)

OT_COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", Kind.INTEGER, 8),
    Column("ot_number", "OT", Kind.TEXT, 13),
    Column("client", "Client", Kind.TEXT, 30),
    Column("carrier", "Carrier", Kind.TEXT, 14),
    Column("master_bl", "MBL", Kind.TEXT, 16),
    Column("containers", "Containers", Kind.LIST, 28),
    Column("vessel", "Vessel", Kind.TEXT, 20),
    Column("eta", "ETA", Kind.DATE, 12),
    Column("status", "Status", Kind.TEXT, 12),
    Column("invoice_count", "Invoices", Kind.INTEGER, 10),
    Column("invoice_total", "Total amount (USD)", Kind.MONEY, 18),
    Column("created_at", "Created", Kind.DATETIME, 17),
    Column("updated_at", "Updated", Kind.DATETIME, 17),
)
