"""Health endpoints: ``/health`` for Railway's deploy healthcheck, ``/health/ready`` for the database."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.errors import DATABASE_RETRY_AFTER
from app.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Liveness: no database, no I/O, so a slow DB never makes Railway kill a healthy deploy."""
    return jsonify(status="ok")


@bp.get("/health/ready")
def ready() -> ResponseReturnValue:
    """Readiness: one round trip to the database."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
    except SQLAlchemyError as exc:
        log.warning("readiness check failed: %s", exc)
        db.session.rollback()
        error = {"code": "database_unavailable", "message": f"the database does not answer ({type(exc).__name__})"}
        response = jsonify(status="unavailable", database="error", error=error)
        return response, 503, {"Retry-After": str(DATABASE_RETRY_AFTER)}
    return jsonify(status="ok", database="ok")
