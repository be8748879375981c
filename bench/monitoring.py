"""Memory of the whole gunicorn tree per worker setup, and the per-request cost of the memory sampler.

Part 1, process-tree PSS (one run, same app ``wsgi:app``, same database): each setup is a real
gunicorn started from backend/ with only GUNICORN_* variables changed:

  5 sync workers                    the old setting (no preload)
  2 gevent workers                  the old system's recommended setup (no preload)
  2 gevent + preload                preload alone (copy-on-write, but the workers' GC un-shares pages)
  2 gevent + preload + gc.freeze    our default
  ... , Flask-Migrate imported      our default before the served app skipped Flask-Migrate/Alembic

  ... , MALLOC_ARENA_MAX=2           glibc's arena cap, measured rather than assumed
  ... , psycopg imported per worker  our default before the master imported psycopg 3 (app/preload.py)
  ... , templates, catalogs and      our default before the master compiled the templates, loaded the
        unknown-account hash per     catalogs and computed the unknown-account hash (prepare_pages)
        worker
  ... , dev venv                     our default served from the dev venv (matplotlib's numpy, Pillow,
                                     fontTools, which openpyxl and pypdf import when present)

"Idle" is read once every worker has logged "Worker ready" and a second has passed; "warmed" after
``--warm-requests`` calls from 4 clients: list/detail/readiness calls, and among them CSV and XLSX
exports and PDF uploads, so every worker has run the ORM, the serializers, a DB connection, the export
writers (psycopg 3's COPY on PostgreSQL) and the upload path, importing whatever they import on first
use (the figures plateau after a few hundred requests). Each figure is the median of 3 readings of the
summed RSS, PSS and USS of master + workers (``smaps_rollup``). PSS is the one that adds up to what
the container is charged. Target (issue 14): 2 gevent + preload + gc.freeze <= 95 MB PSS warmed.

The servers run from ``--server-python`` (default: the runtime-only venv ``make bench-monitoring``
builds under bench/out/ from backend/requirements.txt, which is what Railway installs): the dev venv
adds packages that change what the app imports.

Where a warmed worker's private pages come from (needs root for /proc/<pid>/pagemap frame numbers):
each resident page of one worker is compared with the master's page at the same address, as still
shared, copied (written after the fork: with the content unchanged, i.e. a reference count raised
and lowered again, or changed) or new (allocated by the worker).

Part 2, sampler overhead: a WSGI call loop (no HTTP) on a minimal Flask app without monitoring and
on the same app with the sampler at MEMORY_SAMPLE_RATE 0, 0.01 and 1.0, timed back to back in
rounds (CPU time); the overhead is the median per-round difference to the no-monitoring app. Sample
records go through the real JSON formatter into /dev/null. A "statm read only" variant shows the floor
set by reading RSS on every request. Target: overhead <= 1% of a 2 ms request (20 µs).

Database: PostgreSQL ``BENCH_DATABASE_URL`` (default: the local test server when it answers) in
schema ``bench_monitoring``, else SQLite under bench/out/.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests
from common import BACKEND, OUT_DIR, bench_database_url, markdown_table, seeded_database, write_result

from ops.process_memory import PAGE_SIZE as PAGE
from ops.process_memory import StatmReader, full_reading, process_tree
from tests.helpers.servers import run_gunicorn
from values import MB

SCHEMA = "bench_monitoring"
PSS_TARGET_MB = 95
RUNTIME_PYTHON = OUT_DIR / "runtime-venv" / "bin" / "python"
REQUEST_BUDGET_US = 2000  # "a 2 ms request"
OVERHEAD_TARGET_PERCENT = 1.0
WARM_PATHS = (
    "/api/invoices?limit=50",
    "/api/ots?limit=50",
    "/api/invoices?limit=20&needs_review=true",
    "/api/ots/{ot}",
    "/health/ready",
)
# One call in EXPORT_EVERY is an export (CSV and XLSX in turn), one in UPLOAD_EVERY a PDF upload.
EXPORT_PATHS = ("/api/invoices/export?format=csv", "/api/invoices/export?format=xlsx", "/api/ots/export?format=csv")
EXPORT_EVERY = 20
UPLOAD_EVERY = 40
UPLOAD_BYTES = 256 * 1024
# The web blueprint (issue 12): at most this much added to the warmed tree's PSS, in the same run.
WEB_TARGET_MB = 5
WEB_USER, WEB_PASSWORD = "bench-web@nextops.local", "bench web password 1"
WEB_PATHS = (
    "/",
    "/invoices",
    "/invoices?provision_status=pending&q=FE",
    "/invoices/{invoice}",
    "/ots",
    "/ots/{ot}",
    "/clients",
    "/providers",
    "/documents",
    "/imports",
    "/invoices/intake",
    "/operator",
    "/account",
    "/admin/users",
)
# What the web blueprint imports: Babel and Flask-Babel (the account pages use them too, so they come first)
# and app.web itself after the rest of the app, in a fresh interpreter.
IMPORT_COST_SCRIPT = """
import os
from ops.process_memory import full_reading
import flask, jinja2, sqlalchemy, werkzeug
start = full_reading(os.getpid()).uss
import babel, babel.dates, babel.numbers, flask_babel
libraries = full_reading(os.getpid()).uss
import app, app.accounts, app.api, app.exports, app.health, app.imports, app.intake, app.monitoring, app.uploads
rest = full_reading(os.getpid()).uss
import app.web
web = full_reading(os.getpid()).uss
print((libraries - start + web - rest) / 1048576)
"""


@dataclass(frozen=True)
class Setup:
    label: str
    workers: int
    env: dict[str, str]
    with_migrations: bool = False  # serve the app with Flask-Migrate/Alembic imported, as before raw_env
    conf: str | None = None  # a gunicorn config file replacing gunicorn.conf.py (it execs it, then changes a part)
    dev_venv: bool = False  # served by the dev venv's python instead of --server-python
    web: bool = False  # after the API warm-up, also serve the web pages and read the tree again


GUNICORN_CONF = BACKEND / "gunicorn.conf.py"
# gunicorn.conf.py unchanged except that it no longer tells the served app to skip Flask-Migrate.
WITH_MIGRATIONS_CONF = f"exec(open({str(BACKEND / 'gunicorn.conf.py')!r}).read())\nraw_env = []\n"
# gunicorn.conf.py with when_ready preparing only part of what app/preload.py prepares before the fork.
PARTLY_PREPARED_CONF = """exec(open({conf!r}).read())


