"""``flask seed``: deterministic, realistic demo data, fast enough for 1,000,000 invoices.

Rows are generated lazily and inserted with Core ``executemany`` in batches, so memory stays at one
batch whatever the requested size.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from itertools import islice
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import func, insert, select
from tqdm import tqdm

from app.catalogs import ensure_default_cost_types
from app.extensions import db
from app.models import (
    OT_STATUSES,
    Client,
    Invoice,
    Ot,
    Provider,
)

BATCH = 5000
REFERENCE_DAY = dt.date(2026, 11, 1)  # fixed so that --seed gives identical data on any day
# (name, container/MBL prefix) of the shipping lines calling at Acajutla.
CARRIERS = (
    ("Maersk", "MAEU"),
    ("MSC", "MEDU"),
    ("CMA CGM", "CMDU"),
    ("Hapag-Lloyd", "HLCU"),
    ("Evergreen", "EGLV"),
    ("ONE", "ONEY"),
    ("COSCO", "COSU"),
    ("ZIM", "ZIMU"),
)
PARTIES = {
    "agencia_aduanal": ("Agencia Aduanal Roldán", "Aduanas del Pacífico", "Agencia Aduanal Cuscatlán"),
    "transportista": ("Transportes Izalco", "Fletes San Miguel", "Transporte Lempa", "Carga Express Sonsonate"),
    "almacenadora": ("Almacenadora Acajutla", "Almacenes de Desarrollo"),
    "agente_local": ("Agencia Marítima Salvadoreña",),
    "aseguradora": ("Seguros Cuscatlán",),
    "otro": ("CEPA Puerto de Acajutla",),
}
CREDIT_DAYS = (0, 15, 30, 30, 45, 60)
CLIENT_WORDS = ("Distribuidora", "Industrias", "Textiles", "Café", "Alimentos", "Plásticos", "Agroindustrias")
CLIENT_PLACES = ("Cuscatlán", "Izalco", "Lempa", "Sonsonate", "San Miguel", "Santa Ana", "La Libertad", "Usulután")
OPERATIVOS = ("Ana Martínez", "Carlos Hernández", "Gabriela López", "José Ramírez")
ORIGIN_PORTS = ("Shanghai", "Ningbo", "Busan", "Manzanillo", "Houston", "Rotterdam", "Cartagena", "Valencia")
DESTINATION_PORTS = ("Acajutla", "Acajutla", "Acajutla", "Puerto Quetzal", "Santo Tomás de Castilla")
SHIPMENT_TYPES = ("FCL", "FCL", "LCL", "Consolidado")
VESSELS = ("MSC Gülsün 245W", "Maersk Essen 312N", "CMA CGM Marco Polo 0PE1", "Ever Given 117E", "ONE Apus 041W")
NOTES = (
    None,
    None,
    None,
    "Factura revisada por operaciones",
    "Pendiente soporte de pago",
    "-10% descuento acordado",
    "Cobro de demoras según tarifa",
    "Contenedor con inspección de la DGA",
)
COST_BY_TYPE = {
    "naviera": ("FLETE", "CARGOS_NAVIERA", "DEMORA"),
    "agencia_aduanal": ("ADUANA",),
    "transportista": ("TRANSPORTE",),
    "almacenadora": ("ALMACENAJE",),
}


def _nit(rng: random.Random) -> str:
    """El Salvador's NIT layout: municipality (4), birth/registration date (6), correlative (3), check digit."""
    day = dt.date(1990, 1, 1) + dt.timedelta(days=rng.randint(0, 12000))
    return f"0614-{day:%d%m%y}-{rng.randint(100, 999)}-{rng.randint(0, 9)}"


def _nrc(rng: random.Random) -> str:
    return f"{rng.randint(10_000, 299_999)}-{rng.randint(0, 9)}"


def _container(rng: random.Random, prefix: str) -> str:
    return f"{prefix}{rng.randint(0, 9_999_999):07d}"


def _insert(model: Any, rows: Iterator[dict[str, Any]], total: int, label: str) -> None:
    with tqdm(total=total, desc=label, unit="rows", disable=total < BATCH) as bar:
        while batch := list(islice(rows, BATCH)):
            db.session.execute(insert(model.__table__), batch)
            db.session.commit()
            bar.update(len(batch))


