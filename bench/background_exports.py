"""Memory of the background-export worker (``flask rq-worker``) while it writes an export.

One real worker (tests/helpers/rq_worker.py) on Redis database 5, the bench database and local
storage under bench/out/; each format is queued through ``POST /api/exports`` (the app's own test
client, so the request goes through the same parser and queue as in production) and followed until
it is finished, while the work horse (RQ forks one per job; its PID is on the job row) and the whole
worker tree (worker, scheduler, horse) are sampled every 0.1 s with ``smaps_rollup``. PSS is what the
container is charged: a forked horse shares the worker's pages, and PSS splits them between the two.

Same-run reference: the worker tree's PSS while idle, just before the job. Target: the work horse's
peak PSS <= 60 MB on 1M rows; run at ``--rows`` (default 100,000) on a machine that cannot afford the
1M seed in a session, which the table says.

Database: PostgreSQL ``BENCH_DATABASE_URL`` (default: the local test server when it answers) in
schema ``bench_background_exports``, else SQLite under bench/out/.
"""

from __future__ import annotations

import argparse
import shutil
import threading
import time

from common import OUT_DIR, bench_database_url, markdown_table, seeded_database, write_result

from ops.process_memory import full_reading, process_tree
from tests.helpers.rq_worker import TEST_REDIS_URL, rq_worker
from values import MB

SCHEMA = "bench_background_exports"
PSS_TARGET_MB = 60
TARGET_ROWS = 1_000_000


class PssSampler:
    """Peak PSS of one process and of a process tree, sampled in a thread every ``interval`` s."""

    def __init__(self, root_pid: int, interval: float = 0.1) -> None:
        self.root_pid = root_pid
        self.interval = interval
        self.horse_pid: int | None = None
        self.peak_horse = 0
        self.peak_tree = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def tree_pss(self) -> int:
        pids = set(process_tree(self.root_pid))
        if self.horse_pid:
            pids.add(self.horse_pid)  # RQ puts the horse in a process group of its own, still a child
        return sum(self._pss(pid) for pid in pids)

    @staticmethod
    def _pss(pid: int) -> int:
        try:
            return full_reading(pid).pss or 0
        except Exception:  # exited between listing and reading
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.horse_pid:
                self.peak_horse = max(self.peak_horse, self._pss(self.horse_pid))
            self.peak_tree = max(self.peak_tree, self.tree_pss())
            time.sleep(self.interval)

    def __enter__(self) -> PssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_job(app, client, headers, worker, fmt: str) -> dict[str, object]:
    from app.extensions import db
    from app.models import ExportJob

    idle = PssSampler(worker.pid).tree_pss()
    response = client.post("/api/exports", json={"resource": "invoices", "format": fmt}, headers=headers)
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["id"]
    started = time.perf_counter()
    with PssSampler(worker.pid) as sampler:
        while True:
            with app.app_context():
                job = db.session.get(ExportJob, job_id)
                status, pid = job.status, job.worker_pid
                rows, size, error = job.rows_written, job.size, job.error
                db.session.remove()
            sampler.horse_pid = sampler.horse_pid or pid
            if status in ("finished", "failed"):
                break
            if not worker.alive():
                raise RuntimeError(worker.log_text()[-3000:])
            time.sleep(0.05)
    if status != "finished":
        raise RuntimeError(f"{fmt} job {status}: {error}")
    return {
        "format": fmt,
        "rows": rows,
        "mb": size / MB,
        "seconds": time.perf_counter() - started,
        "idle": idle / MB,
        "horse": sampler.peak_horse / MB,
        "tree": sampler.peak_tree / MB,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="invoices to seed and export (target: 1,000,000)")
    args = parser.parse_args(argv)

    from redis import Redis

    from app import create_app

    url = bench_database_url(SCHEMA)
    token = seeded_database(url, args.rows, "bench-background")
    storage = OUT_DIR / "background-storage"
    shutil.rmtree(storage, ignore_errors=True)
    redis = Redis.from_url(TEST_REDIS_URL)
    redis.flushdb()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "STORAGE_DIR": str(storage),
            "REDIS_URL": TEST_REDIS_URL,
            "LOG_LEVEL": "WARNING",
        }
    )
    env = {"DATABASE_URL": url, "STORAGE_DIR": str(storage), "SECRET_KEY": "bench-only", "LOG_LEVEL": "WARNING"}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with rq_worker(env, OUT_DIR / "background-worker.log") as worker:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        results = [run_job(app, client, headers, worker, fmt) for fmt in ("csv", "xlsx")]
    redis.flushdb()
    shutil.rmtree(storage, ignore_errors=True)

    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    table = markdown_table(
        ["format", "rows", "file MB", "s", "idle worker tree PSS MB", "peak work horse PSS MB", "peak tree PSS MB"],
        [
            [
                r["format"],
                f"{r['rows']:,}",
                f"{r['mb']:.1f}",
                f"{r['seconds']:.1f}",
                f"{r['idle']:.1f}",
                f"{r['horse']:.1f}",
                f"{r['tree']:.1f}",
            ]
            for r in results
        ],
    )
    scale = "" if args.rows >= TARGET_ROWS else f" (measured at {args.rows:,} rows, not the target's 1,000,000)"
    checks = "\n".join(
        f"- RQ work horse peak PSS, {r['format']}, ≤ {PSS_TARGET_MB} MB on 1M rows{scale}: {r['horse']:.1f} MB → "
        + ("PASS" if r["horse"] <= PSS_TARGET_MB else "MISS")
        for r in results
    )
    caption = (
        f"One `flask rq-worker` (RQ forks a work horse per job), {database}, local storage; "
        f"{args.rows:,} invoices, every column, each format queued with `POST /api/exports` and followed to the end."
    )
    command = "make bench-background" + (f" BENCH_BACKGROUND_ARGS='--rows {args.rows}'" if args.rows != 100_000 else "")
    write_result(
        "background", "Background exports: the RQ worker's memory", command, f"{caption}\n\n{table}\n\n{checks}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
