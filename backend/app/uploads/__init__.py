"""Uploads: documents streamed in and out, deduplicated by sha256, on local or S3 storage."""

from flask import Blueprint

bp = Blueprint("uploads", __name__, url_prefix="/api")

from app.uploads import routes  # noqa: E402,F401  (routes attach themselves to bp)
