"""How the operations team writes its OT workbook: column names, dates, statuses, file names.

Each operativo keeps a workbook such as ``REPORTE IMPORT 2025 ANA MARTINEZ.xlsx`` with a sheet
``IMPORT 2025``, a title or merged rows above the header, their own spellings of the columns and
dates written every way Excel allows. This module turns those into OT field values; it knows
nothing of the database, so every rule here is testable on plain values.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from app.models import IMPORT_DATE_FIELDS, OT_STATUSES
from values import EXCEL_EPOCH

HEADER_SEARCH_ROWS = 5
PREFERRED_SHEET_WORDS = ("IMPORT", "BASE", "DATOS", "OTS", "ORDENES")
SERIAL_RANGE = (20_000, 80_000)  # 1954..2119: a number in a date column outside this is not a date
DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d-%m-%y", "%d.%m.%Y", "%Y-%m-%d", "%Y/%m/%d")
# Words the team writes in a date column to say "no date (yet)".
NO_DATE_WORDS = frozenset(
    {"", "N A", "NA", "NO", "NO APLICA", "PENDIENTE", "PEND", "CONTRA ENTREGA", "SI", "X", "TBD", "POR CONFIRMAR"}
)

# Field -> the column names (normalised: upper case, no accents, punctuation as spaces) that carry it.
ALIASES: dict[str, tuple[str, ...]] = {
    "ot_number": ("OT", "NO OT", "N OT", "NUMERO OT", "NUM OT", "OT NO", "ORDEN", "ORDEN DE TRABAJO", "OT NUMBER"),
    "client": ("CONSIGNATARIO", "CLIENTE", "CONSIGNEE", "SHIPPER", "EMBARCADOR", "CLIENT"),
    "operativo": ("OPERATIVO", "EJECUTIVO", "RESPONSABLE"),
    "carrier": ("NAVIERA", "LINEA", "LINEA NAVIERA", "CARRIER"),
    "master_bl": ("NO DOC MASTER", "DOC MASTER", "MASTER", "MBL", "BL MASTER", "MASTER BL", "NO MASTER"),
    "house_bls": ("HOUSE", "NO DOC HOUSE", "DOC HOUSE", "HBL", "HOUSE BL", "BL HOUSE", "HOUSE BLS"),
    "containers": ("NUMERO CNTR", "NO CNTR", "CNTR", "CONTENEDOR", "CONTENEDORES", "NUMERO CONTENEDOR", "CONTAINERS"),
    "shipment_type": ("TIPO EMBARQUE", "TIPO DE EMBARQUE", "TIPO CARGA"),
    "vessel": ("BARCO Y VIAJE", "BARCO", "BUQUE", "VAPOR", "BARCO VIAJE", "VESSEL"),
    "origin_port": ("PUERTO ORIGEN", "PUERTO DE ORIGEN", "POL", "ORIGEN", "PUERTO DE CARGA"),
    "destination_port": ("PUERTO DESTINO", "PUERTO DE DESTINO", "POD", "DESTINO", "PUERTO DE DESCARGA"),
    "etd": ("ETD", "FECHA SALIDA", "ZARPE"),
    "eta": ("ETA", "FECHA ETA"),
    "arrival_date": ("ATRAQUE", "ETA CONFIRMADA", "FECHA LLEGADA", "FECHA ATRAQUE", "LLEGADA"),
    "express_release": ("EXPRESS RELEASE", "EXPRESS"),
    "cash_on_delivery": ("CONTRA ENTREGA",),
    "billing_request_date": ("SOLICITUD FACTURACION", "SOLICITUD DE FACTURACION", "FECHA SOLICITUD FACTURACION"),
    "invoice_reception_date": ("RECEPCION FACTURA", "RECEPCION DE FACTURA", "FECHA RECEPCION FACTURA"),
    "closing_sent_date": ("ENVIO CIERRE", "ENVIO CIERRE OT", "ENVIO DE CIERRE", "CIERRE ENVIADO"),
    "status": ("ESTATUS", "ESTADO", "STATUS"),
    "comments": ("COMENTARIOS", "OBSERVACIONES", "COMENTARIO", "NOTAS"),
}
# Columns only an export workbook has: with one of them and no import column the file is an export.
EXPORT_ONLY = ("SHIPPER", "EMBARCADOR", "PUERTO DE CARGA", "ZARPE")
IMPORT_ONLY = ("CONSIGNATARIO", "CONSIGNEE", "ATRAQUE")
DATE_FIELDS = IMPORT_DATE_FIELDS
TEXT_LIMITS = {
    "client": 200,
    "operativo": 100,
    "carrier": 200,
    "master_bl": 64,
    "shipment_type": 40,
    "vessel": 120,
    "origin_port": 100,
    "destination_port": 100,
    "comments": 5000,
}
STATUS_WORDS: dict[str, str] = {
    **{code.replace("_", " ").upper(): code for code in OT_STATUSES},
    "ALMACENADORA": "almacenadora",
    "EN ALMACENADORA": "almacenadora",
    "EN BODEGA": "bodega",
    "CERRADO": "cerrada",
    "FACT ADICIONALES": "fact_adicionales",
    "FACTURACION ADICIONAL": "fact_adicionales",
    "FACTURAS ADICIONALES": "fact_adicionales",
    "FINALIZADO": "finalizada",
    "EN PUERTO": "puerto",
    "EN TRANSITO": "transito",
    "RADA": "en_rada",
}
_FILE_NAME = re.compile(r"REPORTE\s+(IMPORT|EXPORT)\w*\s+(?:\d{4}\s+)?(?P<operativo>.+)$")
_PUNCTUATION = re.compile(r"[^A-Z0-9]+")


def normalise(text: str) -> str:
    """Upper case, accents removed, punctuation as single spaces: how headers and words are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _PUNCTUATION.sub(" ", plain.upper()).strip()


