"""The memory health report: measure a gunicorn tree, classify it, render it as text or JSON.

One implementation behind three doors: ``python backend/check_memory.py``, ``flask memory-check`` and
``GET /api/monitoring/memory`` (which adds this worker's own figures). Totals and the status use PSS:
summing RSS counts pages shared between the master and its forked workers once per process (far too
high; MEMORY_OPTIMIZATION.md explains), and ranks configurations wrongly.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from config import ConfigError, gunicorn_settings, load_config
from ops.cgroup import CGROUP_ROOT, read_cgroup_memory, recommended_alert_mb
from ops.process_memory import full_reading, process_tree, to_mb

STATUS_MESSAGES = {
    "EXCELLENT": "EXCELLENT - Memory usage is low",
    "GOOD": "GOOD - Memory usage is acceptable",
    "WARNING": "WARNING - Memory usage is high",
    "CRITICAL": "CRITICAL - Memory usage is too high",
    "UNKNOWN": "UNKNOWN - Memory could not be measured",
}
EXIT_CODES = {"EXCELLENT": 0, "GOOD": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
# Settings shown against the recommended value (config.py's defaults are the recommendations).
REPORTED_SETTINGS = {
    "GUNICORN_WORKERS": "workers",
    "GUNICORN_WORKER_CLASS": "worker_class",
    "GUNICORN_WORKER_CONNECTIONS": "worker_connections",
    "GUNICORN_MAX_REQUESTS": "max_requests",
    "GUNICORN_MAX_REQUESTS_JITTER": "max_requests_jitter",
    "GUNICORN_TIMEOUT": "timeout",
    "GUNICORN_PRELOAD": "preload",
    "GUNICORN_GC_FREEZE": "gc_freeze",
    "GUNICORN_MAX_WORKER_MEMORY_MB": "max_worker_memory_mb",
}
CGROUP_PRESSURE_PERCENT = 80


@dataclass(frozen=True)
class Thresholds:
    """Total-PSS limits in MB for each status (500 / 1000 / 1500, as MEMORY_OPTIMIZATION.md sizes them)."""

    excellent_mb: float = 500
    good_mb: float = 1000
    warning_mb: float = 1500

    def classify(self, total_mb: float) -> str:
        if total_mb < self.excellent_mb:
            return "EXCELLENT"
        if total_mb < self.good_mb:
            return "GOOD"
        if total_mb < self.warning_mb:
            return "WARNING"
        return "CRITICAL"


def measure_tree(master_pid: int, root_role: str = "master") -> dict[str, Any]:
    """RSS/PSS/USS of the master and every descendant, plus totals (PSS is the one that adds up).

    ``root_role`` is "standalone" when the app runs outside gunicorn (``flask run``, the test client).
    """
    processes = []
    for pid in process_tree(master_pid):
        try:
            reading = full_reading(pid)
        except psutil.NoSuchProcess:
            continue  # a worker retired between listing and reading
        role = root_role if pid == master_pid else "worker"
        processes.append(
            {
                "pid": pid,
                "role": role,
                "rss_mb": to_mb(reading.rss),
                "pss_mb": to_mb(reading.pss),
                "uss_mb": to_mb(reading.uss),
            }
        )
    totals = {
        key: round(sum(p[key] for p in processes), 1) if all(p[key] is not None for p in processes) else None
        for key in ("rss_mb", "pss_mb", "uss_mb")
    }
    return {"master_pid": master_pid, "workers": len(processes) - 1, "processes": processes, "totals": totals}


def settings_report(env: Mapping[str, str]) -> dict[str, Any]:
    """The GUNICORN_* values ``env`` produces next to the defaults we recommend."""
    try:
        in_effect = gunicorn_settings(env)
    except ConfigError as exc:
        return {"error": str(exc), "settings": []}
    recommended = gunicorn_settings({})
    return {
        "settings": [
            {
                "name": name,
                "value": getattr(in_effect, field),
                "recommended": getattr(recommended, field),
            }
            for name, field in REPORTED_SETTINGS.items()
        ],
        "pidfile": in_effect.pidfile,
    }


def monitoring_thresholds(
    env: Mapping[str, str],
    thresholds: Thresholds,
    app_config: Mapping[str, Any] | None = None,
    cgroup_limit: int | None = None,
) -> dict[str, Any]:
    """Status limits plus the MEMORY_* values the service runs with (its app config when at hand).

    An unset MEMORY_ALERT_MB is reported as the value the service derives from the container's limit.
    """
    result: dict[str, Any] = dataclasses.asdict(thresholds)
    recommended = recommended_alert_mb(cgroup_limit)
    result["recommended_memory_alert_mb"] = recommended
    try:
        config = load_config(env) if app_config is None else app_config
        alert_mb = config["MEMORY_ALERT_MB"]
        result.update(
            memory_alert_mb=recommended if alert_mb is None else alert_mb,
            memory_sample_rate=config["MEMORY_SAMPLE_RATE"],
            memory_large_request_mb=config["MEMORY_LARGE_REQUEST_MB"],
            max_worker_memory_mb=gunicorn_settings(env).max_worker_memory_mb,
        )
    except ConfigError as exc:
        result["error"] = str(exc)
    return result


def build_report(
    master_pid: int,
    env: Mapping[str, str],
    thresholds: Thresholds,
    cgroup_root: Path = CGROUP_ROOT,
    env_source: str = "master process",
    root_role: str = "master",
    app_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Measure the tree rooted at ``master_pid`` and assemble the full report (status included).

    ``env`` is the environment the service runs with (the master's, read from /proc by the CLI);
    ``app_config`` is the running app's config when the report is built inside a worker.
    """
    cgroup = read_cgroup_memory(master_pid, root=cgroup_root)
    report = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "gunicorn": measure_tree(master_pid, root_role),
        "cgroup": cgroup.as_dict() if cgroup else None,
        "settings": {**settings_report(env), "source": env_source},
        "thresholds": monitoring_thresholds(env, thresholds, app_config, cgroup.limit if cgroup else None),
    }
    return classify(report, thresholds)


