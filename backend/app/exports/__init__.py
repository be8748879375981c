"""Streamed XLSX/CSV exports of invoices and OTs: ``GET /api/invoices/export``, ``GET /api/ots/export``.

Rows come from a server-side cursor a chunk at a time and leave as bytes while the query is still
being read, so a worker's memory does not depend on how many rows an export has.
"""

from flask import Blueprint

bp = Blueprint("exports", __name__, url_prefix="/api")

from app.exports import job_routes, routes  # noqa: E402,F401  (routes attach themselves to bp)