# Keyed without spaces, so "O.T.", "E.T.A." and "No.Doc Master" find OT, ETA and NO DOC MASTER.
_FIELD_BY_ALIAS = {alias.replace(" ", ""): name for name, aliases in ALIASES.items() for alias in aliases}


@dataclass(frozen=True)
class Header:
    """The header row found in a sheet: its row number and field -> column index."""

    row: int
    columns: dict[str, int]
    ignored: list[str]
    duplicated: list[str]


def find_header(number: int, values: Sequence[Any]) -> Header | None:
    """``values`` as a header row if it names the OT column and at least one other known column."""
    columns: dict[str, int] = {}
    ignored: list[str] = []
    duplicated: list[str] = []
    for index, raw in enumerate(values):
        name = normalise(cell_text(raw))
        if not name:
            continue
        field = _FIELD_BY_ALIAS.get(name.replace(" ", "")) or _english_name(name)
        if field is None:
            ignored.append(cell_text(raw))
        elif field in columns:
            duplicated.append(cell_text(raw))
        else:
            columns[field] = index
    if "ot_number" not in columns or len(columns) < 2:
        return None
    return Header(number, columns, ignored, duplicated)


def _english_name(name: str) -> str | None:
    """Our own field names (``ot_number``, ``master_bl``) are accepted as headers too."""
    field = name.lower().replace(" ", "_")
    return field if field in ALIASES else None


class SheetNotFound(LookupError):
    """The ``sheet`` asked for is not in the workbook; ``sheets`` names those that are."""

    def __init__(self, message: str, sheets: list[str]) -> None:
        super().__init__(message)
        self.sheets = sheets