def when_ready(server):
    if server.cfg.preload_app:
        from app.preload import {function}

        {function}(server.app.wsgi())
    if server.cfg.preload_app and _settings.worker_class == "gevent":
        let_preload_timers_finish()
    if server.cfg.preload_app and _settings.gc_freeze:
        freeze_heap()
"""
# psycopg left to each worker, as before app/preload.py (the pages' first-use costs still prepared).
PSYCOPG_PER_WORKER_CONF = PARTLY_PREPARED_CONF.format(conf=str(GUNICORN_CONF), function="prepare_pages")
# Templates, catalogs and the unknown-account hash left to each worker, as before prepare_pages.
PAGES_PER_WORKER_CONF = PARTLY_PREPARED_CONF.format(conf=str(GUNICORN_CONF), function="prepare_libraries")
DEFAULT_ENV = {"GUNICORN_WORKER_CLASS": "gevent", "GUNICORN_PRELOAD": "true", "GUNICORN_GC_FREEZE": "true"}
DEFAULT_LABEL = "2 gevent + preload + gc.freeze (default)"
PAGES_BEFORE_LABEL = "2 gevent + preload + gc.freeze, templates, catalogs and unknown-account hash per worker (before)"


SETUPS = (
    Setup("5 sync workers (old)", 5, {"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_PRELOAD": "false"}),
    Setup("2 gevent workers", 2, {"GUNICORN_WORKER_CLASS": "gevent", "GUNICORN_PRELOAD": "false"}),
    Setup(
        "2 gevent + preload",
        2,
        {"GUNICORN_WORKER_CLASS": "gevent", "GUNICORN_PRELOAD": "true", "GUNICORN_GC_FREEZE": "false"},
    ),
    Setup(
        "2 gevent + preload + gc.freeze, Flask-Migrate imported",
        2,
        {"GUNICORN_WORKER_CLASS": "gevent", "GUNICORN_PRELOAD": "true", "GUNICORN_GC_FREEZE": "true"},
        with_migrations=True,
    ),
    Setup(
        "2 gevent + preload + gc.freeze, psycopg imported in each worker (before)",
        2,
        DEFAULT_ENV,
        conf=PSYCOPG_PER_WORKER_CONF,
    ),
    Setup(
        PAGES_BEFORE_LABEL,
        2,
        DEFAULT_ENV,
        conf=PAGES_PER_WORKER_CONF,
        web=True,
    ),
    Setup("2 gevent + preload + gc.freeze, dev venv (numpy, Pillow, fontTools present)", 2, DEFAULT_ENV, dev_venv=True),
    Setup("2 gevent + preload + gc.freeze, MALLOC_ARENA_MAX=2", 2, {**DEFAULT_ENV, "MALLOC_ARENA_MAX": "2"}),
    Setup(DEFAULT_LABEL, 2, DEFAULT_ENV, web=True),
)


# ---------------------------------------------------------------- database


def prepare_database(url: str) -> tuple[str, list[int], list[int]]:
    """A small seeded dataset (``common.seeded_database``, reused), an admin token, an admin account for the
    web pages, and some OT and invoice ids."""
    from sqlalchemy import create_engine, text

    token = seeded_database(url, 2000, "bench-monitoring")
    web_account(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        ot_ids = list(conn.scalars(text("SELECT id FROM ots ORDER BY id LIMIT 50")))
        invoice_ids = list(conn.scalars(text("SELECT id FROM invoices ORDER BY id LIMIT 50")))
    engine.dispose()
    return token, ot_ids, invoice_ids


def web_account(url: str) -> None:
    """The admin the web warm-up signs in as, created once and its password reset on every run."""
    from app import create_app
    from app.accounts.users import create_user, find_user, set_password
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        user = find_user(WEB_USER)
        if user is None:
            create_user(WEB_USER, "Bench web", "admin", WEB_PASSWORD)
        else:
            set_password(user, WEB_PASSWORD)
            db.session.commit()
        db.engine.dispose()


# ---------------------------------------------------------------- part 1: process tree


def tree_reading(master: int) -> tuple[float, float, float, int]:
    """Summed RSS, PSS, USS (MB) of master + workers, and the number of processes read."""
    readings = [full_reading(pid) for pid in process_tree(master)]
    return (
        sum(r.rss for r in readings) / MB,
        sum(r.pss or 0 for r in readings) / MB,
        sum(r.uss or 0 for r in readings) / MB,
        len(readings),
    )


def median_reading(master: int, expected: int) -> tuple[float, float, float]:
    readings = []
    for _ in range(3):
        rss, pss, uss, count = tree_reading(master)
        if count != expected:
            raise RuntimeError(f"expected {expected} processes in the tree, found {count}")
        readings.append((rss, pss, uss))
        time.sleep(0.5)
    return tuple(statistics.median(values) for values in zip(*readings, strict=True))  # type: ignore[return-value]


def wait_until_ready(server, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while server.log_text().count('"Worker ready') < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers not ready after {timeout}s:\n{server.log_text()[-3000:]}")
        time.sleep(0.2)


def warm_up(server, token: str, ot_ids: list[int], total: int) -> int:
    """``total`` requests from 4 clients over keep-alive sessions, exports and uploads among them; return
    how many failed."""
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(11)
    calls = []
    for number in range(total):
        if number % UPLOAD_EVERY == UPLOAD_EVERY - 1:
            calls.append(("upload", f"/api/uploads?filename=warm-{number}.pdf"))
        elif number % EXPORT_EVERY == EXPORT_EVERY - 1:
            calls.append(("export", EXPORT_PATHS[(number // EXPORT_EVERY) % len(EXPORT_PATHS)]))
        else:
            calls.append(("get", rng.choice(WARM_PATHS).format(ot=rng.choice(ot_ids))))

    def call(session: requests.Session, kind: str, path: str) -> bool:
        if kind == "upload":
            body = b"%PDF-1.7\n" + os.urandom(UPLOAD_BYTES)  # new bytes every time: stored, not a duplicate
            answer = session.post(
                server.url(path), data=body, headers={**headers, "Content-Type": "application/pdf"}, timeout=60
            )
            return answer.status_code in (200, 201)
        answer = session.get(server.url(path), headers=headers, timeout=60)
        return answer.status_code == 200 and len(answer.content) > 0

    def client(batch: list[tuple[str, str]]) -> int:
        with requests.Session() as session:
            return sum(not call(session, kind, path) for kind, path in batch)

    with ThreadPoolExecutor(4) as pool:
        return sum(pool.map(client, [calls[i::4] for i in range(4)]))


def web_warm_up(server, ot_ids: list[int], invoice_ids: list[int], total: int) -> int:
    """``total`` page views from 4 signed-in browsers-to-be (Spanish and English in turn); how many failed."""
    rng = random.Random(12)
    views = [
        (rng.choice(WEB_PATHS).format(ot=rng.choice(ot_ids), invoice=rng.choice(invoice_ids)), ("es", "en")[n % 2])
        for n in range(total)
    ]

    def browser(batch: list[tuple[str, str]]) -> int:
        with requests.Session() as session:
            form = session.get(server.url("/login"), timeout=60).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            data = {"email": WEB_USER, "password": WEB_PASSWORD, "csrf_token": token.group(1) if token else ""}
            if session.post(server.url("/login"), data=data, timeout=60).status_code != 200:
                return len(batch)
            failed = 0
            for path, language in batch:
                answer = session.get(server.url(path), headers={"Accept-Language": language}, timeout=60)
                failed += answer.status_code != 200 or b"</html>" not in answer.content
            return failed

    with ThreadPoolExecutor(4) as pool:
        return sum(pool.map(browser, [views[i::4] for i in range(4)]))


def web_import_cost(python: str) -> float:
    """USS (MB) that importing the web blueprint adds to a process that already has the rest of the app."""
    env = {**os.environ, "PYTHONPATH": str(BACKEND)}
    answer = subprocess.run(
        [python, "-c", IMPORT_COST_SCRIPT], cwd=BACKEND, env=env, capture_output=True, text=True, check=True
    )
    return float(answer.stdout.strip().splitlines()[-1])


def measure_setup(
    setup: Setup, url: str, token: str, ids: tuple[list[int], list[int]], warm_requests: int, python: str
) -> dict[str, object]:
    ot_ids, invoice_ids = ids
    env = {
        "DATABASE_URL": url,
        "LOG_LEVEL": "INFO",
        "GUNICORN_WORKERS": str(setup.workers),
        "GUNICORN_MAX_WORKER_MEMORY_MB": "0",  # nothing may replace a worker during the measurement
        "GUNICORN_MAX_REQUESTS": "0",
        "STORAGE_DIR": str(OUT_DIR / "monitoring-storage"),
        **setup.env,
    }
    with tempfile.TemporaryDirectory() as tmp:
        extra_args: tuple[str, ...] = ()
        conf_text = WITH_MIGRATIONS_CONF if setup.with_migrations else setup.conf
        if conf_text:
            conf = Path(tmp) / "variant.conf.py"
            conf.write_text(conf_text)
            extra_args = ("-c", str(conf))
        server_python = sys.executable if setup.dev_venv else python
        log = Path(tmp) / "gunicorn.log"
        with run_gunicorn(env, log, extra_args, startup_timeout=90, python=server_python) as server:
            wait_until_ready(server, setup.workers)
            time.sleep(1)
            idle = median_reading(server.pid, setup.workers + 1)
            failed = warm_up(server, token, ot_ids, warm_requests)
            time.sleep(1)
            warm = median_reading(server.pid, setup.workers + 1)
            master_pss = full_reading(server.pid).pss or 0
            pages = worker_pages(server.pid) if setup.label == DEFAULT_LABEL else None
            web = None
            if setup.web:  # then the pages, in the same tree: what serving them adds
                failed += web_warm_up(server, ot_ids, invoice_ids, warm_requests // 2)
                time.sleep(1)
                web = median_reading(server.pid, setup.workers + 1)
    return {
        "setup": setup,
        "idle": idle,
        "warm": warm,
        "master_pss": master_pss / MB,
        "failed": failed,
        "pages": pages,
        "web": web,
    }


# ---------------------------------------------------------------- where a worker's private pages come from


def _resident_frames(pid: int) -> dict[int, tuple[int, str]]:
    """``{address: (page frame number, mapping kind)}`` of every resident page of ``pid`` (root only)."""
    frames: dict[int, tuple[int, str]] = {}
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            fields = line.split()
            start, end = (int(value, 16) for value in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            kind = "Python heap (malloc, pymalloc arenas)" if name in ("", "[heap]") else "files (libraries, code)"
            if name in ("[vsyscall]", "[vvar]", "[vdso]"):
                continue
            pagemap.seek(start // PAGE * 8)
            data = pagemap.read((end - start) // PAGE * 8)
            for index, (entry,) in enumerate(struct.iter_unpack("Q", data)):
                if entry >> 63:  # present
                    frames[start + index * PAGE] = (entry & ((1 << 55) - 1), kind)
    return frames


def worker_pages(master: int) -> dict[str, dict[str, int]] | None:
    """For one warmed worker: pages still shared with the master, copied after the fork (content the
    same as the master's, or changed), or new; by mapping kind. None without root (frame numbers read 0)."""
    worker = min(pid for pid in process_tree(master) if pid != master)
    try:
        ours, theirs = _resident_frames(master), _resident_frames(worker)
    except OSError:
        return None
    if not any(frame for frame, _ in theirs.values()):
        return None
    counts: dict[str, dict[str, int]] = {}
    with open(f"/proc/{master}/mem", "rb") as master_mem, open(f"/proc/{worker}/mem", "rb") as worker_mem:
        for address, (frame, kind) in theirs.items():
            inherited = ours.get(address)
            if inherited is None:
                state = "new (allocated by the worker)"
            elif inherited[0] == frame:
                state = "shared with the master"
            else:
                master_mem.seek(address)
                worker_mem.seek(address)
                same = master_mem.read(PAGE) == worker_mem.read(PAGE)
                state = "copied, content unchanged" if same else "copied, content changed"
            row = counts.setdefault(kind, {})
            row[state] = row.get(state, 0) + 1
    return counts


PAGE_STATES = (
    "shared with the master",
    "copied, content unchanged",
    "copied, content changed",
    "new (allocated by the worker)",
)


def pages_table(pages: dict[str, dict[str, int]]) -> str:
    rows = [
        [kind, *(f"{row.get(state, 0) * PAGE / MB:.1f}" for state in PAGE_STATES)]
        for kind, row in sorted(pages.items())
    ]
    return markdown_table(["resident pages of one warmed worker, MB", *PAGE_STATES], rows)


def tree_table(results: list[dict[str, object]]) -> str:
    headers = [
        "setup",
        "idle Σ RSS",
        "idle Σ PSS",
        "idle Σ USS",
        "warm Σ RSS",
        "warm Σ PSS",
        "warm Σ USS",
        "master PSS",
    ]
    rows = [
        [
            r["setup"].label,  # type: ignore[attr-defined]
            *(f"{value:.1f}" for value in r["idle"]),  # type: ignore[attr-defined]
            *(f"{value:.1f}" for value in r["warm"]),  # type: ignore[attr-defined]
            f"{r['master_pss']:.1f}",
        ]
        for r in results
    ]
    return markdown_table(headers, rows)


# ---------------------------------------------------------------- part 2: sampler overhead


def quiet_json_logging() -> None:
    """The app's JSON logging, written to /dev/null: the formatting cost stays, the output does not."""
    from logs import configure_logging

    configure_logging("INFO")
    devnull = open(os.devnull, "w")  # noqa: SIM115  (lives as long as the process)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)


def minimal_app(rate: float | None) -> Callable:
    """A one-route Flask app; with ``rate`` set, the same app plus the memory sampler."""
    from flask import Flask

    from app.monitoring.sampler import MemorySampler

    app = Flask("bench")
    app.add_url_rule("/ping", "ping", lambda: {"status": "ok"})
    if rate is not None:
        app.wsgi_app = MemorySampler(app.wsgi_app, rate, alert_mb=1500, large_request_mb=10, rng=random.Random(3))
    return app


def statm_only_app() -> Callable:
    """The same app with nothing but the per-request statm read: the floor the alert check sets."""
    app = minimal_app(None)
    inner, read = app.wsgi_app, StatmReader().read

    def reading_only(environ: dict, start_response: Callable) -> object:
        body = inner(environ, start_response)
        read()
        return body

    app.wsgi_app = reading_only
    return app


def time_calls(app: Callable, environ: dict, calls: int) -> float:
    """Mean CPU µs per WSGI call, body iterated and closed as a server would.

    CPU time of this process (not wall time) so that other processes on a shared machine do not
    land in one variant's rounds and not in another's.
    """

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        return None

    started = time.process_time()
    for _ in range(calls):
        body = app(dict(environ), start_response)
        for _chunk in body:
            pass
        body.close()
    return (time.process_time() - started) / calls * 1e6


def sampler_overhead(rounds: int, calls: int) -> tuple[str, list[str]]:
    """Each round times every variant back to back; the overhead is the median of the per-round
    differences to the no-monitoring app (paired, so slow phases of the machine cancel out)."""
    from werkzeug.test import EnvironBuilder

    quiet_json_logging()
    environ = EnvironBuilder(path="/ping").get_environ()
    variants = {
        "no monitoring": minimal_app(None),
        "statm read only (no sampler)": statm_only_app(),
        **{f"sampler, rate {r}": minimal_app(r) for r in (0.0, 0.01, 1.0)},
    }
    for app in variants.values():
        time_calls(app, environ, 500)  # warm-up
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, app in variants.items():
            timings[name].append(time_calls(app, environ, calls))
    base = timings["no monitoring"]
    base_median = statistics.median(base)
    rows = [["no monitoring", f"{base_median:.1f}", "", "", ""]]
    verdicts = []
    for name, values in list(timings.items())[1:]:
        overhead = statistics.median(value - reference for value, reference in zip(values, base, strict=True))
        percent = overhead / REQUEST_BUDGET_US * 100
        rows.append(
            [
                name,
                f"{statistics.median(values):.1f}",
                f"{overhead:+.1f}",
                f"{percent:+.2f}%",
                f"{overhead / base_median * 100:+.1f}%",
            ]
        )
        if not name.startswith("sampler"):
            continue
        verdict = "PASS" if percent <= OVERHEAD_TARGET_PERCENT else "MISS"
        verdicts.append(f"- {name}: {overhead:+.1f} µs = {percent:+.2f}% of a 2 ms request (target ≤ 1%) → {verdict}")
    headers = ["app", "median CPU µs/request", "overhead µs", "% of a 2 ms request", "% of this minimal request"]
    return markdown_table(headers, rows), verdicts


def reading_costs(calls: int = 20000) -> str:
    """What one memory reading costs, to show why only statm runs on every request."""
    reader = StatmReader()
    process = psutil.Process()
    pid = os.getpid()
    rows = []
    for label, function, count in (
        ("StatmReader.read() (kept-open /proc/self/statm)", reader.read, calls),
        ("psutil Process.memory_info() (cached Process)", process.memory_info, calls),
        ("full_reading() (smaps_rollup: RSS/PSS/USS)", lambda: full_reading(pid), calls // 20),
    ):
        started = time.perf_counter()
        for _ in range(count):
            function()
        rows.append([label, f"{(time.perf_counter() - started) / count * 1e6:.1f}"])
    rows.append(["(this process's RSS, MB)", f"{reader.read()[0] / MB:.0f}"])
    return markdown_table(["reading", "µs/call"], rows)


# ---------------------------------------------------------------- main


def display_python(path: str) -> str:
    try:
        return str(Path(path).relative_to(Path(__file__).resolve().parents[1]))
    except ValueError:
        return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-requests", type=int, default=1000, help="requests per setup before 'warmed' (1000)")
    parser.add_argument("--rounds", type=int, default=60, help="interleaved rounds for the sampler timing (60)")
    parser.add_argument("--calls", type=int, default=1000, help="WSGI calls per round and variant (1000)")
    parser.add_argument(
        "--server-python",
        default=str(RUNTIME_PYTHON) if RUNTIME_PYTHON.exists() else sys.executable,
        help="the python that runs gunicorn (default: bench/out/runtime-venv, else this one)",
    )
    args = parser.parse_args(argv)

    url = bench_database_url(SCHEMA)
    token, ot_ids, invoice_ids = prepare_database(url)
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    results = []
    for setup in SETUPS:
        print(f"measuring: {setup.label}", flush=True)
        results.append(measure_setup(setup, url, token, (ot_ids, invoice_ids), args.warm_requests, args.server_python))
    ours = results[-1]
    pages = ours["pages"]
    warm_pss = ours["warm"][1]  # type: ignore[index]
    failed = sum(r["failed"] for r in results)  # type: ignore[misc]
    old = results[0]["warm"][1]  # type: ignore[index]
    default = next(r for r in results if r["setup"].label == DEFAULT_LABEL)  # type: ignore[attr-defined]
    web_serving = default["web"][1] - default["warm"][1]  # type: ignore[index]
    web_import = web_import_cost(args.server_python)
    web_total = web_serving + web_import
    before = next(r for r in results if r["setup"].label == PAGES_BEFORE_LABEL)  # type: ignore[attr-defined]
    before_serving = before["web"][1] - before["warm"][1]  # type: ignore[index]

    print("measuring: sampler overhead", flush=True)
    overhead_table, verdicts = sampler_overhead(args.rounds, args.calls)
    costs = reading_costs()

    body = "\n".join(
        [
            f"### Process tree memory, MB (master + workers; {database}; {args.warm_requests} warm-up requests"
            f" with exports and uploads, {failed} failed)",
            "",
            tree_table(results),
            "",
            f"- Target 5 (issue 14): 2 gevent + preload + gc.freeze, warmed: **{warm_pss:.1f} MB PSS** (target ≤"
            f" {PSS_TARGET_MB}) → {'PASS' if warm_pss <= PSS_TARGET_MB else 'MISS'}; the old 5 sync workers:"
            f" {old:.1f} MB ({old / warm_pss:.1f}x ours).",
            f"- Web blueprint (issue 12), default setup: **{web_total:+.1f} MB** (target ≤ {WEB_TARGET_MB}) →"
            f" {'PASS' if web_total <= WEB_TARGET_MB else 'MISS'}: the same warmed tree grew {web_serving:+.1f} MB PSS"
            f" serving {args.warm_requests // 2} page views (signed in, Spanish and English) after its API warm-up,"
            f" and importing Babel, Flask-Babel and `app.web` adds {web_import:.1f} MB USS to a process"
            " (paid once, in the master before the fork, and counted here in full as an upper bound).",
            f"- The same page views on the setup that left templates, catalogs and the unknown-account hash to each"
            f" worker (before): the tree grew {before_serving:+.1f} MB PSS, {before_serving + web_import:+.1f} MB with"
            f" the import cost; its warmed tree before the pages: {before['warm'][1]:.1f} MB PSS"  # type: ignore[index]
            f" (default: {warm_pss:.1f}).",
            f"- Servers run by `{display_python(args.server_python)}`"
            " (except the dev-venv row); load average (1 min) at the end of part 1:"
            f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (PSS does not depend on CPU contention).",
            "- Σ RSS counts every page shared between master and workers once per process; compare setups by PSS.",
            "",
            "### Where a warmed worker's private pages come from (default setup)",
            "",
            pages_table(pages) if pages else "Not measured: reading page frame numbers needs root.",
            "",
            "- *copied, content unchanged*: a page the worker wrote after the fork and that holds the master's"
            " bytes again when read: a reference count raised and lowered (CPython 3.11 writes the count of every"
            " object it touches, frozen or not; gc.freeze only keeps the collector's own writes away)."
            " *changed*: counts left different, objects built or specialised in place, allocator bookkeeping.",
            "- Without preload the master still imports the app's modules (gunicorn.conf.py takes its logging config"
            " and hooks from the app package) but builds no app; the workers inherit those pages and un-share them"
            " at their first full garbage collection, which is why the rows without gc.freeze grow most when warmed.",
            "",
            f"### Memory sampler overhead per request (WSGI call loop, {args.rounds} rounds x {args.calls} calls)",
            "",
            overhead_table,
            "",
            *verdicts,
            "- The 'statm read only' row is the floor the per-request alert check sets (one pread of"
            " /proc/self/statm inside a real request, colder than in the reading-cost loop below); the first row is"
            " what a bare one-route Flask request costs on this machine. Rate 1.0 writes a JSON record per request:"
            " a debugging setting.",
            "",
            "### Cost of one memory reading",
            "",
            costs,
        ]
    )
    write_result("monitoring", "Monitoring: process-tree memory and sampler overhead", "make bench-monitoring", body)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
