"""Create and edit pages for invoices, OTs, clients and providers, and the client and provider lists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.exceptions import Forbidden

from app.extensions import db
from app.filters import PAGINATION_PARAMS, conditions
from app.i18n import N_
from app.web import bp
from app.web.forms import FormResult, save
from app.web.guard import page_role
from app.web.lists import listing
from app.web.specs import FORMS, FormField, editable, options
from app.writes.routes import LIST_PARAMS

CATALOG_TITLES = {"clients": N_("Clients"), "providers": N_("Providers")}
DETAIL_ENDPOINTS = {"invoices": "web.invoice", "ots": "web.ot"}
TITLES = {
    "invoices": (N_("New invoice"), N_("Edit invoice")),
    "ots": (N_("New OT"), N_("Edit OT")),
    "clients": (N_("New client"), N_("Edit client")),
    "providers": (N_("New provider"), N_("Edit provider")),
}


def input_value(value: Any) -> str:
    """How a stored value is written in its input box."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(value)
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")  # as the team writes dates, whatever the browser's locale
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def _values(fields: tuple[FormField, ...], row: Any) -> dict[str, str]:
    return {item.name: input_value(getattr(row, item.name, None)) for item in fields} if row is not None else {}


def _render(
    kind: str, row: Any, names: list[str], values: dict[str, str], result: FormResult, status: int = 200
) -> Any:
    _resource, fields = FORMS[kind]
    conflict = result.conflict
    current = _values(fields, conflict) if conflict is not None else {}
    version = conflict.version if conflict is not None else (row.version if row is not None else None)
    body = render_template(
        "web/form.html",
        kind=kind,
        row=row,
        title=TITLES[kind][0 if row is None else 1],
        fields=fields,
        editable=names,
        values=values,
        errors=result.errors,
        message=result.message,
        current=current,
        version=version,
        choices={item.options: options(item.options) for item in fields if item.options},
    )
    db.session.commit()
    return body, status


def _form_view(kind: str, item_id: int | None) -> ResponseReturnValue:
    resource, fields = FORMS[kind]
    row = db.session.get(resource.model, item_id) if item_id is not None else None
    if item_id is not None and row is None:
        abort(404)
    names = editable(resource, fields, g.principal.role, creating=row is None)
    if not names:
        raise Forbidden(resource.create_role if row is None else resource.edit_role)
    if request.method == "GET":
        return _render(kind, row, names, _values(fields, row), FormResult())
    result = save(resource, row, request.form, names)
    if result.row is not None:
        saved = result.row
        if kind in DETAIL_ENDPOINTS:
            return redirect(url_for(DETAIL_ENDPOINTS[kind], item_id=saved.id), code=303)
        return redirect(url_for(f"web.{kind}_list"), code=303)
    submitted = {item.name: request.form.get(item.name, "") for item in fields if item.name in names}
    values = {**_values(fields, row), **submitted}
    status = 409 if result.conflict is not None else 422
    return _render(kind, row, names, values, result, status)


def _list_view(kind: str) -> ResponseReturnValue:
    resource, _fields = FORMS[kind]
    found = listing(
        request.args,
        select(resource.model),
        resource.model.id,
        lambda args: conditions(args, LIST_PARAMS[kind], PAGINATION_PARAMS),
    )
    body = render_template("web/catalog.html", kind=kind, listing=found, title=CATALOG_TITLES[kind])
    db.session.commit()
    return body


def _register(kind: str) -> None:
    def create() -> ResponseReturnValue:
        return _form_view(kind, None)

    def edit(item_id: int) -> ResponseReturnValue:
        return _form_view(kind, item_id)

    read = page_role("operativo")
    bp.add_url_rule(f"/{kind}/new", f"{kind}_new", read(create), methods=["GET", "POST"])
    bp.add_url_rule(f"/{kind}/<id:item_id>/edit", f"{kind}_edit", read(edit), methods=["GET", "POST"])
    if kind in LIST_PARAMS:
        bp.add_url_rule(f"/{kind}", f"{kind}_list", read(lambda: _list_view(kind)), methods=["GET"])


for _kind in FORMS:
    _register(_kind)
