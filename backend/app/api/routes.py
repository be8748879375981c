"""List and detail endpoints; filtering comes from :mod:`app.filters`, paging from :mod:`app.pagination`."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from app.api import bp
from app.api.lists import invoice_rows, ot_rows, records
from app.api.serializers import invoice_json, ot_json
from app.errors import ApiError
from app.extensions import db
from app.filters import PAGINATION_PARAMS, invoice_conditions, ot_conditions
from app.models import Invoice, Ot
from app.pagination import page_limit, paginate


def _page(stmt: Select[Any], id_column: Any, conditions: list[Any], to_json: Any) -> ResponseReturnValue:
    limit = page_limit(request.args.get("limit"))
    rows, next_cursor = paginate(stmt, id_column, request.args.get("cursor"), limit, conditions)
    return jsonify(items=[to_json(record) for record in records(rows)], next=next_cursor, limit=limit)


def _one(model: Any, item_id: int, options: list[Any], to_json: Any) -> ResponseReturnValue:
    row = db.session.execute(select(model).where(model.id == item_id).options(*options)).scalar_one_or_none()
    if row is None:
        raise ApiError(404, f"{model.__tablename__[:-1]} {item_id} not found")
    response = jsonify(to_json(row))
    response.headers["ETag"] = f'"{row.version}"'  # send it back as If-Match to PATCH (docs/write-api.md)
    return response


INVOICE_OPTIONS = [joinedload(Invoice.ot), joinedload(Invoice.provider)]
OT_OPTIONS = [joinedload(Ot.client), joinedload(Ot.carrier)]


@bp.get("/invoices")
def list_invoices() -> ResponseReturnValue:
    """Invoices, newest first, filtered by the query string (see :data:`app.filters.INVOICE_PARAMS`)."""
    return _page(invoice_rows(), Invoice.id, invoice_conditions(request.args, PAGINATION_PARAMS), invoice_json)


@bp.get("/invoices/<id:invoice_id>")
def get_invoice(invoice_id: int) -> ResponseReturnValue:
    return _one(Invoice, invoice_id, INVOICE_OPTIONS, invoice_json)


@bp.get("/ots")
def list_ots() -> ResponseReturnValue:
    """OTs, newest first, filtered by the query string (see :data:`app.filters.OT_PARAMS`)."""
    return _page(ot_rows(), Ot.id, ot_conditions(request.args, PAGINATION_PARAMS), ot_json)


@bp.get("/ots/<id:ot_id>")
def get_ot(ot_id: int) -> ResponseReturnValue:
    return _one(Ot, ot_id, OT_OPTIONS, ot_json)
