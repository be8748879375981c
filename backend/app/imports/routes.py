"""``POST /api/ots/import``: one or several workbooks, streamed to spool files under ``STORAGE_DIR``, imported."""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.filters import check_known, parse_flag
from app.imports import bp
from app.imports.importer import ImportOptions, import_uploads, parse_decisions
from app.uploads.streaming import open_request_uploads, upload_limit

PARAMETERS = ("dry_run", "sheet", "create_clients")


@bp.post("/ots/import")
def import_ots() -> ResponseReturnValue:
    """Import OTs from the team's xlsx/csv files in one transaction; ``?dry_run=1`` reports without writing.

    Send each workbook as a ``file`` part; conflict decisions, when repeating an import, as a
    ``decisions`` JSON field before the files.
    """
    check_known(request.args, PARAMETERS)
    dry_run = parse_flag("dry_run", request.args.get("dry_run", "false"))
    create_clients = parse_flag("create_clients", request.args.get("create_clients", "false"))
    sheet = request.args.get("sheet") or None

    def options(fields: Mapping[str, str]) -> ImportOptions:
        return ImportOptions(
            dry_run=dry_run,
            max_rows=current_app.config["IMPORT_MAX_ROWS"],
            decisions=parse_decisions(fields.get("decisions")),
            create_clients=create_clients,
            sheet=sheet,
        )

    storage_dir = current_app.config["STORAGE_DIR"]
    result = import_uploads(open_request_uploads(), storage_dir, upload_limit(), options)
    return jsonify(result.as_json())
