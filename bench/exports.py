"""Benchmark the streamed exports (``make bench-exports``): memory, speed and time to first byte.

For each size (default 10k, 100k and 1M invoices, each in its own PostgreSQL schema
``bench_exports_<n>``, seeded once and reused; a SQLite file under bench/out/ when PostgreSQL does
not answer) it starts a real gunicorn with ONE gevent worker, warms it up, then downloads
``GET /api/invoices/export`` as XLSX and as CSV while sampling the worker's RSS every 10 ms:
peak RSS growth over the RSS at request start, rows/s, time to first body byte and file size.

In the same run, baselines fed by the same SELECT and server-side cursor run each in a fresh child
process (``bench/exports_baselines.py``), sampled the same way: the old system's normal openpyxl
Workbook, openpyxl write_only, a bare csv.writer, PostgreSQL's ``COPY ... TO STDOUT CSV``, and our
two writers without HTTP. The normal-Workbook baseline needs ~9 GB at 1M rows on a shared machine,
so by default it stops at 100k rows (``--naive-max`` raises it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from common import BACKEND, ROOT, RssSampler, markdown_table, write_result

sys.path.insert(0, str(BACKEND / "tests"))

import requests  # noqa: E402
from servers import run_gunicorn  # noqa: E402

from app.monitoring.process_memory import process_tree  # noqa: E402

OUT_DIR = ROOT / "bench" / "out"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
BASELINES = ("openpyxl_normal", "openpyxl_write_only", "csv_writer", "pg_copy", "nextops_xlsx", "nextops_csv")
BASELINE_LABELS = {
    "openpyxl_normal": "(a) chunks + normal openpyxl Workbook (old export)",
    "openpyxl_write_only": "(b) openpyxl write_only",
    "csv_writer": "(c) bare csv.writer",
    "pg_copy": "(d) PostgreSQL COPY (query) TO STDOUT CSV",
    "nextops_xlsx": "our XLSX writer, in-process (no HTTP)",
    "nextops_csv": "our CSV writer, in-process (no HTTP)",
}
SAMPLE_INTERVAL = 0.01
WARMUP_QUERY = "created_from=2026-10-01"  # ~8% of the rows: every code path, a fraction of the time


@dataclass
class Measurement:
    label: str
    rows: int
    seconds: float
    ttfb: float
    size: int
    growth_mb: float
    runs: int = 1

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# ---------------------------------------------------------------- data


def postgres_answers(url: str) -> bool:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def database_url(size: int) -> str:
    """PostgreSQL schema ``bench_exports_<size>`` when available, else a SQLite file under bench/out/."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_PG
    if base.startswith("postgres") and postgres_answers(base):
        schema = f"bench_exports_{size}"
        url = make_url(base.replace("postgres://", "postgresql://", 1))
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        admin.dispose()
        return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{OUT_DIR / f'bench-exports-{size}.db'}"


