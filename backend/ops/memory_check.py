"""The memory check's command line: one parser, one report, for ``check_memory.py`` and ``flask memory-check``.

Locally it measures the gunicorn tree on this host (found by pidfile or process scan), never itself.
With ``--url`` it reads a deployed instance's ``/api/monitoring/memory`` endpoint: the right way to
check Railway, since ``railway run`` runs the command on the operator's machine with the service's
variables.

Exit codes (docs/failure-modes.md): 0 excellent/good, 1 warning, 2 critical, 3 could not measure,
64 usage error (EX_USAGE from sysexits.h: a bad option, or ``--pid`` of a worker). argparse's own 2
for usage errors would read as CRITICAL to a monitor, so the parser exits 64 instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from ops.cgroup import CGROUP_ROOT
from ops.gunicorn_master import MasterNotFound, NotAMaster, find_master, process_environment
from ops.memory_report import Thresholds, build_report, classify, render_text, unknown_report

ENDPOINT = "/api/monitoring/memory"
EX_USAGE = 64
EXIT_CODES = "Exit codes: 0 excellent/good, 1 warning, 2 critical, 3 could not measure, 64 usage error."


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error, which is CRITICAL here: exit 64 (EX_USAGE) instead."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


def build_parser(prog: str = "check_memory.py") -> argparse.ArgumentParser:
    defaults = Thresholds()
    parser = _Parser(
        prog=prog,
        description="Memory health of the NextOps gunicorn tree (PSS totals, cgroup, settings).",
        epilog=EXIT_CODES,
    )
    target = parser.add_argument_group("target (default: the gunicorn master on this host)")
    target.add_argument("--pid", type=int, help="PID of the gunicorn master to measure")
    target.add_argument(
        "--pidfile", help="gunicorn pidfile (default: GUNICORN_PIDFILE or <tmp>/nextops-gunicorn-<port>.pid)"
    )
    target.add_argument("--url", help="base URL of a deployed instance, e.g. https://nextops.up.railway.app")
    target.add_argument("--token", help="admin API token for --url")
    target.add_argument("--timeout", type=float, default=15, help="seconds to wait for --url (default 15)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--excellent-mb", type=float, default=defaults.excellent_mb, help="EXCELLENT below this total PSS"
    )
    parser.add_argument("--good-mb", type=float, default=defaults.good_mb, help="GOOD below this total PSS")
    parser.add_argument(
        "--warning-mb", type=float, default=defaults.warning_mb, help="WARNING below this, else CRITICAL"
    )
    parser.add_argument("--cgroup-root", type=Path, default=CGROUP_ROOT, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "check_memory.py") -> int:
    """Run the check, print the report, return the exit code."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not args.excellent_mb <= args.good_mb <= args.warning_mb:
        parser.error("thresholds must satisfy --excellent-mb <= --good-mb <= --warning-mb")
    thresholds = Thresholds(args.excellent_mb, args.good_mb, args.warning_mb)
    if args.url:
        report = _remote_report(args.url, args.token, args.timeout, thresholds)
    else:
        try:
            report = _local_report(args, thresholds)
        except NotAMaster as exc:
            parser.error(str(exc))
    print(json.dumps(report, indent=2) if args.json else render_text(report), end="\n" if args.json else "")
    return report["exit_code"]


def _local_report(args: argparse.Namespace, thresholds: Thresholds) -> dict[str, Any]:
    try:
        lookup = find_master(pid=args.pid, pidfile=args.pidfile)
    except MasterNotFound as exc:
        return unknown_report(str(exc))
    env = process_environment(lookup.pid)
    source = "master process"
    if env is None:
        env, source = dict(os.environ), "checking process (the master's was unreadable)"
    try:
        report = build_report(lookup.pid, env, thresholds, cgroup_root=args.cgroup_root, env_source=source)
    except psutil.Error as exc:
        return unknown_report(f"gunicorn master {lookup.pid} could not be measured: {exc}")
    report["source"] = f"this host, master found by {lookup.found_by}"
    return report


def _remote_report(url: str, token: str | None, timeout: float, thresholds: Thresholds) -> dict[str, Any]:
    if not token:
        return unknown_report("--url needs --token (an admin API token)")
    if not url.startswith(("http://", "https://")):
        return unknown_report(f"--url must start with http:// or https://, got {url!r}")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    request = urllib.request.Request(url.rstrip("/") + ENDPOINT, headers=headers)  # noqa: S310  (scheme checked)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            report = json.load(response)
    except urllib.error.HTTPError as exc:
        return unknown_report(f"{url}{ENDPOINT} answered HTTP {exc.code}: {exc.read(500).decode(errors='replace')}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return unknown_report(f"{url}{ENDPOINT} could not be read: {exc}")
    report = classify(report, thresholds)  # this command's thresholds decide, not the server's
    report["source"] = f"deployed instance {url}"
    return report
