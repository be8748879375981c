"""Shared pieces of the benchmarks: a fast RSS sampler, tables, and the results files.

Each benchmark script writes ``bench/results/<name>.md`` (its tables plus the command that made
them); ``make bench`` gathers those into ``bench/RESULTS.md``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "backend"
RESULTS_DIR = ROOT / "bench" / "results"
OUT_DIR = ROOT / "bench" / "out"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
if str(BACKEND) not in sys.path:
    sys.path.insert(0, str(BACKEND))

from ops.process_memory import rss_bytes  # noqa: E402
from values import MB  # noqa: E402


def postgres_answers(url: str) -> bool:
    """True when a PostgreSQL server accepts a connection at ``url`` (within 3 s)."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def bench_database_url(schema: str) -> str:
    """A database of the benchmark's own: PostgreSQL schema ``schema`` when it answers, else SQLite.

    PostgreSQL comes from ``BENCH_DATABASE_URL`` (default: the local ``test`` database, as in CI); the
    schema keeps benchmark data apart from everything else and is reused by later runs (seeded once).
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_PG
    if base.startswith("postgres") and postgres_answers(base.replace("postgres://", "postgresql://", 1)):
        url = make_url(base.replace("postgres://", "postgresql://", 1))
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        admin.dispose()
        return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{OUT_DIR / f'{schema}.db'}"


class RssSampler:
    """Samples one process's RSS every ``interval`` seconds in a thread; keeps baseline and peak.

    Usage: ``with RssSampler(pid) as s: ...`` then ``s.peak_growth_mb``. The baseline is read when the
    block starts, so growth is what the work inside the block added.
    """

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.baseline = 0
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                value = rss_bytes(self.pid)
            except Exception:  # the process may have exited between samples
                break
            self.peak = max(self.peak, value)
            self.samples += 1
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self.baseline = self.peak = rss_bytes(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_growth_mb(self) -> float:
        return (self.peak - self.baseline) / MB


def seeded_database(url: str, invoices: int, token_name: str) -> str:
    """Migrate ``url``, make it hold exactly ``invoices`` seeded invoices, return an admin token.

    Seeding (minutes at 1M rows) happens only when the count differs, so later runs reuse the data.
    Stored-file rows from earlier runs are dropped: a new upload must not be answered as a duplicate.
    """
    from flask_migrate import upgrade
    from sqlalchemy import delete, func, select, text

    from app import create_app
    from app.auth import create_token
    from app.cli.seed import seed
    from app.extensions import db
    from app.models import Invoice, StoredFile

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        db.session.execute(delete(StoredFile))
        db.session.commit()
        count = db.session.scalar(select(func.count()).select_from(Invoice))
        if count != invoices:
            print(f"seeding {invoices} invoices (found {count}); done once, reused by later runs", flush=True)
            for table in reversed(db.metadata.sorted_tables):
                db.session.execute(table.delete())
            db.session.commit()
            seed(ots=max(10, invoices // 10), invoices=invoices, seed_value=42)
            if url.startswith("postgresql"):
                # This schema's tables only: a bare ANALYZE walks every schema of the database (other runs' too).
                db.session.execute(text("ANALYZE " + ", ".join(table.name for table in db.metadata.sorted_tables)))
                db.session.commit()
        token = create_token(token_name, "admin", replace=True)
        db.engine.dispose()
    return token


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; numbers are printed as given (format them before)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, title: str, command: str, body: str) -> Path:
    """Write ``bench/results/<name>.md`` and echo it to stdout."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    text = f"## {title}\n\nCommand: `{command}` (run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n\n{body}\n"
    path = RESULTS_DIR / f"{name}.md"
    path.write_text(text)
    print(text)
    return path
