"""El Salvador's DTE (documento tributario electrónico) JSON: the fields an invoice needs, read defensively.

A DTE is the Ministerio de Hacienda's electronic invoice: ``identificacion`` (``numeroControl``,
``codigoGeneracion``, ``fecEmi``), ``emisor`` (``nit``, ``nombre``), ``resumen`` (``totalPagar``,
``montoTotalOperacion``), and free text where suppliers write the shipment (``extension.observaciones``,
``apendice[].valor``, ``cuerpoDocumento[].descripcion``). Some portals wrap it as ``{"dteJson": {...}}``.

The file comes from outside, so it is bounded before :func:`json.loads` sees it: a size cap, a nesting
depth found by a linear scan (deep nesting would otherwise recurse), numbers parsed as ``Decimal``
(a 10,000-digit integer costs what its text costs, never ``int``'s quadratic conversion), no
NaN/Infinity, and a cap on the text collected for the reference patterns. A value of the wrong type
is reported as missing, never trusted.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.intake.values import normalise_nit, parse_amount

MAX_DEPTH = 32
MAX_STRINGS = 5000
# Keys whose values are signatures or seals, never shipment references (and can be long).
SKIPPED_KEYS = frozenset({"firmaElectronica", "selloRecibido", "firma", "sello"})
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
MAX_ID_LENGTH = 64


class NotReadable(ValueError):
    """The bytes are not a JSON document we can read (the message says why, for the answer)."""


@dataclass
class DteReading:
    """What a DTE gave; ``missing`` names the fields an invoice needs that were absent or malformed."""

    control_number: str | None = None
    generation_code: str | None = None
    issue_date: dt.date | None = None
    total: Decimal | None = None
    issuer_nit: str | None = None
    issuer_name: str | None = None
    document_type: str | None = None
    text: str = ""
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        return {
            "control_number": self.control_number,
            "generation_code": self.generation_code,
            "document_type": self.document_type,
            "issue_date": self.issue_date.isoformat() if self.issue_date else None,
            "total": str(self.total) if self.total is not None else None,
            "issuer_nit": self.issuer_nit,
            "issuer_name": self.issuer_name,
        }


def load_json(data: bytes, max_bytes: int) -> Any:
    """Parse ``data`` within the bounds above; raise :class:`NotReadable`."""
    if len(data) > max_bytes:
        raise NotReadable(f"JSON larger than {max_bytes // 1024} KB is stored but not read")
    depth = nesting_depth(data)
    if depth > MAX_DEPTH:
        raise NotReadable(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        text = data.decode("utf-8-sig")
        return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotReadable(f"not valid JSON ({_short(exc)})") from None


def nesting_depth(data: bytes) -> int:
    """The deepest ``[``/``{`` nesting of ``data``, ignoring brackets inside strings; linear time."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKET)
    depth = deepest = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        else:
            depth -= 1
    return deepest


def is_dte(document: Any) -> bool:
    return isinstance(_body(document), dict)


def read_dte(document: Any, max_chars: int) -> DteReading:
    """The invoice fields of a parsed DTE and its free text (at most ``max_chars``) for the reference patterns."""
    body = _body(document)
    if not isinstance(body, dict):
        raise NotReadable("JSON that is not a DTE (no 'identificacion' object)")
    reading = DteReading()
    ident = _object(body, "identificacion")
    emitter = _object(body, "emisor")
    summary = _object(body, "resumen")
    reading.control_number = _identifier(ident.get("numeroControl"))
    reading.generation_code = _identifier(ident.get("codigoGeneracion"))
    reading.document_type = _identifier(ident.get("tipoDte"))
    reading.issue_date = _iso_date(ident.get("fecEmi"))
    reading.total = parse_amount(summary.get("totalPagar"))
    if reading.total is None:
        reading.total = parse_amount(summary.get("montoTotalOperacion"))
    reading.issuer_nit = normalise_nit(emitter.get("nit"))
    name = emitter.get("nombre")
    reading.issuer_name = " ".join(name.split())[:200] if isinstance(name, str) and name.strip() else None
    for label, value in (
        ("identificacion.numeroControl", reading.control_number),
        ("identificacion.fecEmi", reading.issue_date),
        ("resumen.totalPagar", reading.total),
        ("emisor.nit", reading.issuer_nit),
    ):
        if value is None:
            reading.missing.append(label)
    reading.text = collected_text(body, max_chars)
    if len(reading.text) >= max_chars:
        reading.warnings.append(f"only the first {max_chars} characters of the document's text were scanned")
    return reading


def collected_text(document: Any, max_chars: int) -> str:
    """Every string of ``document`` (signatures and seals skipped), one per line, up to ``max_chars``."""
    parts: list[str] = []
    size = 0
    for value in _strings(document):
        parts.append(value)
        size += len(value) + 1
        if size >= max_chars or len(parts) >= MAX_STRINGS:
            break
    return "\n".join(parts)[:max_chars]


def _strings(document: Any) -> Iterator[str]:
    """Strings in document order, iteratively (the depth is already bounded, but no recursion anyway)."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            stack.extend(reversed([value for key, value in node.items() if key not in SKIPPED_KEYS]))
        elif isinstance(node, list):
            stack.extend(reversed(node))


def _body(document: Any) -> Any:
    if isinstance(document, dict) and isinstance(document.get("dteJson"), dict):
        document = document["dteJson"]
    if isinstance(document, dict) and isinstance(document.get("identificacion"), dict):
        return document
    return None


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def _identifier(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip().upper()
    return value if 0 < len(value) <= MAX_ID_LENGTH else None


def _iso_date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _short(exc: Exception) -> str:
    return str(exc)[:120]
