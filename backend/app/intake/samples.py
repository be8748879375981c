"""Synthetic supplier documents shaped like the team's: an El Salvador DTE JSON and a PDF with a text layer.

``flask intake sample`` writes one of each for an OT of the demo data, so the intake can be tried
(and shown matching) without real customer documents; the tests and benchmarks build theirs here
too. A PDF is a handful of numbered objects and a table of their byte offsets: writing them directly
needs no dependency and lets a test build shapes no PDF library would write.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Sequence
from typing import Any


def _escape(text: str) -> bytes:
    raw = text.encode("latin-1", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def text_stream(lines: Sequence[str]) -> bytes:
    """A content stream drawing ``lines`` top-down in Helvetica 10 (one ``Tj`` per line)."""
    body = [b"BT /F1 10 Tf 14 TL 50 800 Td"]
    for line in lines:
        body.append(b"(" + _escape(line) + b") Tj T*")
    body.append(b"ET")
    return b"\n".join(body)


def build_pdf(
    pages: Sequence[bytes], *, compress: bool = False, shared_page: bool = False, flate_encoded: bool = False
) -> bytes:
    """A PDF whose pages draw the given content streams.

    ``compress`` Flate-encodes the streams; ``flate_encoded`` says they already are. ``shared_page``
    writes one content stream that every page of ``pages`` refers to (``pages`` then only sets the
    count), so thousands of pages stay small.
    """
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below, once the page tree's number is known
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    tree = add(b"")
    contents: list[int] = []
    for index, stream in enumerate(pages):
        if shared_page and index > 0:
            contents.append(contents[0])
            continue
        data = zlib.compress(stream) if compress else stream
        extra = b" /Filter /FlateDecode" if compress or flate_encoded else b""
        contents.append(add(b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"))
    kids = []
    for content in contents:
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (tree, content, font)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


def text_pdf(*pages: Sequence[str], compress: bool = True) -> bytes:
    """A PDF with a text layer: one page per sequence of lines."""
    return build_pdf([text_stream(lines) for lines in pages], compress=compress)


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


def invoice_pdf(
    *, number: str, issued: str, total: str, provider: str, nit: str, master_bl: str, containers: Sequence[str]
) -> bytes:
    """A one-page supplier invoice with a text layer: what the default extraction patterns read."""
    return text_pdf(
        [
            provider,
            f"NIT: {nit}",
            f"FACTURA No. {number}",
            f"Fecha de emision: {issued}",
            f"MBL: {master_bl}",
            "Contenedores: " + ", ".join(containers),
            "Descripcion: cargos locales de naviera",
            f"TOTAL A PAGAR: US$ {total}",
        ]
    )
