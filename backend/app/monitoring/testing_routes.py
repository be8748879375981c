"""Test-only routes, registered only when ``NEXTOPS_ENABLE_TEST_ROUTES`` is true (and admin-only even then).

- ``POST /api/monitoring/test/leak?mb=N`` keeps N MiB alive for the worker's lifetime, so the
  recycling test can push a worker over ``GUNICORN_MAX_WORKER_MEMORY_MB``.
- ``GET /api/monitoring/test/slow-query?seconds=S`` runs ``SELECT pg_sleep(S)`` so the gevent test
  can show two slow queries overlapping in one worker while ``/health`` still answers.
"""

from __future__ import annotations

import os
import time

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from app.auth import require_role
from app.errors import ApiError, BadParameter
from app.extensions import db

bp = Blueprint("monitoring_testing", __name__, url_prefix="/api/monitoring/test")
MAX_LEAK_MB = 64
MAX_SLEEP_SECONDS = 10


def _number(name: str, default: float, high: float) -> float:
    raw = request.args.get(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise BadParameter(name, f"must be a number, got {raw!r}") from None
    if not 0 < value <= high:
        raise BadParameter(name, f"must be between 0 and {high}")
    return value


@bp.post("/leak")
@require_role("admin")
def leak() -> ResponseReturnValue:
    """Allocate and keep ``mb`` MiB of written (resident) memory in this worker."""
    size = int(_number("mb", 4, MAX_LEAK_MB) * 1024 * 1024)
    kept = current_app.extensions.setdefault("monitoring_test_leak", [])
    kept.append(b"\x01" * size)  # written bytes: a calloc'd bytes(size) would not count in RSS
    return jsonify(pid=os.getpid(), leaked_mb=round(sum(map(len, kept)) / 1024 / 1024, 1))


@bp.get("/slow-query")
@require_role("admin")
def slow_query() -> ResponseReturnValue:
    """Hold one PostgreSQL round trip for ``seconds``; report when it ran, in this worker's clock."""
    if db.engine.dialect.name != "postgresql":
        raise ApiError(400, "slow-query needs PostgreSQL (pg_sleep)", "unsupported_database")
    seconds = _number("seconds", 1, MAX_SLEEP_SECONDS)
    started = time.time()
    db.session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
    db.session.commit()
    return jsonify(pid=os.getpid(), started=started, finished=time.time())
