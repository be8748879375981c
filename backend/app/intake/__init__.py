"""Supplier invoices in: documents read (DTE JSON, PDF text), matched to an OT, queued for review.

``POST /api/invoices/intake``, ``POST /api/invoices/<id>/assign|unassign`` and the admins'
``/api/extraction-patterns`` (docs/intake.md).
"""

from flask import Blueprint

bp = Blueprint("intake", __name__, url_prefix="/api")

from app.intake import routes  # noqa: E402,F401  (routes attach themselves to bp)
