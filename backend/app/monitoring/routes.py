"""``GET /api/monitoring/memory`` (admin): this worker, the whole gunicorn tree, the container.

This is how a deployed instance is checked from outside (``check_memory.py --url``): the request
lands in a worker, which measures its master (its parent) and siblings with PSS.
"""

from __future__ import annotations

import os
import time
from typing import Any

import psutil
from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.auth import require_role
from app.monitoring.sampler import EXTENSION_KEY
from ops.memory_report import Thresholds, build_report
from ops.retirements import recent_retirements, retirements_path
from values import MB

bp = Blueprint("monitoring", __name__, url_prefix="/api/monitoring")


def _under_gunicorn() -> bool:
    return str(request.environ.get("SERVER_SOFTWARE", "")).startswith("gunicorn")


@bp.get("/memory")
@require_role("admin")
def memory() -> ResponseReturnValue:
    """The health report for the tree serving this request, plus this worker's own figures."""
    return jsonify(memory_report())


def memory_report() -> dict[str, Any]:
    """The report of ``GET /api/monitoring/memory``; the operator page renders the same one."""
    under_gunicorn = _under_gunicorn()
    root = os.getppid() if under_gunicorn else os.getpid()
    report = build_report(
        root,
        os.environ,
        Thresholds(),
        env_source="worker process",
        root_role="master" if under_gunicorn else "standalone",
        app_config=current_app.config,
    )
    sampler = current_app.extensions[EXTENSION_KEY]
    rss, vms = sampler.read()
    report["worker"] = {
        "pid": os.getpid(),
        "rss_mb": round(rss / MB, 1),
        "vms_mb": round(vms / MB, 1),
        "requests_served": sampler.requests_served,
        "uptime_s": round(time.time() - psutil.Process().create_time(), 1),
        "under_gunicorn": under_gunicorn,
    }
    report["retirements"] = recent_retirements(retirements_path(current_app.config["STORAGE_DIR"]))
    return report