def classify(report: dict[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    """Set status, exit code and recommendations from the totals (also re-run on a fetched report)."""
    totals = report["gunicorn"]["totals"]
    basis = "pss_mb" if totals.get("pss_mb") is not None else "rss_mb"
    status = thresholds.classify(totals[basis])
    report.update(
        status=status,
        status_basis=basis,
        message=STATUS_MESSAGES[status],
        exit_code=EXIT_CODES[status],
        recommendations=recommendations(report, status, thresholds),
    )
    report["thresholds"].update(dataclasses.asdict(thresholds))
    return report


def unknown_report(reason: str) -> dict[str, Any]:
    """The report when nothing could be measured (exit code 3)."""
    return {"status": "UNKNOWN", "message": STATUS_MESSAGES["UNKNOWN"], "exit_code": 3, "error": reason}


def recommendations(report: dict[str, Any], status: str, thresholds: Thresholds) -> list[str]:
    """Plain-language next steps; an empty list means nothing to do."""
    advice = []
    for setting in report.get("settings", {}).get("settings", []):
        if setting["value"] != setting["recommended"]:
            advice.append(
                f"{setting['name']} is {setting['value']!r}; the recommended value is {setting['recommended']!r}"
            )
    tree = report["gunicorn"]
    if status in ("WARNING", "CRITICAL"):
        advice.append(
            f"Total PSS is above {thresholds.good_mb:g} MB: grep the logs for 'memory sample' and look at the largest"
            " rss_delta_mb, and lower GUNICORN_MAX_WORKER_MEMORY_MB so bloated workers are retired sooner"
        )
    if tree["totals"].get("pss_mb") is None:
        advice.append("PSS is not readable here (no /proc/<pid>/smaps_rollup access): totals fall back to RSS")
    cgroup = report.get("cgroup")
    alert_mb = report["thresholds"].get("memory_alert_mb")
    if cgroup and cgroup.get("usage_percent") and cgroup["usage_percent"] >= CGROUP_PRESSURE_PERCENT:
        advice.append(
            f"The container uses {cgroup['usage_percent']}% of its {cgroup['limit_mb']} MB limit"
            f" (anon {cgroup['anon_mb']} MB, file cache {cgroup['file_mb']} MB)"
        )
    recommended = report["thresholds"].get("recommended_memory_alert_mb")
    if cgroup and cgroup.get("limit_mb") and alert_mb and alert_mb >= cgroup["limit_mb"]:
        advice.append(
            f"MEMORY_ALERT_MB ({alert_mb}) is not below the container limit ({cgroup['limit_mb']} MB):"
            f" the alert can never fire before the OOM kill; unset it (the service then uses {recommended} MB,"
            " 40% of the limit) or set it to that"
        )
    return advice


def render_text(report: dict[str, Any]) -> str:
    """The layout of docs/monitoring.md: Memory Usage, Status, Recommendations (plus processes and cgroup)."""
    if report["status"] == "UNKNOWN":
        return f"NextOps memory check\n\n Status:\n   {report['message']}\n   {report['error']}\n"
    tree = report["gunicorn"]
    totals = tree["totals"]
    lines = [
        f"NextOps memory check - gunicorn master {tree['master_pid']} with {tree['workers']} workers"
        f" ({report.get('source', 'this host')}, {report['measured_at']})",
        "",
        " Processes:",
        f"   {'PID':>8}  {'ROLE':<7} {'RSS MB':>8} {'PSS MB':>8} {'USS MB':>8}",
    ]
    lines += [
        f"   {p['pid']:>8}  {p['role']:<7} {_cell(p['rss_mb'])} {_cell(p['pss_mb'])} {_cell(p['uss_mb'])}"
        for p in tree["processes"]
    ]
    marker = {"pss_mb": "", "rss_mb": ""}
    marker[report["status_basis"]] = "  <- status"
    lines += [
        "",
        " Memory Usage:",
        f"   RSS (Physical):    {_cell(totals['rss_mb'])} MB  (summed: shared pages counted per process)"
        + marker["rss_mb"],
        f"   PSS (Proportional):{_cell(totals['pss_mb'])} MB  (what the container is charged)" + marker["pss_mb"],
        f"   USS (Unique):      {_cell(totals['uss_mb'])} MB  (freed if every process exited)",
        "",
        *_cgroup_lines(report.get("cgroup")),
        "",
        " Gunicorn settings (in effect / recommended):",
        *_settings_lines(report.get("settings", {})),
        "",
        " Status:",
        f"   {report['message']} (total {report['status_basis'].split('_')[0].upper()}"
        f" {totals[report['status_basis']]} MB; limits {_limits(report['thresholds'])})",
        "",
        " Recommendations:",
        *(f"   - {item}" for item in report["recommendations"] or ["No action needed."]),
    ]
    return "\n".join(lines) + "\n"


def _cell(value: float | None) -> str:
    return f"{value:>8.1f}" if value is not None else f"{'n/a':>8}"


def _cgroup_lines(cgroup: dict[str, Any] | None) -> list[str]:
    if not cgroup:
        return [" Container (cgroup):", "   not visible from here"]
    limit = f"{cgroup['limit_mb']} MB" if cgroup["limit_mb"] else "no limit"
    percent = f" ({cgroup['usage_percent']}%)" if cgroup["usage_percent"] is not None else ""
    return [
        f" Container (cgroup v{cgroup['version']} {cgroup['path']}):",
        f"   Usage:             {_cell(cgroup['usage_mb'])} MB of {limit}{percent}",
        f"   Anon / file cache: {_cell(cgroup['anon_mb'])} MB / {cgroup['file_mb']} MB",
    ]


def _settings_lines(settings: dict[str, Any]) -> list[str]:
    if settings.get("error"):
        return [f"   unreadable: {settings['error']}"]
    lines = [
        f"   {item['name']:<31} {item['value']!s:>8} / {item['recommended']!s:<8} "
        + ("ok" if item["value"] == item["recommended"] else "DIFFERS")
        for item in settings.get("settings", [])
    ]
    if settings.get("source"):
        lines.append(f"   (read from the {settings['source']} environment)")
    return lines


def _limits(thresholds: dict[str, Any]) -> str:
    return (
        f"EXCELLENT < {thresholds['excellent_mb']:g}, GOOD < {thresholds['good_mb']:g},"
        f" WARNING < {thresholds['warning_mb']:g} MB"
    )