def choose_sheet(sheets: Sequence[tuple[str, int]], requested: str | None) -> tuple[str, str | None]:
    """The sheet to read and, when the choice was not obvious, a warning that says which was taken.

    ``requested`` (the ``sheet`` parameter: a name, or a number with 1 = the first tab) wins; then a
    sheet whose name holds one of the team's words (IMPORT 2025, BASE, DATOS, OTS, ORDENES); then the
    largest by declared size, never the first one silently. Raises :class:`SheetNotFound` naming
    the sheets when the requested one does not exist.
    """
    names = [name for name, _ in sheets]
    if requested is not None:
        for name in names:
            if normalise(name) == normalise(requested):
                return name, None
        if requested.isdigit() and 1 <= int(requested) <= len(names):
            return names[int(requested) - 1], None
        raise SheetNotFound(f"no sheet {requested!r}; the workbook has: {', '.join(names)}", names)
    for word in PREFERRED_SHEET_WORDS:
        for name in names:
            if word in normalise(name).split() or normalise(name).startswith(word):
                return name, None
    if len(sheets) == 1:
        return names[0], None
    largest = max(sheets, key=lambda sheet: sheet[1])[0]
    others = ", ".join(name for name in names if name != largest)
    return largest, f"read sheet {largest!r}, the largest (also in the workbook: {others}); pass sheet= to choose"


@dataclass(frozen=True)
class FileFacts:
    """What the file name says: the operativo and whether the workbook is of imports or exports."""

    operativo: str | None
    operation_type: str | None


def facts_from_filename(filename: str) -> FileFacts:
    """``REPORTE IMPORT 2025 ANA MARTÍNEZ.xlsx`` -> operativo ``Ana Martínez``, operation importacion."""
    original = PurePath(filename).stem.split()
    stem = normalise(" ".join(original))
    words = stem.split()
    operation = "exportacion" if {"EXPORT", "EXPORTACION"} & set(words) else None
    if operation is None and {"IMPORT", "IMPORTACION"} & set(words):
        operation = "importacion"
    match = _FILE_NAME.search(stem)
    if match is None or len(words) != len(original):
        return FileFacts(None, operation)
    skipped = len(stem[: match.start("operativo")].split())
    return FileFacts(" ".join(original[skipped:]).title(), operation)


def operation_from_columns(header_names: Sequence[str]) -> str | None:
    names = {normalise(name) for name in header_names}
    if names & set(EXPORT_ONLY) and not names & set(IMPORT_ONLY):
        return "exportacion"
    if names & set(IMPORT_ONLY):
        return "importacion"
    return None


def cell_text(value: Any) -> str:
    """A cell as trimmed text: Excel hands whole numbers as floats (``12345.0`` -> ``"12345"``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return " ".join(str(value).split())


class NotADate(ValueError):
    """A date column holds text that is neither a date nor one of the "no date" words."""


def parse_date(value: Any) -> dt.date | None:
    """A date cell, an Excel serial number, or text in the forms the team writes; ``None`` for "no date"."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if SERIAL_RANGE[0] <= value <= SERIAL_RANGE[1]:
            return EXCEL_EPOCH + dt.timedelta(days=int(value))
        raise NotADate(f"{value!r} is not an Excel date")
    text = cell_text(value)
    if normalise(text) in NO_DATE_WORDS:
        return None
    head = text.split()[0]  # "12/03/2025 00:00:00" as text
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(head, fmt).date()
        except ValueError:
            continue
    raise NotADate(f"{text!r} is not a date (expected DD/MM/YYYY)")


def date_or_type(value: Any) -> tuple[dt.date | None, str | None]:
    """EXPRESS RELEASE / CONTRA ENTREGA: a date when the cell holds one, else the text as its type."""
    try:
        return parse_date(value), None
    except NotADate:
        return None, cell_text(value)[:60]


def parse_status(value: Any) -> str | None:
    """The team's status word as our code; ``None`` when the word is unknown (the caller warns)."""
    return STATUS_WORDS.get(normalise(cell_text(value)))


def split_list(value: Any) -> list[str]:
    """A cell holding several values (house BLs), separated by commas, semicolons, slashes or new lines."""
    text = "" if value is None else str(value)
    return [" ".join(part.split()) for part in re.split(r"[,;/\n]+", text) if part.strip()]
