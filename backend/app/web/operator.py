"""``/operator`` (admin): the live memory chart, the worker table, the memory check's status and advice, retirements.

The page is rendered from the same report as ``GET /api/monitoring/memory``
(:func:`app.monitoring.routes.memory_report`, itself :mod:`ops.memory_report`), so it reads
without JavaScript; ``static/js/operator.js`` then polls that endpoint every ~2 s and draws the chart.
"""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.monitoring.routes import memory_report
from app.web import bp
from app.web.guard import page_role


def _messages() -> dict[str, object]:
    return {
        "chart": {
            "total": _("Total PSS"),
            "cgroup": _("Container (cgroup) usage"),
            "limit": _("cgroup limit"),
            "alert": _("Alert"),
            "retire": _("Worker retirement"),
            "master": _("Master"),
            "worker": _("Worker"),
            "standalone": _("Process"),
        },
        "statuses": _statuses(),
        "reasons": _reasons(),
        "no_recommendations": _("Nothing to do."),
        "no_limit": _("no limit"),
        "no_cgroup": _("not in a cgroup"),
    }


def _statuses() -> dict[str, str]:
    return {
        "EXCELLENT": _("EXCELLENT: memory use is low"),
        "GOOD": _("GOOD: memory use is acceptable"),
        "WARNING": _("WARNING: memory use is high"),
        "CRITICAL": _("CRITICAL: memory use is too high"),
        "UNKNOWN": _("UNKNOWN: memory could not be measured"),
    }


def _reasons() -> dict[str, str]:
    return {"max_requests": _("reached its request limit"), "memory": _("over the memory limit")}


@bp.get("/operator")
@page_role("admin")
def operator() -> ResponseReturnValue:
    return render_template(
        "web/operator.html",
        report=memory_report(),
        statuses=_statuses(),
        reasons=_reasons(),
        messages=_messages(),
    )
