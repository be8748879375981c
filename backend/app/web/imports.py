"""``/imports``: choose the team's workbooks, preview a dry run, decide each conflict, confirm; nothing written before.

Step 1 (``POST /imports``) streams the files into a staging directory (:mod:`app.imports.staging`).
Step 2 (``GET /imports/<token>``) runs the import as a dry run on them and shows rows to create,
update or skip, per-row errors and warnings with file and row, and each client/operativo conflict
with a keep / use-new choice. Step 3 (``POST /imports/<token>``) imports the same bytes with those
decisions. Both runs are :func:`app.imports.importer.import_sources`, the API's function, so its
rules (one transaction, 409 while a conflict is undecided, 422 on row errors) hold here too.
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.errors import ApiError, error_response
from app.imports.importer import DECISIONS, ImportOptions, import_sources, parse_decisions
from app.imports.staging import discard, stage, staged
from app.uploads.streaming import upload_limit
from app.web import bp
from app.web.guard import page_role, principal
from app.web.streamed import checked_uploads, streamed_form, wants_json

DECISION_PREFIX = "decision:"


def _options(settings: dict[str, Any], dry_run: bool, decisions: dict[str, str] | None = None) -> ImportOptions:
    return ImportOptions(
        dry_run=dry_run,
        max_rows=current_app.config["IMPORT_MAX_ROWS"],
        decisions=decisions or {},
        create_clients=bool(settings.get("create_clients")),
        sheet=settings.get("sheet") or None,
    )


def _run(token: str, dry_run: bool, decisions: dict[str, str] | None = None) -> dict[str, Any]:
    """The import's answer as the API gives it, errors (422) and undecided conflicts (409) included."""
    files = staged(current_app.config["STORAGE_DIR"], token, principal().user_id)
    try:
        result = import_sources(files.sources, _options(files.settings, dry_run, decisions)).as_json()
        return {**result, "status": 200, "settings": files.settings, "filenames": [s.filename for s in files.sources]}
    except ApiError as exc:
        if exc.code not in (409, 422):
            raise
        return {**exc.extra, "status": exc.code, "message": exc.description, "settings": files.settings,
                "filenames": [s.filename for s in files.sources]}


def _form(settings: dict[str, Any] | None = None, error: str | None = None) -> str:
    """The first step's page; after a refused file, with the choices made and what was wrong."""
    return render_template(
        "web/imports.html", settings=settings or {}, error=error, messages={"failed": _("Upload failed")}
    )


@bp.get("/imports")
@page_role("jefe_operaciones")  # the role POST /api/ots/import needs
def imports() -> ResponseReturnValue:
    return _form()


@bp.post("/imports")
@streamed_form
@page_role("jefe_operaciones")
def stage_import() -> ResponseReturnValue:
    """Stage the chosen workbooks (nothing imported yet) and send the person to the preview."""
    fields, uploads = checked_uploads()
    settings = {"create_clients": fields.get("create_clients") == "1", "sheet": fields.get("sheet", "").strip()}
    try:
        token = stage(uploads, current_app.config["STORAGE_DIR"], upload_limit(), principal().user_id, settings)
    except ApiError as exc:
        if wants_json():  # imports.js shows the message beside the form
            return error_response(exc.code or 400, exc.description or "", exc.error_code, **exc.extra)
        return _form(settings, exc.description), exc.code
    location = url_for("web.import_preview", token=token)
    if wants_json():  # imports.js: it shows the upload's progress, then opens the preview itself
        return jsonify(location=location)
    return redirect(location, code=303)


@bp.get("/imports/<token>")
@page_role("jefe_operaciones")
def import_preview(token: str) -> ResponseReturnValue:
    return render_template("web/import_preview.html", token=token, preview=_run(token, dry_run=True), chosen={})


@bp.post("/imports/<token>")
@page_role("jefe_operaciones")
def confirm_import(token: str) -> ResponseReturnValue:
    """Import the staged files with the decisions chosen on the preview; the preview again if any is missing."""
    if request.form.get("action") == "discard":
        discard(current_app.config["STORAGE_DIR"], token)
        return redirect(url_for("web.imports"), code=303)
    chosen = {
        key[len(DECISION_PREFIX) :]: value
        for key, value in request.form.items()
        if key.startswith(DECISION_PREFIX) and value in DECISIONS
    }
    decisions = parse_decisions(json.dumps(chosen))  # the API's own check of a decisions object
    outcome = _run(token, dry_run=False, decisions=decisions)
    if outcome["status"] != 200:
        preview = _run(token, dry_run=True)
        preview["problem"] = outcome["message"]
        page = render_template("web/import_preview.html", token=token, preview=preview, chosen=chosen)
        return page, outcome["status"]
    discard(current_app.config["STORAGE_DIR"], token)
    return render_template("web/import_done.html", result=outcome)
