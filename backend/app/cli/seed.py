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

from app.extensions import db
from app.models import (
    COST_TYPES,
    OT_STATUSES,
    PROVISION_STATUSES,
    Client,
    Invoice,
    Ot,
    Provider,
)

BATCH = 5000
REFERENCE_DAY = dt.date(2026, 11, 1)  # fixed so that --seed gives identical data on any day
CARRIERS = ("Maersk", "MSC", "CMA CGM", "Hapag-Lloyd", "Evergreen", "ONE", "COSCO", "ZIM", "HMM", "Yang Ming")
CARRIER_PREFIX = {"Maersk": "MAEU", "MSC": "MEDU", "CMA CGM": "CMDU", "Hapag-Lloyd": "HLCU", "Evergreen": "EGLV"}
CUSTOMS = ("Agencia de Aduanas Roldán", "Aduanas Siaco", "Agencia Aduanera Dimar", "Coltrans Aduanas")
TRUCKING = ("Transportes Montaña", "Tractocar Logística", "Transportes Sánchez Polo", "Coordinadora Carga")
OTHERS = ("Puerto de Cartagena SPRC", "Contecar", "Almacenes Generales Almagrario", "Seguros Bolívar")
CLIENT_WORDS = ("Andina", "Café", "Textiles", "Flores", "Químicos", "Aceros", "Plásticos", "Alimentos", "Papeles")
CLIENT_SUFFIX = ("S.A.S.", "S.A.", "Ltda.", "& Cía.")
VESSELS = ("MSC Gülsün", "Maersk Essen", "CMA CGM Marco Polo", "Ever Given", "ONE Apus", "HMM Algeciras")
NOTES = (
    None,
    None,
    None,
    "Factura revisada por operación",
    "Pendiente soporte de pago",
    "-10% descuento acordado",
    "Cobro de demoras según tarifa",
    "Contenedor con inspección antinarcóticos",
)
COST_BY_TYPE = {
    "carrier": ("ocean_freight", "local_charges", "demurrage"),
    "customs_agent": ("customs",),
    "trucking": ("trucking",),
    "other": ("storage", "other", "local_charges"),
}


def _nit(rng: random.Random) -> str:
    return f"{rng.randint(800_000_000, 901_999_999)}-{rng.randint(0, 9)}"


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
        named = [(n, "carrier") for n in CARRIERS] + [(n, "customs_agent") for n in CUSTOMS]
        named += [(n, "trucking") for n in TRUCKING] + [(n, "other") for n in OTHERS]
        db.session.execute(insert(Provider.__table__), [{"name": n, "nit": _nit(rng), "type": t} for n, t in named])
    if db.session.scalar(select(func.count()).select_from(Client)) == 0:
        names = {
            f"{rng.choice(CLIENT_WORDS)} {rng.choice(CLIENT_WORDS)} {i + 1} {rng.choice(CLIENT_SUFFIX)}"
            for i in range(clients)
        }
        db.session.execute(insert(Client.__table__), [{"name": n, "nit": _nit(rng)} for n in sorted(names)])
    db.session.commit()
    client_ids = list(db.session.scalars(select(Client.id).order_by(Client.id)))
    providers = [
        tuple(r)
        for r in db.session.execute(
            select(Provider.id, Provider.name, Provider.nit, Provider.type).order_by(Provider.id)
        )
    ]
    return client_ids, providers  # type: ignore[return-value]


def _ots(
    rng: random.Random, count: int, start: int, client_ids: list[int], carriers: list[tuple[int, str, str, str]]
) -> Iterator[dict[str, Any]]:
    for number in range(start + 1, start + count + 1):
        carrier_id, carrier_name, _, _ = rng.choice(carriers)
        prefix = CARRIER_PREFIX.get(carrier_name, "TGHU")
        created = dt.datetime.combine(
            REFERENCE_DAY - dt.timedelta(days=rng.randint(0, 365)), dt.time(rng.randint(7, 18), rng.randint(0, 59))
        )
        yield {
            "ot_number": f"OT-{number:07d}",
            "client_id": rng.choice(client_ids),
            "carrier_id": carrier_id,
            "master_bl": f"{prefix}{rng.randint(100_000_000, 999_999_999)}",
            "containers": [_container(rng, prefix) for _ in range(rng.choice((1, 1, 2, 3, 4)))],
            "vessel": rng.choice(VESSELS),
            "eta": created.date() + dt.timedelta(days=rng.randint(10, 40)),
            "status": rng.choice(OT_STATUSES),
            "created_at": created,
            "updated_at": created,
        }


def _invoices(
    rng: random.Random, count: int, ot_ids: list[int], providers: list[tuple[int, str, str, str]]
) -> Iterator[dict[str, Any]]:
    for number in range(1, count + 1):
        provider_id, _, nit, kind = rng.choice(providers)
        issue = REFERENCE_DAY - dt.timedelta(days=rng.randint(0, 365))
        assigned = rng.random() < 0.9
        confidence = Decimal(rng.randint(40, 1000)) / 1000 if assigned else None
        provisioned = rng.random() < 0.6
        billed = provisioned and rng.random() < 0.5
        yield {
            "invoice_number": f"FE-{rng.randint(1, 99_999):05d}-{number}",
            "ot_id": rng.choice(ot_ids) if assigned and ot_ids else None,
            "provider_id": provider_id,
            "provider_nit": nit,
            "cost_type": rng.choice(COST_BY_TYPE.get(kind, COST_TYPES)),
            "amount": Decimal(rng.randint(5_000, 2_500_000)) / 100,
            "issue_date": issue,
            "due_date": issue + dt.timedelta(days=rng.choice((15, 30, 45, 60))),
            "provision_date": issue + dt.timedelta(days=rng.randint(1, 10)) if provisioned else None,
            "billing_date": issue + dt.timedelta(days=rng.randint(11, 40)) if billed else None,
            "provision_status": "provisioned" if provisioned else rng.choice(PROVISION_STATUSES[::2]),
            "billing_status": rng.choice(("billed", "paid")) if billed else "pending",
            "assignment_method": rng.choice(("manual", "ot_number", "master_bl", "container"))
            if assigned
            else "unassigned",
            "match_confidence": confidence,
            "needs_review": confidence is None or confidence < Decimal("0.7"),
            "notes": rng.choice(NOTES),
            "created_at": dt.datetime.combine(
                issue, dt.time(rng.randint(7, 18), rng.randint(0, 59), rng.randint(0, 59))
            ),
        }


def seed(ots: int, invoices: int, seed_value: int) -> None:
    """Insert ``ots`` OTs and ``invoices`` invoices generated from ``seed_value``."""
    rng = random.Random(seed_value)
    client_ids, providers = _ensure_parties(rng, clients=max(5, min(500, ots // 20)))
    carriers = [p for p in providers if p[3] == "carrier"]
    start = db.session.scalar(select(func.count()).select_from(Ot)) or 0
    _insert(Ot, _ots(rng, ots, start, client_ids, carriers), ots, "ots")
    ot_ids = list(db.session.scalars(select(Ot.id)))
    _insert(Invoice, _invoices(rng, invoices, ot_ids, providers), invoices, "invoices")


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
