"""Uploads: streamed document upload/download with dedupe, storage backends, and the OT spreadsheet import."""

from flask import Blueprint

bp = Blueprint("uploads", __name__, url_prefix="/api")

from app.uploads import routes  # noqa: E402,F401  (routes attach themselves to bp)
