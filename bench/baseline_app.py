"""The OLD setup's export and upload code, for the before/after load benchmark only (never deployed).

``gunicorn 'baseline_app:create_baseline_app()'`` (run from backend/ with bench/ on PYTHONPATH) serves
our app with the two heavy routes swapped back to what the system did before the optimizations:

- ``GET /api/invoices/export?format=xlsx|csv``: every row loaded with ``.all()`` as ORM entities, then a
  normal-mode openpyxl ``Workbook`` (or a whole CSV in a ``StringIO``) built in memory and sent at once.
- ``POST /api/uploads``: the whole file read into one ``bytes`` (``request.files[...].read()`` or
  ``request.get_data()``), hashed, and written out.

If our streaming route exists, its view function is replaced in place (same URL, same endpoint, so
the app-level auth and hooks still apply); if it does not exist yet, the old route is added.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import MethodNotAllowed, NotFound

from app import create_app
from app.api.serializers import invoice_json
from app.errors import ApiError
from app.extensions import db
from app.filters import invoice_conditions
from app.models import Invoice, StoredFile

EXPORT_PATH = "/api/invoices/export"
UPLOAD_PATH = "/api/uploads"


def _all_invoices() -> list[dict[str, object]]:
    """The old export query: every matching invoice as an ORM entity, all in memory, then as dicts."""
    stmt = (
        select(Invoice)
        .where(*invoice_conditions(request.args, extra=("format",)))
        .options(joinedload(Invoice.ot), joinedload(Invoice.provider))
        .order_by(Invoice.id)
    )
    invoices = db.session.execute(stmt).scalars().all()
    return [{k: _cell(v) for k, v in invoice_json(invoice).items()} for invoice in invoices]


def _cell(value: object) -> object:
    """Nested JSON values (the detected references) as text: a spreadsheet cell holds one scalar."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def old_export() -> ResponseReturnValue:
    """In-memory export: the whole XLSX workbook or CSV text exists in RAM before the first byte is sent."""
    kind = request.args.get("format", "xlsx")
    if kind not in ("xlsx", "csv"):
        raise ApiError(400, "format must be xlsx or csv")
    rows = _all_invoices()
    header = list(rows[0]) if rows else []
    if kind == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(header)
        writer.writerows(row.values() for row in rows)
        body = text.getvalue().encode("utf-8")
        return Response(body, mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=invoices.csv"})
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(list(row.values()))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return Response(
        buffer.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=invoices.xlsx"},
    )


def old_upload() -> ResponseReturnValue:
    """Whole-file upload: the body becomes one bytes object (after Werkzeug spooled it), then is written."""
    upload = request.files.get("file")
    if upload is not None:
        data, name = upload.read(), upload.filename or "upload.bin"
        content_type = upload.mimetype or "application/octet-stream"
    else:
        data, name = request.get_data(), request.args.get("filename", "upload.bin")
        content_type = request.mimetype or "application/octet-stream"
    if not data:
        raise ApiError(400, "empty upload")
    digest = hashlib.sha256(data).hexdigest()
    stored = db.session.execute(select(StoredFile).where(StoredFile.sha256 == digest)).scalar_one_or_none()
    if stored is None:
        key = f"baseline/{digest[:2]}/{digest}"
        path = Path(current_app.config["STORAGE_DIR"]) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        stored = StoredFile(
            sha256=digest, original_filename=name, content_type=content_type, size=len(data), storage_key=key
        )
        db.session.add(stored)
        db.session.commit()
    return jsonify(id=stored.id, sha256=digest, size=len(data)), 201


def replace_route(app: Flask, path: str, method: str, view: Callable[[], ResponseReturnValue]) -> str:
    """Point ``method path`` at ``view``: swap the existing endpoint's function, or add the rule."""
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(path, method=method)
    except (NotFound, MethodNotAllowed):
        endpoint = f"baseline_{view.__name__}"
        app.add_url_rule(path, endpoint, view, methods=[method])
        return endpoint
    app.view_functions[endpoint] = view
    return endpoint


def create_baseline_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Our app factory, with the export and upload views swapped for the old in-memory ones."""
    app = create_app(config)
    replace_route(app, EXPORT_PATH, "GET", old_export)
    replace_route(app, UPLOAD_PATH, "POST", old_upload)
    return app
