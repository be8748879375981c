"""The export menu's column picker and background exports: ``/exports/choose``, ``/exports`` ("your exports").

The picker is a GET form (no JavaScript): its checkboxes arrive as ``columns`` repeated, which the
streamed endpoints refuse (they take one comma list), so ``/exports/choose`` joins them in the order
of the export's columns and redirects to the streamed endpoint with the same filter. Above
``EXPORT_BACKGROUND_ROWS`` matches (and with ``REDIS_URL`` set) the list offers a background export
instead: ``/exports/choose?mode=background`` shows the request as a POST form (CSRF), and ``POST
/exports`` queues it through :func:`app.exports.job_routes.create_job`, the function ``POST
/api/exports`` uses. Exports are reads, so ``operativo`` may do all of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from app.errors import ApiError
from app.exports.columns import INVOICE_COLUMNS, OT_COLUMNS, Column
from app.exports.job_routes import RESOURCES, cancel_or_remove, create_job, owned_job, owned_jobs
from app.extensions import db
from app.web import bp
from app.web.guard import page_role, principal
from app.web.lists import Count, cleaned
from app.web.streamed import CSRF_FIELD

COLUMNS = {"invoices": INVOICE_COLUMNS, "ots": OT_COLUMNS}
NOT_FILTERS = ("resource", "mode", "columns", CSRF_FIELD)


def background_offered(count: Callable[[], Count | None]) -> bool:
    """Whether the list offers a background export: a queue, and the filter's (capped) count above the setting.

    ``count`` is only called with a queue configured: without one there is nothing to offer, so no count to pay for.
    """
    config = current_app.config
    if not config["REDIS_URL"]:
        return False
    found = count()
    return found is not None and found.value > config["EXPORT_BACKGROUND_ROWS"]


def picker_columns(resource: str, lang: str) -> list[tuple[str, str]]:
    """``(key, heading)`` of every column of the export, headed as the file will be in ``lang``."""
    return [(column.key, _heading(column, lang)) for column in COLUMNS[resource]]


def _heading(column: Column, lang: str) -> str:
    return column.header if lang == "es" else column.header_en or column.header


def _resource(args: MultiDict[str, str]) -> str:
    resource = args.get("resource", "")
    if resource not in RESOURCES:
        abort(404)
    return resource


def _request_pairs(args: MultiDict[str, str]) -> list[list[str]]:
    """The export's parameters: format, lang, the filter, and the ticked columns as one list in export order."""
    pairs = [[key, value] for key, value in cleaned(args).items(multi=True) if key not in NOT_FILTERS]
    ticked = {part for raw in args.getlist("columns") for part in raw.split(",") if part}
    if ticked:
        known = [column.key for column in COLUMNS[_resource(args)]]
        chosen = [key for key in known if key in ticked] + sorted(ticked - set(known))  # unknown: the API's 400
        pairs.append(["columns", ",".join(chosen)])
    return pairs


@bp.get("/exports/choose")
@page_role("operativo")
def export_new() -> ResponseReturnValue:
    """The picker's target: the streamed download (303), or the background export's confirmation form."""
    resource = _resource(request.args)
    pairs = _request_pairs(request.args)
    if request.args.get("mode") == "background":
        return render_template("web/export_new.html", resource=resource, pairs=pairs)
    return redirect(f"/api/{resource}/export?{urlencode([(key, value) for key, value in pairs], safe=',')}", code=303)


@bp.post("/exports")
@page_role("operativo")
def export_create() -> ResponseReturnValue:
    resource = _resource(request.form)
    try:
        create_job(resource, _request_pairs(request.form), principal())
    except ApiError as exc:
        db.session.rollback()
        flash(gettext("Not done: %(reason)s", reason=exc.description), "error")
        return redirect(url_for("web.exports"), code=303)
    flash(gettext("The export is queued; this page shows its progress."), "ok")
    return redirect(url_for("web.exports"), code=303)


@bp.get("/exports")
@page_role("operativo")
def exports() -> ResponseReturnValue:
    body = render_template("web/exports.html", jobs=owned_jobs(principal()), percent=_percent)
    db.session.commit()
    return body


def _percent(job: Any) -> int | None:
    if not job.rows_estimate:
        return None
    return min(100, int(100 * job.rows_written / job.rows_estimate))


@bp.post("/exports/<string:job_id>/cancel")
@page_role("operativo")
def export_cancel(job_id: str) -> ResponseReturnValue:
    try:
        cancelled = cancel_or_remove(owned_job(job_id, principal()), principal())
    except ApiError as exc:
        db.session.rollback()
        flash(gettext("Not done: %(reason)s", reason=exc.description), "error")
        return redirect(url_for("web.exports"), code=303)
    flash(gettext("Export cancelled.") if cancelled else gettext("Export removed."), "ok")
    return redirect(url_for("web.exports"), code=303)