def _ensure_parties(rng: random.Random, clients: int) -> tuple[list[int], list[tuple[int, str, str, str]]]:
    """Create providers and clients if there are none; return client ids and (id, name, nit, type) of providers."""
    if db.session.scalar(select(func.count()).select_from(Provider)) == 0:
        named = [(name, "naviera") for name, _ in CARRIERS]
        named += [(name, kind) for kind, names in PARTIES.items() for name in names]
        db.session.execute(
            insert(Provider.__table__),
            [
                {"name": n, "nit": _nit(rng), "nrc": _nrc(rng), "type": t, "credit_days": rng.choice(CREDIT_DAYS)}
                for n, t in named
            ],
        )
    if db.session.scalar(select(func.count()).select_from(Client)) == 0:
        names = {f"{rng.choice(CLIENT_WORDS)} {rng.choice(CLIENT_PLACES)} {i + 1} S.A. de C.V." for i in range(clients)}
        db.session.execute(
            insert(Client.__table__), [{"name": n, "nit": _nit(rng), "nrc": _nrc(rng)} for n in sorted(names)]
        )
    db.session.commit()
    client_ids = list(db.session.scalars(select(Client.id).order_by(Client.id)))
    providers = [
        tuple(r)
        for r in db.session.execute(
            select(Provider.id, Provider.name, Provider.nit, Provider.type).order_by(Provider.id)
        )
    ]
    return client_ids, providers  # type: ignore[return-value]


def _maybe_date(rng: random.Random, base: dt.date, low: int, high: int, chance: float) -> dt.date | None:
    return base + dt.timedelta(days=rng.randint(low, high)) if rng.random() < chance else None


def _ots(
    rng: random.Random, count: int, start: int, client_ids: list[int], carriers: list[tuple[int, str, str, str]]
) -> Iterator[dict[str, Any]]:
    prefixes = dict(CARRIERS)
    for number in range(start + 1, start + count + 1):
        carrier_id, carrier_name, _, _ = rng.choice(carriers)
        prefix = prefixes.get(carrier_name, "TGHU")
        created = dt.datetime.combine(
            REFERENCE_DAY - dt.timedelta(days=rng.randint(0, 365)), dt.time(rng.randint(13, 23), rng.randint(0, 59))
        )
        etd = created.date() + dt.timedelta(days=rng.randint(-5, 5))
        eta = etd + dt.timedelta(days=rng.randint(10, 40))
        provisioned = _maybe_date(rng, eta, 0, 10, 0.6)
        billed = _maybe_date(rng, eta, 5, 30, 0.4) if provisioned else None
        yield {
            "ot_number": f"{created:%y}OT{number:04d}",
            "client_id": rng.choice(client_ids),
            "carrier_id": carrier_id,
            "operativo": rng.choice(OPERATIVOS),
            "operation_type": "importacion" if rng.random() < 0.85 else "exportacion",
            "shipment_type": rng.choice(SHIPMENT_TYPES),
            "master_bl": f"{prefix}{rng.randint(100_000_000, 999_999_999)}",
            "house_bls": [f"HBL{rng.randint(100_000, 999_999)}" for _ in range(rng.choice((0, 1, 1, 2)))],
            "containers": [_container(rng, prefix) for _ in range(rng.choice((1, 1, 2, 3, 4)))],
            "vessel": rng.choice(VESSELS),
            "origin_port": rng.choice(ORIGIN_PORTS),
            "destination_port": rng.choice(DESTINATION_PORTS),
            "etd": etd,
            "eta": eta,
            "arrival_date": _maybe_date(rng, eta, -2, 4, 0.7),
            "status": rng.choice(OT_STATUSES),
            "provision_status": "provisioned" if provisioned else "pending",
            "provision_date": provisioned,
            "billing_status": "billed" if billed else "pending",
            "billing_date": billed,
            "billing_request_date": _maybe_date(rng, eta, 1, 8, 0.5),
            "invoice_reception_date": _maybe_date(rng, eta, 2, 12, 0.4),
            "express_release_type": rng.choice((None, None, "Telex release", "Seaway bill")),
            "cash_on_delivery_type": rng.choice((None, None, None, "Contra entrega")),
            "closing_sent_date": billed,
            "comments": rng.choice((None, None, "Cliente solicita aviso de arribo", "Revisar días libres")),
            "field_sources": {},
            "created_at": created,
            "updated_at": created,
        }


