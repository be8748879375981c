"""Before/after under load: the same mixed workload against the OLD setup and ours, in one run.

Setups (each a real gunicorn on 127.0.0.1, started from backend/, stopped by PID):
  before  5 sync workers, no preload, no recycling, ``bench/baseline_app.py`` (in-memory export,
          whole-file upload): what the system did before the optimizations.
  after   ``gunicorn wsgi:app`` with gunicorn.conf.py defaults (2 gevent workers, preload, recycling)
          and our streaming export/upload routes.

Workload (closed loop, every client repeats its action until ``--duration`` ends, then in-flight
requests finish): of ``--clients`` N, N//10 (at least 1) each run XLSX exports, CSV exports and
20 MB uploads; the rest make small list calls (``/api/invoices``/``/api/ots``, 20-50 rows). Exports
are unfiltered over the ``--rows`` (default 100,000) seeded invoices and are checked (CSV line count,
XLSX zip signatures), so a truncated stream counts as an error.

Measured: the whole gunicorn process tree (master + workers) sampled every ``--interval`` seconds
with ``full_reading`` (smaps_rollup): peak of the summed PSS and of the summed RSS, plus the idle
figures before load; requests/s; p50/p99 of the list calls; per-kind outcomes. The samples themselves
(seconds since the load started, summed PSS and RSS) go to bench/results/load.json for the
memory-over-time picture (bench/plots.py). 429/503 answers with Retry-After count as "throttled" (a
designed limit, honoured by the client), anything else that is not 2xx, a timeout or a broken stream
counts as an error.

Database: PostgreSQL ``BENCH_DATABASE_URL`` (default: the local test server, when it answers) in
its own schema ``bench_load``, seeded once and reused; otherwise SQLite under bench/out/.

Exit status: 1 when an export/upload endpoint is missing (404/405 on the probe) or when our setup had
errors; the table is written either way, so a missing endpoint shows up as an error count, never as
a number that was not measured.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
from common import OUT_DIR, RESULTS_DIR, ROOT, bench_database_url, markdown_table, seeded_database, write_result

from ops.process_memory import full_reading, process_tree
from tests.helpers.servers import run_gunicorn
from values import MB

BENCH_DIR = ROOT / "bench"
SCHEMA = "bench_load"
UPLOAD_MB = 20
REQUEST_TIMEOUT = (10, 600)  # connect, read: an old-style export may take minutes under load
LIST_PATHS = (
    "/api/invoices?limit=50",
    "/api/ots?limit=50",
    "/api/invoices?limit=20&cost_type=ADUANA",
    "/api/invoices?limit=20&needs_review=true",
)
KINDS = ("list", "export_csv", "export_xlsx", "upload")
LIST_P99_TARGET_MS = 200


# ---------------------------------------------------------------- servers


@dataclass(frozen=True)
class Setup:
    key: str
    label: str
    app: str
    env: dict[str, str]
    backend: Path | None = None  # another checkout's backend/ (the same-run "today" baseline)


SETUPS = (
    Setup(
        "before",
        "before: 5 sync workers, in-memory export, whole-file upload",
        "baseline_app:create_baseline_app()",
        {
            "GUNICORN_WORKER_CLASS": "sync",
            "GUNICORN_WORKERS": "5",
            "GUNICORN_PRELOAD": "false",
            "GUNICORN_MAX_REQUESTS": "0",
            "GUNICORN_MAX_REQUESTS_JITTER": "0",
            "GUNICORN_MAX_WORKER_MEMORY_MB": "0",  # memory-based retirement is one of the new optimizations
            "PYTHONPATH": str(BENCH_DIR),
        },
    ),
    Setup("after", "after: gunicorn.conf.py defaults (2 gevent workers, preload), streaming routes", "wsgi:app", {}),
)


# ---------------------------------------------------------------- memory


@dataclass(frozen=True, slots=True)
class TreeSample:
    """One reading of the whole tree; ``seconds`` counts from the start of the load."""

    seconds: float
    rss: int
    pss: int
    processes: int


MAX_SERIES = 2000  # points kept per setup: at 0.2 s that is the first 400 s unthinned


class PeakSeries:
    """Memory samples over time in at most ``limit`` points, whatever the run's length.

    A long run (or a short ``--interval``) would otherwise grow the list, and load.json, without
    bound. When the list is full, neighbouring pairs are merged and each point then stands for twice
    as many readings. A merged point keeps its reading with the higher PSS, so the picture's curve
    still reaches the peak that the table reports.
    """

    def __init__(self, limit: int = MAX_SERIES) -> None:
        self.limit = max(2, limit)
        self.points: list[TreeSample] = []
        self._per_point = 1
        self._pending: TreeSample | None = None
        self._pending_count = 0

    def add(self, sample: TreeSample) -> None:
        if self._pending is None or sample.pss > self._pending.pss:
            self._pending = sample
        self._pending_count += 1
        if self._pending_count == self._per_point:
            self._append(self._pending)

    def close(self) -> None:
        """Keep a partly filled last point (the readings after the last full one)."""
        if self._pending is not None:
            self._append(self._pending)

    def _append(self, point: TreeSample) -> None:
        self.points.append(point)
        self._pending, self._pending_count = None, 0
        if len(self.points) >= self.limit:
            pairs = zip(self.points[0::2], self.points[1::2], strict=False)
            merged = [max(pair, key=lambda point: point.pss) for pair in pairs]
            if len(self.points) % 2:
                merged.append(self.points[-1])
            self.points = merged
            self._per_point *= 2


class TreeMemorySampler:
    """Sums RSS and PSS over a process tree every ``interval`` s in a thread; keeps the peaks and the series.

    PSS comes from smaps_rollup (~1 ms per process, more for big ones), so the interval stays >= 0.1 s.
    The series' clock starts when the ``with`` block is entered, right before the clients start.
    """

    def __init__(self, root_pid: int, interval: float, limit: int = MAX_SERIES) -> None:
        self.root_pid = root_pid
        self.interval = max(0.1, interval)
        self.peak_rss = self.peak_pss = 0
        self.max_processes = 0
        self.samples = 0
        self.series = PeakSeries(limit)
        self.started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def read(self) -> tuple[int, int, int]:
        """(summed RSS, summed PSS, process count) right now."""
        rss = pss = count = 0
        for pid in process_tree(self.root_pid):
            try:
                reading = full_reading(pid)
            except (psutil.NoSuchProcess, ProcessLookupError):
                continue  # a worker recycled between listing and reading
            rss += reading.rss
            pss += reading.pss or 0
            count += 1
        return rss, pss, count

    def _run(self) -> None:
        while not self._stop.is_set():
            seconds = time.monotonic() - self.started
            try:
                rss, pss, count = self.read()
            except psutil.NoSuchProcess:
                break
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.max_processes = max(self.max_processes, count)
            self.samples += 1
            self.series.add(TreeSample(seconds, rss, pss, count))
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemorySampler:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.series.close()


# ---------------------------------------------------------------- clients


@dataclass
class Outcome:
    kind: str
    seconds: float
    status: str  # "ok" | "throttled" | "error"
    detail: str = ""


@dataclass
class Client:
    base: str
    token: str
    rows: int
    payload: bytes
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def list_call(self, rng: random.Random) -> Outcome:
        response = self.session.get(self.base + rng.choice(LIST_PATHS), timeout=REQUEST_TIMEOUT)
        ok = response.status_code == 200 and "items" in response.json()
        return Outcome("list", 0, "ok" if ok else "error", "" if ok else f"HTTP {response.status_code}")

    def export(self, kind: str) -> Outcome:
        fmt = "csv" if kind == "export_csv" else "xlsx"
        with self.session.get(
            f"{self.base}/api/invoices/export?format={fmt}", stream=True, timeout=REQUEST_TIMEOUT
        ) as response:
            if response.status_code != 200:
                response.content  # noqa: B018  (drain the error body so the connection is reusable)
                return throttled_or_error(kind, response)
            newlines, size, head, tail = 0, 0, b"", b""
            for chunk in response.iter_content(64 * 1024):
                newlines += chunk.count(b"\n")
                size += len(chunk)
                head = head or chunk[:4]
                tail = (tail + chunk)[-64 * 1024 :]
        if fmt == "csv" and newlines != self.rows + 1:
            return Outcome(kind, 0, "error", f"CSV has {newlines} lines, expected {self.rows + 1}")
        if fmt == "xlsx" and not (head.startswith(b"PK\x03\x04") and b"PK\x05\x06" in tail):
            return Outcome(kind, 0, "error", f"not a complete XLSX zip ({size} bytes)")
        return Outcome(kind, 0, "ok")

    def upload(self, rng: random.Random) -> Outcome:
        # A PDF (by its magic bytes, like a scanned invoice) with 16 fresh bytes per request, so every
        # upload is new content: never a deduplication hit.
        body = b"%PDF-1.7\n%" + rng.randbytes(16) + b"\n" + self.payload
        files = {"file": ("invoice.pdf", body, "application/pdf")}
        response = self.session.post(self.base + "/api/uploads", files=files, timeout=REQUEST_TIMEOUT)
        if response.status_code in (200, 201):
            return Outcome("upload", 0, "ok")
        return throttled_or_error("upload", response)


def throttled_or_error(kind: str, response: requests.Response) -> Outcome:
    if response.status_code in (429, 503) and "Retry-After" in response.headers:
        return Outcome(kind, 0, "throttled", response.headers["Retry-After"])
    return Outcome(kind, 0, "error", f"HTTP {response.status_code}: {response.text[:200]}")


def timed(action: Callable[[], Outcome], kind: str) -> Outcome:
    start = time.perf_counter()
    try:
        outcome = action()
    except (requests.RequestException, ValueError) as exc:
        outcome = Outcome(kind, 0, "error", f"{type(exc).__name__}: {exc}"[:200])
    outcome.seconds = time.perf_counter() - start
    return outcome


def roles(clients: int) -> list[str]:
    """N//10 (>= 1) clients per heavy kind, the rest list calls."""
    heavy = max(1, clients // 10)
    kinds = ["export_xlsx"] * heavy + ["export_csv"] * heavy + ["upload"] * heavy
    return kinds + ["list"] * (clients - len(kinds))


def client_loop(client: Client, kind: str, deadline: float, seed: int, results: list[Outcome]) -> None:
    rng = random.Random(seed)
    actions: dict[str, Callable[[], Outcome]] = {
        "list": lambda: client.list_call(rng),
        "export_csv": lambda: client.export("export_csv"),
        "export_xlsx": lambda: client.export("export_xlsx"),
        "upload": lambda: client.upload(rng),
    }
    while time.monotonic() < deadline:
        outcome = timed(actions[kind], kind)
        results.append(outcome)
        if outcome.status == "throttled":
            time.sleep(min(float(outcome.detail or 1), max(0.0, deadline - time.monotonic())))


def probe_routes(base: str, token: str) -> dict[str, str]:
    """Does each heavy route exist? A request our routes must reject (unknown filter, empty upload) tells
    a missing route (404/405) from a present one, without paying for a real export."""
    headers = {"Authorization": f"Bearer {token}"}
    probes = {
        "export_csv": lambda: requests.get(f"{base}/api/invoices/export?format=csv&no_such_filter=1", headers=headers),
        "export_xlsx": lambda: requests.get(
            f"{base}/api/invoices/export?format=xlsx&no_such_filter=1", headers=headers
        ),
        "upload": lambda: requests.post(f"{base}/api/uploads", headers=headers, data=b""),
    }
    missing = {}
    for kind, probe in probes.items():
        status = probe().status_code
        if status in (404, 405):
            missing[kind] = f"endpoint missing (probe answered HTTP {status})"
    return missing


# ---------------------------------------------------------------- one run


@dataclass
class RunResult:
    setup: Setup
    workers: int
    idle_rss: int
    idle_pss: int
    peak_rss: int
    peak_pss: int
    samples: int
    elapsed: float
    outcomes: list[Outcome]
    missing: dict[str, str]
    rows: int = 0
    series: list[TreeSample] = field(default_factory=list)

    def count(self, kind: str | None = None, status: str | None = None) -> int:
        """Outcomes matching ``kind``/``status``; a missing endpoint counts as one error of its kind."""
        matched = sum(1 for o in self.outcomes if kind in (None, o.kind) and status in (None, o.status))
        if status in (None, "error"):
            matched += sum(1 for missing_kind in self.missing if kind in (None, missing_kind))
        return matched

    def list_latency_ms(self, quantile: int) -> float | None:
        times = sorted(o.seconds for o in self.outcomes if o.kind == "list" and o.status == "ok")
        if len(times) < 2:
            return None
        return statistics.quantiles(times, n=100, method="inclusive")[quantile - 1] * 1000


def run_setup(setup: Setup, args: argparse.Namespace, url: str, token: str, storage: Path) -> RunResult:
    base_env = {
        "DATABASE_URL": url,
        "STORAGE_DIR": str(storage / setup.key),
        "STORAGE_BACKEND": "local",
        "LOG_LEVEL": "WARNING",
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    log_path = OUT_DIR / f"load-{setup.key}.log"
    payload = random.Random(7).randbytes(UPLOAD_MB * 1024 * 1024)
    print(f"\n[{setup.key}] starting: {setup.label}", flush=True)
    where = {"cwd": setup.backend} if setup.backend else {}
    with run_gunicorn({**base_env, **setup.env}, log_path, startup_timeout=60, app=setup.app, **where) as server:
        base = server.url()
        missing = probe_routes(base, token)
        for kind, why in missing.items():
            print(f"[{setup.key}] {kind}: {why}; its clients will not run", flush=True)
        warm = Client(base, token, args.rows, payload)
        for path in LIST_PATHS * 3:
            warm.session.get(base + path, timeout=REQUEST_TIMEOUT)
        sampler = TreeMemorySampler(server.pid, args.interval)
        idle_rss, idle_pss, workers = sampler.read()
        outcomes: list[Outcome] = []
        threads = []
        deadline = time.monotonic() + args.duration
        for index, kind in enumerate(roles(args.clients)):
            if kind in missing:
                continue
            client = Client(base, token, args.rows, payload)
            thread = threading.Thread(target=client_loop, args=(client, kind, deadline, index, outcomes), daemon=True)
            threads.append(thread)
        print(f"[{setup.key}] {len(threads)} clients for {args.duration}s (+ in-flight requests)", flush=True)
        with sampler:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(args.duration + REQUEST_TIMEOUT[1])
        elapsed = time.monotonic() - sampler.started
    return RunResult(
        setup,
        workers - 1,
        idle_rss,
        idle_pss,
        sampler.peak_rss,
        sampler.peak_pss,
        sampler.samples,
        elapsed,
        list(outcomes),
        missing,
        args.rows,
        sampler.series.points,
    )


# ---------------------------------------------------------------- report


def mb(value: int) -> str:
    return f"{value / MB:.0f}"


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def ratio(after: float | None, before: float | None) -> str:
    if not after or not before:
        return "n/a"
    return f"{after / before:.2f}x"


def summary_table(before: RunResult, after: RunResult) -> str:
    def rps(run: RunResult) -> float:
        return len(run.outcomes) / run.elapsed if run.elapsed else 0.0

    rows = [
        ("gunicorn workers (measured in the process tree)", before.workers, after.workers, ""),
        ("idle PSS, whole tree (MB)", mb(before.idle_pss), mb(after.idle_pss), ratio(after.idle_pss, before.idle_pss)),
        (
            "**peak PSS under load, whole tree (MB)**",
            mb(before.peak_pss),
            mb(after.peak_pss),
            ratio(after.peak_pss, before.peak_pss),
        ),
        (
            "peak RSS under load, summed (MB)",
            mb(before.peak_rss),
            mb(after.peak_rss),
            ratio(after.peak_rss, before.peak_rss),
        ),
        ("requests completed", len(before.outcomes), len(after.outcomes), ""),
        ("requests/s (all kinds)", f"{rps(before):.1f}", f"{rps(after):.1f}", ratio(rps(after), rps(before))),
        (
            "list calls p50 (ms)",
            ms(before.list_latency_ms(50)),
            ms(after.list_latency_ms(50)),
            ratio(after.list_latency_ms(50), before.list_latency_ms(50)),
        ),
        (
            "list calls p99 (ms)",
            ms(before.list_latency_ms(99)),
            ms(after.list_latency_ms(99)),
            ratio(after.list_latency_ms(99), before.list_latency_ms(99)),
        ),
        ("errors", before.count(status="error"), after.count(status="error"), ""),
        ("wall time incl. in-flight requests (s)", f"{before.elapsed:.0f}", f"{after.elapsed:.0f}", ""),
        ("memory samples taken", before.samples, after.samples, ""),
    ]
    return markdown_table(["metric", "before", "after", "after/before"], rows)


def one_line(text: str, limit: int = 160) -> str:
    """A table-safe note: whitespace collapsed (HTML error pages have newlines), pipes replaced, cut short."""
    flat = " ".join(text.split()).replace("|", "/")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def export_rows_per_second(run: RunResult, kind: str) -> float | None:
    """Rows over the mean seconds of the complete exports of ``kind`` (each exports every seeded row)."""
    done = [o.seconds for o in run.outcomes if o.kind == kind and o.status == "ok"]
    return run.rows / statistics.mean(done) if done else None


def kinds_table(runs: list[RunResult]) -> str:
    rows = []
    for run in runs:
        for kind in KINDS:
            done = [o for o in run.outcomes if o.kind == kind]
            ok = [o.seconds for o in done if o.status == "ok"]
            note = run.missing.get(kind, "")
            if not note:
                errors = [o.detail for o in done if o.status == "error"]
                note = f"first error: {errors[0]}" if errors else ""
            rows.append(
                (
                    run.setup.key,
                    kind,
                    len(ok),
                    run.count(kind, "throttled"),
                    run.count(kind, "error"),
                    f"{statistics.mean(ok):.2f}" if ok else "n/a",
                    f"{max(ok):.2f}" if ok else "n/a",
                    f"{export_rows_per_second(run, kind):,.0f}" if ok and kind.startswith("export") else "",
                    one_line(note),
                )
            )
    return markdown_table(["setup", "kind", "ok", "throttled", "errors", "mean s", "max s", "rows/s", "note"], rows)


def describe(args: argparse.Namespace, url: str) -> str:
    database = "PostgreSQL (schema bench_load)" if url.startswith("postgresql") else "SQLite (bench/out/)"
    heavy = max(1, args.clients // 10)
    return (
        f"Workload: {args.clients} clients for {args.duration} s per setup ({heavy} XLSX-export, {heavy} CSV-export "
        f"and {heavy} {UPLOAD_MB} MB-upload clients, {args.clients - 3 * heavy} list-call clients), closed loop, "
        f"{args.rows} invoices, {database}, client and server on the same machine (loopback). "
        f"Memory: master + workers summed, sampled every {args.interval} s from /proc/<pid>/smaps_rollup "
        "(idle = after 12 warm-up list calls, before the load). Clients have no think time, so in both setups the "
        "machine's CPU is saturated (load generator, PostgreSQL and server share it): list-call latency includes "
        "queueing behind CPU-bound exports. Times are this-machine figures: compare the two columns, not machines."
    )


def chosen_setups(args: argparse.Namespace) -> list[Setup]:
    """``--only`` one setup, else every setup (``before`` unless skipped), ``today`` when a tree is given."""
    setups = [s for s in SETUPS if not (args.skip_before and s.key == "before")]
    if args.today_tree:
        today = Setup(
            "today",
            f"today: {args.today_tree} served like 'after'",
            "wsgi:app",
            {},
            backend=args.today_tree.resolve() / "backend",
        )
        setups.insert(len(setups) - 1, today)
    return [s for s in setups if args.only in (None, s.key)]


def series_json(runs: list[RunResult], args: argparse.Namespace) -> str:
    """load.json's text: the run's settings, each setup's figures, then its memory samples one per line.

    One sample per line (``[seconds since the load started, PSS MB, RSS MB, processes]``) keeps the
    committed file diffable; MB to 0.1 and seconds to 0.01 are finer than anything the picture shows.
    """
    settings = {
        "duration_s": args.duration,
        "interval_s": args.interval,
        "clients": args.clients,
        "rows": args.rows,
        "columns": ["seconds", "pss_mb", "rss_mb", "processes"],
    }
    setups = []
    for run in runs:
        figures = {
            "label": run.setup.label,
            "workers": run.workers,
            "idle_pss_mb": round(run.idle_pss / MB, 1),
            "idle_rss_mb": round(run.idle_rss / MB, 1),
            "peak_pss_mb": round(run.peak_pss / MB, 1),
            "peak_rss_mb": round(run.peak_rss / MB, 1),
            "elapsed_s": round(run.elapsed, 2),
            "errors": run.count(status="error"),
            "readings": run.samples,
        }
        lines = ",\n".join(
            "    " + json.dumps([round(s.seconds, 2), round(s.pss / MB, 1), round(s.rss / MB, 1), s.processes])
            for s in run.series
        )
        setups.append(
            f'  {json.dumps(run.setup.key)}: {{\n   "figures": {json.dumps(figures, ensure_ascii=False)},\n'
            f'   "samples": [\n{lines}\n   ]\n  }}'
        )
    return '{\n "settings": ' + json.dumps(settings) + ',\n "setups": {\n' + ",\n".join(setups) + "\n }\n}\n"


EXPORT_RATIO_TARGET = 0.8


def export_verdict(today: RunResult, after: RunResult) -> str:
    """Target 4's second half: the exports keep at least 0.8x of today's rows/s under the same mix."""
    ratios = {}
    for kind in ("export_csv", "export_xlsx"):
        ours, theirs = export_rows_per_second(after, kind), export_rows_per_second(today, kind)
        ratios[kind] = ours / theirs if ours and theirs else None
    shown = ", ".join(f"{kind[7:].upper()} {r:.2f}x" if r else f"{kind[7:].upper()} n/a" for kind, r in ratios.items())
    ok = all(r is not None and r >= EXPORT_RATIO_TARGET for r in ratios.values())
    return (
        f"- Target 4 (issue 14): exports' rows/s under this mix ≥ {EXPORT_RATIO_TARGET}x today's in the same run:"
        f" {shown} → {'PASS' if ok else 'MISS'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of load per setup (default 60)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20, minimum 4)")
    parser.add_argument("--rows", type=int, default=100_000, help="invoices seeded and exported (default 100000)")
    parser.add_argument("--interval", type=float, default=0.2, help="memory sampling interval, >= 0.1 s")
    parser.add_argument("--only", choices=[s.key for s in SETUPS], help="run one setup (for debugging)")
    parser.add_argument(
        "--today-tree",
        type=Path,
        help="a checkout of the code to compare with in the same run (e.g. `git archive main`), served like 'after'",
    )
    parser.add_argument("--skip-before", action="store_true", help="leave out the old setup (it takes minutes)")
    args = parser.parse_args(argv)
    if args.clients < 4:
        parser.error("--clients must be at least 4 (one per kind)")
    url = bench_database_url(SCHEMA)
    token = seeded_database(url, args.rows, "bench-load")
    storage = Path(tempfile.mkdtemp(prefix="nextops-bench-load-"))
    try:
        runs = [run_setup(s, args, url, token, storage) for s in chosen_setups(args)]
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    command = (
        "make bench-load"
        if argv is None and len(sys.argv) == 1
        else "python bench/load.py " + " ".join(sys.argv[1:] if argv is None else argv)
    )
    body = describe(args, url) + "\n\n"
    for run in runs:
        if run.missing:
            body += (
                f"**INCOMPLETE ({run.setup.key})**: {', '.join(sorted(run.missing))} endpoint(s) missing, so their "
                "clients did not run and this column is not the full workload.\n\n"
            )
    by_key = {run.setup.key: run for run in runs}
    if "before" in by_key and "after" in by_key:
        body += summary_table(by_key["before"], by_key["after"]) + "\n\n"
    if "today" in by_key and "after" in by_key:
        body += summary_table(by_key["today"], by_key["after"]).replace("| before | after |", "| today | after |")
        body += "\n\n" + export_verdict(by_key["today"], by_key["after"]) + "\n\n"
    for run in runs:
        if run.setup.key == "after" and run.list_latency_ms(99) is not None:
            p99 = run.list_latency_ms(99)
            verdict = "PASS" if p99 <= LIST_P99_TARGET_MS else "MISS"
            target = f"list calls p99 ≤ {LIST_P99_TARGET_MS} ms under this mix"
            body += f"- Target 4 (issue 14): {target}: {p99:.0f} ms → {verdict}\n\n"
    body += kinds_table(runs)
    write_result("load", "Before/after under load (whole process tree)", command, body)
    (RESULTS_DIR / "load.json").write_text(series_json(runs, args))
    missing = any(run.missing for run in runs)
    after_errors = sum(run.count(status="error") for run in runs if run.setup.key == "after")
    if missing:
        print("FAILED: an export/upload endpoint is missing; see the table", file=sys.stderr)
    if after_errors:
        print(
            f"FAILED: our setup had {after_errors} errors; see the table and bench/out/load-after.log", file=sys.stderr
        )
    return 1 if missing or after_errors else 0


if __name__ == "__main__":
    sys.exit(main())
