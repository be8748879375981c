"""Generic create/read/edit/delete/history views, one set per resource of :mod:`app.writes.resources`.

No lost update: ``PATCH`` needs ``If-Match`` with the version the client read (``428`` without it,
``412`` with the current version when it is stale), and the UPDATE itself is ``WHERE version = <read>``
(SQLAlchemy's ``version_id_col``), so of two concurrent edits of the same version exactly one wins.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import String, cast, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.api import bp
from app.auth import current_principal, has_role, require_role
from app.errors import ApiError
from app.extensions import db
from app.filters import PAGINATION_PARAMS, Param, _choices, _int, _text, conditions, parse_flag
from app.models import PROVIDER_TYPES, TRACKED_FIELDS, Client, CostType, History, Provider
from app.pagination import page_limit, paginate
from app.writes import history
from app.writes.changes import apply_changes
from app.writes.fields import validate
from app.writes.resources import RESOURCES, Resource, count

LIST_PARAMS: dict[str, tuple[Param, ...]] = {
    "clients": (
        Param("nit", _text, lambda v: Client.nit == v),
        Param("q", _text, lambda v: Client.name.ilike(f"%{v}%")),
    ),
    "providers": (
        Param("nit", _text, lambda v: Provider.nit == v),
        Param("type", _choices(PROVIDER_TYPES), lambda v: Provider.type.in_(v)),
        Param("q", _text, lambda v: Provider.name.ilike(f"%{v}%")),
    ),
    "cost-types": (
        Param("active", parse_flag, lambda v: CostType.active.is_(v)),
        Param("category_id", _int, lambda v: CostType.category_id == v),
        Param("q", _text, lambda v: cast(CostType.code, String).ilike(f"%{v}%")),
    ),
}


def _row(resource: Resource, item_id: int) -> Any:
    row = db.session.get(resource.model, item_id)
    if row is None:
        raise ApiError(404, f"{resource.label()} {item_id} not found")
    return row


def _tagged(resource: Resource, row: Any, status: int = 200) -> ResponseReturnValue:
    response = jsonify(resource.to_json(row))
    response.status_code = status
    response.headers["ETag"] = f'"{row.version}"'
    return response


def _if_match(row: Any) -> None:
    check_version(row, request.headers.get("If-Match"))


def check_version(row: Any, raw: str | None) -> None:
    """428 without a version, 412 (with the current one) when ``raw`` is not ``row``'s: the If-Match rule.

    ``raw`` is the If-Match header or a web form's hidden version field (``"3"``, ``"\"3\""``).
    """
    if raw is None:
        raise ApiError(
            428,
            "send If-Match with the version (the ETag) you read",
            "precondition_required",
            current_version=row.version,
        )
    wanted = raw.strip().removeprefix("W/").strip('"')
    if wanted != str(row.version):
        raise ApiError(
            412,
            f"changed since you read it: now version {row.version}",
            "precondition_failed",
            current_version=row.version,
        )


def _check_unique(resource: Resource, values: dict[str, Any], row: Any | None) -> None:
    for columns in resource.unique:
        if not any(name in values for name in columns):
            continue
        wanted = {name: values.get(name, getattr(row, name, None)) for name in columns}
        stmt = select(resource.model.id).where(*(getattr(resource.model, n) == v for n, v in wanted.items()))
        if row is not None:
            stmt = stmt.where(resource.model.id != row.id)
        if db.session.scalar(stmt.limit(1)) is not None:
            raise ApiError(
                409,
                f"another {resource.label()} already has this {columns[0]}",
                "conflict",
                field=columns[0],
                fields={columns[0]: "already taken"},
            )


def _commit(resource: Resource, row: Any) -> None:
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        current = db.session.get(resource.model, row.id)
        raise ApiError(
            412,
            "changed by someone else meanwhile",
            "precondition_failed",
            current_version=current.version if current else None,
        ) from None
    except IntegrityError:
        db.session.rollback()
        name = resource.unique[0][0] if resource.unique else None
        raise ApiError(409, f"conflicts with another {resource.label()}", "conflict", field=name) from None


def create_record(resource: Resource, body: object) -> Any:
    """Validate ``body`` and insert the record with its history row: the API's POST and the web's create form."""
    values = validate(resource.fields, body, creating=True)
    _check_unique(resource, values, None)
    if resource.name == "invoices":
        values.setdefault("applicable_amount", values["amount"])
        values.setdefault("provider_nit", db.session.get(Provider, values["provider_id"]).nit)
        values["assignment_method"] = "manual" if values.get("ot_id") else "unassigned"
    row = resource.model(**{**resource.defaults, **values})  # a value sent wins over the default
    if resource.name == "ots":
        row.field_sources = {name: "manual" for name in values if name in TRACKED_FIELDS}
    db.session.add(row)
    db.session.flush()
    history.record(resource.name, row.id, "create", {n: (None, v) for n, v in values.items()})
    _commit(resource, row)
    return row


def update_record(resource: Resource, row: Any, body: object) -> Any:
    """Apply ``body`` to ``row`` (whose version the caller checked) with the role's field rule and history.

    The API's PATCH and the web's edit form; the UPDATE is still ``WHERE version = <read>``, so a
    concurrent edit between the check and the commit is a 412 too.
    """
    principal = current_principal()
    if not has_role(principal.role, "jefe_operaciones") and resource.name != "cost-types":
        outside = sorted(set(body or {}) - resource.finance_fields) if isinstance(body, dict) else []
        if outside:
            raise ApiError(
                403,
                f"finanzas may not change {', '.join(outside)}",
                "forbidden",
                required_role="jefe_operaciones",
                fields={name: "not a finanzas field" for name in outside},
            )
    values = validate(resource.fields, body, creating=False)
    _check_unique(resource, values, row)
    changes = apply_changes(resource, row, values)
    if changes:
        history.record(resource.name, row.id, "update", changes)
        _commit(resource, row)
    return row


def _make_views(resource: Resource) -> None:
    model, base = resource.model, f"/{resource.name}"
    prefix = resource.name.replace("-", "_")

    def create() -> ResponseReturnValue:
        return _tagged(resource, create_record(resource, request.get_json(silent=True)), 201)

    def update(item_id: int) -> ResponseReturnValue:
        row = _row(resource, item_id)
        _if_match(row)
        return _tagged(resource, update_record(resource, row, request.get_json(silent=True)))

    def delete(item_id: int) -> ResponseReturnValue:
        row = _row(resource, item_id)
        key = row.code if resource.name == "cost-types" else row.id
        for other, column in resource.referenced_by:
            if count(other, column, key):
                raise ApiError(
                    409,
                    f"{other.__tablename__} still refer to this {resource.label()}",
                    "conflict",
                    referenced_by=other.__tablename__,
                )
        snapshot = resource.to_json(row)
        db.session.delete(row)
        history.record(resource.name, item_id, "delete", {n: (v, None) for n, v in snapshot.items() if n != "id"})
        _commit(resource, row)
        return "", 204

    def record_history(item_id: int) -> ResponseReturnValue:
        rows = db.session.scalars(
            select(History).where(History.resource == resource.name, History.record_id == item_id).order_by(History.id)
        ).all()
        if not rows:
            _row(resource, item_id)
        return jsonify(items=[history.history_json(r) for r in rows])

    delete_role = "admin" if resource.create_role == "admin" else "jefe_operaciones"
    bp.add_url_rule(base, f"create_{prefix}", require_role(resource.create_role)(create), methods=["POST"])
    bp.add_url_rule(
        f"{base}/<id:item_id>", f"update_{prefix}", require_role(resource.edit_role)(update), methods=["PATCH"]
    )
    bp.add_url_rule(f"{base}/<id:item_id>", f"delete_{prefix}", require_role(delete_role)(delete), methods=["DELETE"])
    bp.add_url_rule(f"{base}/<id:item_id>/history", f"history_{prefix}", record_history, methods=["GET"])
    if resource.name in LIST_PARAMS:

        def list_rows() -> ResponseReturnValue:
            where = conditions(request.args, LIST_PARAMS[resource.name], PAGINATION_PARAMS)
            limit = page_limit(request.args.get("limit"))
            rows, next_cursor = paginate(select(model), model.id, request.args.get("cursor"), limit, where)
            return jsonify(items=[resource.to_json(r) for r in rows], next=next_cursor, limit=limit)

        def detail(item_id: int) -> ResponseReturnValue:
            return _tagged(resource, _row(resource, item_id))

        bp.add_url_rule(base, f"list_{prefix}", list_rows, methods=["GET"])
        bp.add_url_rule(f"{base}/<id:item_id>", f"get_{prefix}", detail, methods=["GET"])


for _resource in RESOURCES.values():
    _make_views(_resource)