def prepare_database(url: str, size: int) -> str:
    """Migrate, seed exactly ``size`` invoices unless already there; return an admin token."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from app import create_app
    from app.auth import create_token
    from app.cli.seed import seed
    from app.extensions import db
    from app.models import Invoice

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        count = db.session.scalar(select(func.count()).select_from(Invoice))
        if count != size:
            print(f"seeding {size} invoices (found {count}); done once, reused by later runs", flush=True)
            for table in reversed(db.metadata.sorted_tables):
                db.session.execute(table.delete())
            db.session.commit()
            seed(ots=max(10, size // 10), invoices=size, seed_value=42)
            if url.startswith("postgresql"):
                db.session.execute(text("ANALYZE"))
                db.session.commit()
        token = create_token("bench-exports", "admin", replace=True)
        db.engine.dispose()
    return token


# ---------------------------------------------------------------- our endpoint through gunicorn


def worker_pid(master_pid: int) -> int:
    children = process_tree(master_pid)[1:]
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return children[0]


def download(url: str, token: str, pid: int) -> tuple[float, float, int, bytes, float]:
    """GET ``url`` streaming; return (seconds, ttfb, bytes, last bytes, peak RSS growth MB of ``pid``)."""
    headers = {"Authorization": f"Bearer {token}"}
    size = 0
    tail = b""
    ttfb = None
    with RssSampler(pid, SAMPLE_INTERVAL) as sampler:
        started = time.perf_counter()
        with requests.get(url, headers=headers, stream=True, timeout=600) as response:
            response.raise_for_status()
            for piece in response.iter_content(chunk_size=65536):
                if ttfb is None:
                    ttfb = time.perf_counter() - started
                size += len(piece)
                tail = (tail + piece)[-65536:]
        seconds = time.perf_counter() - started
    return seconds, ttfb or seconds, size, tail, sampler.peak_growth_mb


def check_complete(fmt: str, tail: bytes, size: int, rows: int, sample: bytes) -> None:
    """Cheap integrity checks: a zip that ends with its central directory; a CSV with one line per row."""
    if fmt == "xlsx" and b"PK\x05\x06" not in tail[-22:]:
        raise RuntimeError("XLSX download does not end with a zip end-of-central-directory record")
    if fmt == "csv" and not sample:
        raise RuntimeError("CSV download is empty")


def measure_server(url: str, token: str, size: int, repeat: int) -> list[Measurement]:
    env = {
        "DATABASE_URL": url,
        "GUNICORN_WORKERS": "1",
        "GUNICORN_WORKER_CLASS": "gevent",
        "GUNICORN_MAX_REQUESTS": "0",
        "GUNICORN_TIMEOUT": "600",
        "LOG_LEVEL": "WARNING",
        "EXPORT_CHUNK_SIZE": "100",
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    results = []
    with run_gunicorn(env, OUT_DIR / "exports-gunicorn.log") as server:
        pid = worker_pid(server.pid)
        for fmt in ("xlsx", "csv"):
            download(server.url(f"/api/invoices/export?format={fmt}&{WARMUP_QUERY}"), token, pid)
        for fmt in ("xlsx", "csv"):
            runs = [download(server.url(f"/api/invoices/export?format={fmt}"), token, pid) for _ in range(repeat)]
            for seconds, _, received, tail, _ in runs:
                check_download(fmt, tail, received, size)
            results.append(
                Measurement(
                    label=f"**NextOps {fmt.upper()}** (gunicorn, 1 gevent worker)",
                    rows=size,
                    seconds=statistics.median(run[0] for run in runs),
                    ttfb=max(run[1] for run in runs),
                    size=runs[0][2],
                    growth_mb=max(run[4] for run in runs),
                    runs=repeat,
                )
            )
    return results


def check_download(fmt: str, tail: bytes, received: int, rows: int) -> None:
    """A complete XLSX ends with the zip end-of-central-directory record; a CSV ends its last line."""
    if fmt == "xlsx" and b"PK\x05\x06" not in tail[-64:]:
        raise RuntimeError(f"XLSX download of {received} bytes is truncated")
    if fmt == "csv" and not tail.endswith(b"\r\n"):
        raise RuntimeError(f"CSV download of {received} bytes is truncated")


# ---------------------------------------------------------------- baselines in child processes


def measure_baseline(method: str, url: str, size: int) -> Measurement:
    script = Path(__file__).with_name("exports_baselines.py")
    with tempfile.TemporaryDirectory(prefix="nextops-bench-exports-") as tmp:
        out = Path(tmp) / f"{method}.out"
        child = subprocess.Popen(
            [sys.executable, str(script), method, url, str(out)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin and child.stdout
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError(f"baseline {method} did not start")
        with RssSampler(child.pid, SAMPLE_INTERVAL) as sampler:
            child.stdin.write("go\n")
            child.stdin.flush()
            line = child.stdout.readline()
            child.wait(60)
        if child.returncode != 0 or not line:
            raise RuntimeError(f"baseline {method} failed with exit code {child.returncode}")
    result = json.loads(line)
    if result["rows"] != size:
        raise RuntimeError(f"baseline {method} wrote {result['rows']} rows, expected {size}")
    return Measurement(
        BASELINE_LABELS[method], result["rows"], result["seconds"], result["ttfb"], result["bytes"], sampler.peak_growth_mb
    )


# ---------------------------------------------------------------- report


def _row(m: Measurement, reference: dict[str, float]) -> list[str]:
    ratios = ", ".join(f"{m.rows_per_second / value:.2f}× {name}" for name, value in reference.items() if value)
    return [
        m.label,
        f"{m.rows:,}",
        f"{m.growth_mb:.1f}",
        f"{m.rows_per_second:,.0f}",
        f"{m.ttfb:.3f}",
        f"{m.size / 1e6:.1f}",
        f"{m.seconds:.1f}",
        ratios if m.label.startswith("**") else "",
    ]


HEADERS = ["method", "rows", "peak RSS growth MB", "rows/s", "TTFB s", "file MB", "total s", "vs baseline"]


def size_table(ours: list[Measurement], baselines: dict[str, Measurement], skipped: list[str]) -> str:
    rows = []
    for m in ours:
        fmt = "xlsx" if "XLSX" in m.label else "csv"
        keys = ("openpyxl_write_only",) if fmt == "xlsx" else ("csv_writer", "pg_copy")
        reference = {f"({k[0] if k != 'openpyxl_write_only' else 'b'})": 0.0 for k in ()}
        reference = {
            {"openpyxl_write_only": "(b)", "csv_writer": "(c)", "pg_copy": "(d)"}[key]: baselines[key].rows_per_second
            for key in keys
            if key in baselines
        }
        rows.append(_row(m, reference))
    rows += [_row(m, {}) for m in baselines.values()]
    rows += [[BASELINE_LABELS[name], "skipped", "", "", "", "", "", ""] for name in skipped]
    return markdown_table(HEADERS, rows)


def targets(results: dict[int, tuple[list[Measurement], dict[str, Measurement]]]) -> str:
    """One line per target of the issue, with the measured value and PASS/MISS."""
    lines = []
    for fmt, baseline, ratio in (("XLSX", "openpyxl_write_only", 2.5), ("CSV", "csv_writer", 0.8)):
        growths = [m.growth_mb for ours, _ in results.values() for m in ours if fmt in m.label]
        ttfbs = [m.ttfb for ours, _ in results.values() for m in ours if fmt in m.label]
        worst = max(growths)
        flat = max(growths) - min(growths)
        lines.append(
            f"- {fmt} peak RSS growth ≤ 15 MB and flat: worst {worst:.1f} MB, spread {flat:.1f} MB across sizes "
            f"→ {'PASS' if worst <= 15 else 'MISS'}"
        )
        lines.append(f"- {fmt} time to first byte < 1 s: worst {max(ttfbs):.3f} s → {'PASS' if max(ttfbs) < 1 else 'MISS'}")
        for size, (ours, baselines) in results.items():
            mine = next(m for m in ours if fmt in m.label)
            if baseline in baselines:
                value = mine.rows_per_second / baselines[baseline].rows_per_second
                lines.append(
                    f"- {fmt} at {size:,} rows: {value:.2f}× the rows/s of {BASELINE_LABELS[baseline].split(' ')[0]} "
                    f"(target ≥ {ratio}×) → {'PASS' if value >= ratio else 'MISS'}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated invoice counts")
    parser.add_argument("--repeat", type=int, default=3, help="downloads per format and size (median rows/s)")
    parser.add_argument("--naive-max", type=int, default=100_000, help="largest size for baseline (a)")
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.sizes.split(",") if part]

    results: dict[int, tuple[list[Measurement], dict[str, Measurement]]] = {}
    sections = []
    database = ""
    for size in sizes:
        url = database_url(size)
        database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        token = prepare_database(url, size)
        print(f"[{size:,}] our endpoint through gunicorn", flush=True)
        ours = measure_server(url, token, size, args.repeat)
        baselines: dict[str, Measurement] = {}
        skipped = []
        for method in BASELINES:
            if (method == "openpyxl_normal" and size > args.naive_max) or (
                method == "pg_copy" and database != "PostgreSQL"
            ):
                skipped.append(method)
                continue
            print(f"[{size:,}] baseline {method}", flush=True)
            baselines[method] = measure_baseline(method, url, size)
        results[size] = (ours, baselines)
        sections.append(f"### {size:,} invoices\n\n{size_table(ours, baselines, skipped)}")

    body = "\n\n".join(
        [
            f"Database: {database} 15 (one schema per size, seeded with `app.cli.seed.seed`). Server: gunicorn, "
            f"one gevent worker, EXPORT_CHUNK_SIZE=100; client streams the body in 64 KiB reads. "
            f"NextOps rows: median of {args.repeat} downloads for rows/s, worst of them for TTFB and RSS growth "
            f"(worker RSS sampled every {SAMPLE_INTERVAL * 1000:.0f} ms, growth over the RSS at request start, "
            "after one warm-up export per format). Baselines: one run each in a fresh child process fed by "
            "the same SELECT and server-side cursor, RSS growth over the child's RSS after imports and "
            "connect; their TTFB is when the first byte reached the output file. Baseline (a) is skipped "
            f"above {args.naive_max:,} rows (it grows ~9 GB at 1M; `--naive-max 1000000` runs it).",
            *sections,
            "### Targets\n\n" + targets(results),
        ]
    )
    command = "make bench-exports" if argv is None and sys.argv[1:] == [] else "python bench/exports.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    write_result("exports", "Exports: streamed XLSX/CSV vs baselines", command, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
