"""``POST /api/ots/import``: the body is streamed to a spool file under ``STORAGE_DIR``, then imported."""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.errors import BadParameter
from app.filters import parse_flag
from app.imports import bp
from app.imports.importer import import_upload
from app.imports.spreadsheets import SheetChoice
from app.uploads.streaming import open_request_upload, upload_limit


@bp.post("/ots/import")
def import_ots() -> ResponseReturnValue:
    """Import OTs from an xlsx/csv upload in one transaction; ``?dry_run=1`` validates without writing.

    ``?sheet=N`` picks the workbook's Nth sheet; a workbook with several sheets and no choice is a 422 naming them.
    """
    dry_run = parse_flag("dry_run", request.args.get("dry_run", "false"))
    try:
        sheet = SheetChoice.parse(request.args.get("sheet"))
    except ValueError as exc:
        raise BadParameter("sheet", str(exc)) from None
    config = current_app.config
    result = import_upload(
        open_request_upload(), upload_limit(), config["STORAGE_DIR"], dry_run, config["IMPORT_MAX_ROWS"], sheet
    )
    return jsonify(result.as_json())
