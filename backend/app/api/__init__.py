"""JSON read API for invoices and OTs (``/api/invoices``, ``/api/ots``)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from app import writes  # noqa: E402,F401  (the write API attaches to the same bp)
from app.api import routes  # noqa: E402,F401  (routes attach themselves to bp)
