"""``GET /api/invoices/export`` and ``GET /api/ots/export``: the list's filters, streamed as XLSX or CSV.

Everything that can fail cleanly is checked before the first byte: the query string (400), the
concurrency slot (429), the row limits (422) and the query itself (its first chunk is fetched
before the response starts). After that the body streams while rows are read; the response's
close callbacks return the connection and the slot whether the download finished or the client
went away.

The body is a plain generator, not ``stream_with_context``: it reads nothing from the request and
owns its connection, so the request context (and the session auth used) can be torn down as soon as
the view returns instead of being kept alive, and re-pushed, for the whole download.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator

from flask import Response, current_app, request
from flask.typing import ResponseReturnValue

from app.errors import ApiError
from app.exports import bp
from app.exports.formats import ExportFormat, parse_export, row_limit
from app.exports.limits import export_slots, install_slots
from app.exports.queries import EXPORTS, ExportDefinition
from app.exports.streams import ExportStream, open_export
from app.exports.turns import install_counting
from app.extensions import db
from app.filters import Condition
from app.slots import Slot
from ops.metrics import record_export

log = logging.getLogger(__name__)
bp.record_once(lambda state: install_slots(state.app))
install_counting(bp)


@bp.get("/invoices/export")
def export_invoices() -> ResponseReturnValue:
    """Invoices matching the ``GET /api/invoices`` filters, as ``?format=xlsx`` (default) or ``csv``."""
    return _export(EXPORTS["invoices"])


@bp.get("/ots/export")
def export_ots() -> ResponseReturnValue:
    """OTs matching the ``GET /api/ots`` filters, in the columns of the team's OT sheet, as XLSX or CSV."""
    return _export(EXPORTS["ots"])


def _export(definition: ExportDefinition) -> Response:
    choice = parse_export(definition, request.args, current_app.config["APP_TIMEZONE"])
    definition, export_format, conditions = choice.definition, choice.export_format, choice.conditions
    slot = export_slots().acquire()
    try:
        _check_row_limit(definition, conditions, export_format)
        stream = open_export(db.engine, definition, export_format, conditions, current_app.config["EXPORT_CHUNK_SIZE"])
    except BaseException:
        slot.release()
        raise
    body = _logged(stream.pieces(), stream, slot, definition, export_format)
    response = Response(body, content_type=export_format.content_type)
    filename = export_format.filename(definition, dt.datetime.now(dt.UTC))
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a buffering proxy would defeat the streaming
    response.call_on_close(stream.close)
    response.call_on_close(slot.release)
    return response


def _check_row_limit(definition: ExportDefinition, conditions: list[Condition], export_format: ExportFormat) -> None:
    """Refuse up front an export larger than ``EXPORT_MAX_ROWS`` or than an Excel sheet holds."""
    limit = row_limit(export_format, current_app.config["EXPORT_MAX_ROWS"])
    if limit is None:
        return
    rows = db.session.scalar(definition.count(conditions)) or 0
    db.session.commit()  # end the read transaction: the stream uses its own connection
    if rows > limit:
        raise ApiError(
            422,
            f"this export has {rows} rows, more than the {limit} allowed for {export_format.name}; narrow the filters"
            + (" or use format=csv" if export_format.max_rows and rows > export_format.max_rows else ""),
            "export_too_large",
            rows=rows,
            limit=limit,
        )


def _logged(
    body: Iterator[bytes],
    stream: ExportStream,
    slot: Slot,
    definition: ExportDefinition,
    export_format: ExportFormat,
) -> Iterator[bytes]:
    """Pass ``body`` through; when it ends, free the slot at once, log and count (``/metrics``) rows, bytes, seconds.

    The response's close callback frees the slot too (it is idempotent): that one also covers a body
    that never started, this one does not wait for the server to close the response.
    """
    started = time.perf_counter()
    sent = 0
    finished = False
    try:
        for piece in body:
            sent += len(piece)
            yield piece
        finished = True
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
        stream.close()
        slot.release()
        seconds = time.perf_counter() - started
        record_export(export_format.name, "streamed", stream.rows_read, sent, seconds, finished)
        log.info(
            "export %s",
            "finished" if finished else "aborted",
            extra={
                "export": definition.name,
                "format": export_format.name,
                "rows": stream.rows_read,
                "bytes": sent,
                "seconds": round(seconds, 3),
            },
        )
