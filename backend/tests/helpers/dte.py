"""Synthetic El Salvador DTE JSON documents (factura electrónica) for tests and benchmarks; no real data."""

from __future__ import annotations

import json
import uuid
from typing import Any


def dte_document(
    *,
    control: str = "DTE-01-M001P001-000000000000001",
    generation: str | None = None,
    issued: str = "2026-03-15",
    total: Any = 1130.0,
    nit: str = "0614-150390-101-2",
    name: str = "Naviera Demo, S.A. de C.V.",
    observations: str = "",
    appendix: list[dict[str, str]] | None = None,
    lines: list[str] | None = None,
) -> dict[str, Any]:
    """A DTE with the parts the intake reads; references go in observations, the appendix or the lines."""
    return {
        "identificacion": {
            "version": 1,
            "ambiente": "00",
            "tipoDte": "01",
            "numeroControl": control,
            "codigoGeneracion": generation or str(uuid.uuid4()).upper(),
            "fecEmi": issued,
            "horEmi": "10:20:00",
            "tipoMoneda": "USD",
        },
        "emisor": {"nit": nit, "nrc": "123456-7", "nombre": name, "codActividad": "52290"},
        "receptor": {"nit": "0614-010101-001-0", "nombre": "PLG Logística Demo"},
        "cuerpoDocumento": [
            {"numItem": index, "descripcion": text, "cantidad": 1, "precioUni": 100.0, "ventaGravada": 100.0}
            for index, text in enumerate(lines or ["Servicio de flete marítimo"], 1)
        ],
        "resumen": {"montoTotalOperacion": total, "totalPagar": total, "totalLetras": "MIL CIENTO TREINTA"},
        "extension": {"observaciones": observations},
        "apendice": appendix,
        "firmaElectronica": "eyJhbGciOiJSUzUxMiJ9." + "A" * 200,
    }


def dte_bytes(**kwargs: Any) -> bytes:
    return json.dumps(dte_document(**kwargs), ensure_ascii=False).encode("utf-8")
