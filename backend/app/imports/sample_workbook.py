"""A workbook laid out the way the team keeps theirs, made from the demo data: to try, test and measure the import.

``flask import sample`` writes ``REPORTE IMPORT 2025 <OPERATIVO>.xlsx``: a title row and a blank row
above the header, the team's column names (plus columns the import ignores), client names in capitals
without accents, dates written every way the team writes them (date cells, ``DD/MM/YYYY`` text,
Excel serial numbers, ``N/A``, ``PENDIENTE``), containers with spaces and dashes, and Spanish status
words. Half the rows update OTs already in the database, half are new. No real customer data: every
value comes from the seeded demo data or the random generator. Written with openpyxl's write-only
mode, so a 100k-row workbook takes one row of memory.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import openpyxl
from sqlalchemy import select

from app.extensions import db
from app.imports.team_sheet import normalise
from app.models import Client, Ot
from values import EXCEL_EPOCH

SHEET = "IMPORT 2025"
HEADER = (
    "OT",
    "CONSIGNATARIO",
    "NAVIERA",
    "NO. DOC MASTER",
    "HOUSE",
    "NUMERO CNTR",
    "TIPO EMBARQUE",
    "PUERTO ORIGEN",
    "PUERTO DESTINO",
    "BARCO Y VIAJE",
    "ETA",
    "ATRAQUE",
    "EXPRESS RELEASE",
    "CONTRA ENTREGA",
    "SOLICITUD FACTURACIÓN",
    "RECEPCIÓN FACTURA",
    "ENVIO CIERRE",
    "ESTATUS",
    "COMENTARIOS",
    "ALERTA",
    "DÍAS LIBRES ALMACENAJE",
)
STATUS_WORDS = ("EN TRANSITO", "PUERTO", "EN RADA", "ALMACENADORA", "BODEGA", "CERRADO", "FINALIZADO")
CARRIERS = ("MAERSK", "MSC", "CMA CGM", "HAPAG-LLOYD", "EVERGREEN")
PREFIXES = ("MAEU", "MEDU", "CMDU", "HLCU", "EGLV")
ORIGINS = ("SHANGHAI", "NINGBO", "BUSAN", "MANZANILLO", "HOUSTON")


def sample_filename(operativo: str) -> str:
    return f"REPORTE IMPORT 2025 {operativo.upper()}.xlsx"


def write_sample_workbook(directory: Path, operativo: str, rows: int, seed: int = 1) -> Path:
    """Write the workbook into ``directory`` and return its path (existing OTs come first)."""
    rng = random.Random(seed)
    mine = select(Ot.ot_number, Client.name).join(Ot.client).where(Ot.operativo == operativo)
    existing = list(db.session.execute(mine.order_by(Ot.id).limit(rows // 2)))
    clients = list(db.session.scalars(select(Client.name).order_by(Client.id).limit(50))) or [
        "CLIENTE DEMO S.A. DE C.V."
    ]
    path = directory / sample_filename(operativo)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET)
    sheet.append([f"REPORTE DE IMPORTACIONES 2025 - {operativo.upper()}"])
    sheet.append([])
    sheet.append(list(HEADER))
    for row in _rows(rng, rows, existing, clients):
        sheet.append(row)
    workbook.save(path)
    return path


def _rows(
    rng: random.Random, count: int, existing: Sequence[tuple[str, str]], clients: Sequence[str]
) -> Iterator[list[object]]:
    for index in range(count):
        if index < len(existing):
            ot_number, client = existing[index]
        else:
            ot_number, client = f"25OT9{index:05d}", rng.choice(clients)
        carrier = rng.randrange(len(CARRIERS))
        eta = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(0, 330))
        yield [
            ot_number.lower() if rng.random() < 0.05 else ot_number,
            normalise(client),
            CARRIERS[carrier],
            f"{PREFIXES[carrier]}{rng.randint(100_000_000, 999_999_999)}",
            f"HBL{rng.randint(10_000, 99_999)}" if rng.random() < 0.5 else None,
            _containers(rng, PREFIXES[carrier]),
            rng.choice(("FCL", "LCL")),
            rng.choice(ORIGINS),
            "ACAJUTLA",
            f"{rng.choice(('MSC GULSUN', 'MAERSK ESSEN', 'EVER GIVEN'))} {rng.randint(100, 999)}W",
            _date_written(rng, eta),
            _date_written(rng, eta + dt.timedelta(days=rng.randint(0, 3))) if rng.random() < 0.6 else "PENDIENTE",
            rng.choice(("TELEX", None, _date_written(rng, eta))),
            rng.choice((None, None, "CONTRA ENTREGA")),
            _date_written(rng, eta + dt.timedelta(days=5)) if rng.random() < 0.4 else "N/A",
            None,
            None,
            rng.choice(STATUS_WORDS),
            rng.choice((None, "Cliente solicita aviso de arribo", "Revisar días libres")),
            rng.choice((None, "VENCE")),
            rng.choice((7, 14, 21)),
        ]


def _containers(rng: random.Random, prefix: str) -> str:
    codes = [f"{prefix}{rng.randint(0, 9_999_999):07d}" for _ in range(rng.choice((1, 1, 2, 3)))]
    if rng.random() < 0.3:
        codes[0] = f"{codes[0][:4]} {codes[0][4:10]}-{codes[0][10]}"  # "MSCU 123456-7", as typed
    return rng.choice((" / ", ", ", "\n")).join(codes)


def _date_written(rng: random.Random, day: dt.date) -> object:
    """The same date the ways the team's sheets hold one: a date cell, text, or an Excel serial number."""
    form = rng.random()
    if form < 0.6:
        return dt.datetime.combine(day, dt.time())
    if form < 0.85:
        return day.strftime("%d/%m/%Y")
    return (day - EXCEL_EPOCH).days
