"""Imports: OTs created or updated from a spreadsheet (``POST /api/ots/import``, ``flask import ots``)."""

from flask import Blueprint

bp = Blueprint("imports", __name__, url_prefix="/api")

from app.imports import routes  # noqa: E402,F401  (routes attach themselves to bp)
