"""The list endpoints' SELECTs: plain rows with the related names joined in, not ORM objects.

A page of invoices loaded as entities with their OT and provider joined eagerly builds and tracks
three objects a row in the session's identity map, which cost several times the query itself in the
worker's CPU; a list call is the request users make most, and under load its CPU is its latency. The
rows carry every column of the model under its attribute name plus the related names the serializers
read (``ot_number``, ``operativo``, ``provider_name``; ``client_name``, ``carrier_name``), so
:mod:`app.api.serializers` turns them into the same JSON as a loaded model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import aliased

from app.models import Client, Invoice, Ot, Provider


def _columns(model: Any) -> list[Any]:
    return [getattr(model, attr.key) for attr in model.__mapper__.column_attrs]


@cache
def invoice_rows() -> Select[Any]:
    """Every invoice column, with its OT's number and operativo and its provider's name.

    Built once per process (a SELECT is immutable: each call site derives its own from it).
    """
    return (
        select(*_columns(Invoice), Ot.ot_number, Ot.operativo, Provider.name.label("provider_name"))
        .outerjoin(Ot, Ot.id == Invoice.ot_id)
        .outerjoin(Provider, Provider.id == Invoice.provider_id)
    )


@cache
def ot_rows() -> Select[Any]:
    """Every OT column, with its client's and carrier's names (built once per process, as above)."""
    carrier = aliased(Provider)
    return (
        select(*_columns(Ot), Client.name.label("client_name"), carrier.name.label("carrier_name"))
        .outerjoin(Client, Client.id == Ot.client_id)
        .outerjoin(carrier, carrier.id == Ot.carrier_id)
    )


def records(rows: Iterable[Row[Any]]) -> Iterator[SimpleNamespace]:
    """The rows as plain objects for the serializers.

    A Row answers each attribute through SQLAlchemy's key lookup, which over a page's thirty-odd
    fields per row cost more CPU than the query itself; its dict, as a namespace, answers them as
    fast as any object.
    """
    return (SimpleNamespace(**row._asdict()) for row in rows)
