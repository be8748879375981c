"""What ``/metrics`` costs each request: the request counter and latency histogram, on against off, same run.

A WSGI call loop (no HTTP), as the memory sampler's row in bench/monitoring.py: a one-route Flask app
behind the memory sampler (``MEMORY_SAMPLE_RATE`` 0.01, the default) with ``METRICS_ENABLED=false``, and
the same with metrics on, which is the sampler recording ``ops.metrics.record_request`` as the served
app does, in prometheus_client's multiprocess mode (values in memory-mapped files in a temporary
``PROMETHEUS_MULTIPROC_DIR``, as under gunicorn). The variants are
timed back to back in rounds (CPU time of this process); the overhead is the median of the per-round
differences. Target: ≤ 1% of a 2 ms request (20 µs).

A second table times one scrape (``generate_latest`` over the directory) with the files of 2 live
workers plus the archives of ``--dead-workers`` recycled ones, folded by ``ops.metrics_files``, and the
same scrape had the dead workers' files been left in place (what prometheus_client does by itself).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import markdown_table, write_result

REQUEST_BUDGET_US = 2000
OVERHEAD_TARGET_PERCENT = 1.0


def apps() -> dict[str, object]:
    import random

    from flask import Flask

    from app.monitoring.sampler import MemorySampler
    from ops.metrics import record_request

    variants = {}
    for name, count in (("metrics off", None), ("metrics on (multiprocess files)", record_request)):
        app = Flask("bench")
        app.add_url_rule("/ping", "ping", lambda: {"status": "ok"})
        app.wsgi_app = MemorySampler(
            app.wsgi_app, 0.01, alert_mb=1500, large_request_mb=10, rng=random.Random(3), count=count
        )
        variants[name] = app
    return variants


def request_overhead(rounds: int, calls: int) -> tuple[str, list[str]]:
    from monitoring import quiet_json_logging, time_calls
    from werkzeug.test import EnvironBuilder

    quiet_json_logging()
    environ = EnvironBuilder(path="/ping").get_environ()
    variants = apps()
    for app in variants.values():
        time_calls(app, environ, 500)  # warm-up: the labelled children are created here
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, app in variants.items():
            timings[name].append(time_calls(app, environ, calls))
    (off_name, off), (on_name, on) = timings.items()
    overhead = statistics.median(value - reference for value, reference in zip(on, off, strict=True))
    percent = overhead / REQUEST_BUDGET_US * 100
    rows = [
        [off_name, f"{statistics.median(off):.1f}", "", ""],
        [on_name, f"{statistics.median(on):.1f}", f"{overhead:+.1f}", f"{percent:+.2f}%"],
    ]
    verdict = "PASS" if percent <= OVERHEAD_TARGET_PERCENT else "MISS"
    lines = [f"- metrics on: {overhead:+.1f} µs = {percent:+.2f}% of a 2 ms request (target ≤ 1%) → {verdict}"]
    headers = ["app", "median CPU µs/request", "overhead µs", "% of a 2 ms request"]
    return markdown_table(headers, rows), lines


def _worker_lifetime(directory: Path, requests_served: int) -> int:
    """Fork a process that serves ``requests_served`` fake requests' worth of metrics and exits; return its PID."""
    from ops import metrics

    pid = os.fork()
    if pid == 0:
        for number in range(requests_served):
            metrics.record_request(f"api.endpoint_{number % 12}", "200" if number % 10 else "404", 0.002)
        metrics.db_connection_checked_out()
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def scrape_cost(dead_workers: int) -> str:
    """One scrape over the live files plus archives, and over the files unmerged recycling would leave."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    from ops.metrics_files import prepare_directory, retire_process, value_files

    rows = []
    for label, merge in (("dead workers folded into the archives", True), ("dead workers' files left", False)):
        directory = prepare_directory(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]) / ("merged" if merge else "left"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
        for _ in range(dead_workers):
            pid = _worker_lifetime(directory, 50)
            if merge:
                retire_process(directory, pid)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(directory))
        started = time.perf_counter()
        for _ in range(5):
            body = generate_latest(registry)
        seconds = (time.perf_counter() - started) / 5
        rows.append([label, str(len(value_files(directory))), f"{seconds * 1000:.1f}", f"{len(body) / 1024:.0f}"])
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory.parent)
    return markdown_table(["directory", "value files", "ms per scrape", "scrape KiB"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60, help="interleaved rounds (60)")
    parser.add_argument("--calls", type=int, default=1000, help="WSGI calls per round and variant (1000)")
    parser.add_argument("--dead-workers", type=int, default=200, help="recycled workers in the scrape table (200)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        # Before anything imports prometheus_client: it picks multiprocess storage once, at its first import.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        table, verdicts = request_overhead(args.rounds, args.calls)
        scrapes = scrape_cost(args.dead_workers)
    body = "\n".join(
        [
            f"### Per-request cost (WSGI call loop, {args.rounds} rounds x {args.calls} calls)",
            "",
            table,
            "",
            *verdicts,
            "- The first row is a one-route Flask request behind the memory sampler on this machine; the difference"
            " is reading the endpoint and one histogram observation (two writes to this process's memory-mapped"
            " file). The 1% sample records go through the app's JSON logging into /dev/null in both rows.",
            "",
            f"### One scrape after {args.dead_workers} recycled workers (50 requests each, 12 endpoints)",
            "",
            scrapes,
        ]
    )
    write_result("metrics", "Metrics: per-request cost and scrape size", "make bench-metrics", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