def _invoices(
    rng: random.Random,
    count: int,
    ot_ids: list[int],
    providers: list[tuple[int, str, str, str]],
    credit: dict[int, int],
) -> Iterator[dict[str, Any]]:
    all_types = [code for codes in COST_BY_TYPE.values() for code in codes] + ["OTRO"]
    for number in range(1, count + 1):
        provider_id, _, nit, kind = rng.choice(providers)
        issue = REFERENCE_DAY - dt.timedelta(days=rng.randint(0, 365))
        assigned = rng.random() < 0.9
        confidence = Decimal(rng.randint(40, 1000)) / 1000 if assigned else None
        provisioned = rng.random() < 0.6
        billed = provisioned and rng.random() < 0.5
        paid = billed and rng.random() < 0.5
        amount = Decimal(rng.randint(5_000, 2_500_000)) / 100
        yield {
            "invoice_number": f"FE-{rng.randint(1, 99_999):05d}-{number}",
            "ot_id": rng.choice(ot_ids) if assigned and ot_ids else None,
            "provider_id": provider_id,
            "provider_nit": nit,
            "cost_type": rng.choice(COST_BY_TYPE.get(kind, all_types)),
            "amount": amount,
            "applicable_amount": amount,
            "amount_paid": amount if paid else Decimal("0"),
            "issue_date": issue,
            "due_date": issue + dt.timedelta(days=credit[provider_id]),
            "provision_date": issue + dt.timedelta(days=rng.randint(1, 10)) if provisioned else None,
            "billing_date": issue + dt.timedelta(days=rng.randint(11, 40)) if billed else None,
            "provision_status": "provisioned" if provisioned else rng.choice(("pending", "pending", "in_review")),
            "billing_status": "billed" if billed else "pending",
            "payment_status": "paid" if paid else "pending",
            "assignment_method": rng.choice(("manual", "ot_number", "mbl_container", "master_bl", "container"))
            if assigned
            else "unassigned",
            "match_confidence": confidence,
            "needs_review": confidence is None or confidence < Decimal("0.7"),
            "notes": rng.choice(NOTES),
            "detected_references": {},
            "created_at": dt.datetime.combine(
                issue, dt.time(rng.randint(13, 23), rng.randint(0, 59), rng.randint(0, 59))
            ),
        }


def seed(ots: int, invoices: int, seed_value: int) -> None:
    """Insert ``ots`` OTs and ``invoices`` invoices generated from ``seed_value``."""
    rng = random.Random(seed_value)
    ensure_default_cost_types()
    client_ids, providers = _ensure_parties(rng, clients=max(5, min(500, ots // 20)))
    carriers = [p for p in providers if p[3] == "naviera"]
    start = db.session.scalar(select(func.count()).select_from(Ot)) or 0
    _insert(Ot, _ots(rng, ots, start, client_ids, carriers), ots, "ots")
    ot_ids = list(db.session.scalars(select(Ot.id).order_by(Ot.id)))  # ordered: same seed, same data
    credit = {pid: days for pid, days in db.session.execute(select(Provider.id, Provider.credit_days))}
    _insert(Invoice, _invoices(rng, invoices, ot_ids, providers, credit), invoices, "invoices")


@click.command("seed")
@click.option("--ots", default=200, show_default=True, type=click.IntRange(0, 1_000_000))
@click.option("--invoices", default=2000, show_default=True, type=click.IntRange(0, 5_000_000))
@click.option("--seed", "seed_value", default=42, show_default=True, help="Same seed, same data.")
@click.option("--if-empty", is_flag=True, help="Do nothing when invoices already exist (used by make run).")
@with_appcontext
def seed_command(ots: int, invoices: int, seed_value: int, if_empty: bool) -> None:
    """Generate realistic demo clients, providers, OTs and invoices."""
    if if_empty and db.session.scalar(select(func.count()).select_from(Invoice)):
        click.echo("database already has invoices; not seeding")
        return
    seed(ots, invoices, seed_value)
    click.echo(f"seeded {ots} OTs and {invoices} invoices (seed {seed_value})")
