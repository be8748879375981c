"""Benchmark the documents ZIP (``make bench-documents``): worker memory and throughput for ~1 GB.

Seeds 200 invoices each with a ~5 MB document (random bytes behind a PDF header, so nothing
compresses and the archive is as large as the documents), written straight into a local
``STORAGE_DIR`` with their rows (the upload path has its own benchmark). Then, through a real
gunicorn with ONE gevent worker whose RSS is sampled every 10 ms:

- ``GET /api/invoices/documents.zip`` read by a streaming client that discards the bytes, timed
  from the request to the last byte (median of ``--repeat`` runs, growth: the largest seen);
- one more download saved to disk and checked with ``unzip -tq`` (not timed);

and, in the same run, the machine's cost of merely reading the same files: ``cat`` of all of them
to /dev/null and ``sha256sum`` of all of them (page cache warm, as it is for the server). The
archive cannot beat ``cat``; the ratio says how much of the read speed survives CRC, framing, HTTP
and the loopback client.

Data go to PostgreSQL schema ``bench_documents`` when the local server answers (else SQLite); the
seeded invoices are reused by later runs, the documents are written afresh in a temporary directory
and deleted afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import RssSampler, bench_database_url, markdown_table, seeded_database, write_result
from uploads import filesystem_of, worker_pid

from tests.helpers.servers import run_gunicorn
from values import MB

GROWTH_TARGET_MB = 15
READ_PIECE = 256 * 1024
SERVER_ENV = {
    "GUNICORN_WORKERS": "1",
    "GUNICORN_WORKER_CLASS": "gevent",
    "GUNICORN_MAX_REQUESTS": "0",
    "GUNICORN_MAX_WORKER_MEMORY_MB": "0",
    "GUNICORN_TIMEOUT": "900",
    "LOG_LEVEL": "WARNING",
}


def unlink_documents(url: str) -> None:
    """Detach earlier runs' documents so the seeding helper may delete their rows (a foreign key)."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    if inspect(engine).has_table("invoices"):
        with engine.begin() as conn:
            conn.execute(text("UPDATE invoices SET document_id = NULL"))
    engine.dispose()


def write_documents(url: str, storage: Path, count: int, size: int) -> tuple[list[Path], str]:
    """``count`` random ~PDF files of ``size`` bytes under their sha256 keys, each attached to an invoice.

    Returns the files and the first invoice's number (the warm-up downloads just that one).
    """
    from sqlalchemy import insert, select, update

    from app import create_app
    from app.extensions import db
    from app.models import Invoice, StoredFile
    from app.uploads.storage import key_for

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    paths = []
    with app.app_context():
        invoice_ids = db.session.scalars(select(Invoice.id).order_by(Invoice.id).limit(count)).all()
        for invoice_id in invoice_ids:
            data = bytearray(b"%PDF-1.7\n" + os.urandom(size - 9))
            sha256 = hashlib.sha256(data).hexdigest()
            path = storage / key_for(sha256)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            paths.append(path)
            document_id = db.session.execute(
                insert(StoredFile)
                .values(
                    sha256=sha256,
                    original_filename=f"factura-{invoice_id}.pdf",
                    content_type="application/pdf",
                    size=size,
                    storage_key=key_for(sha256),
                )
                .returning(StoredFile.id)
            ).scalar_one()
            db.session.execute(update(Invoice).where(Invoice.id == invoice_id).values(document_id=document_id))
        first_number = db.session.get(Invoice, invoice_ids[0]).invoice_number
        db.session.commit()
        db.engine.dispose()
    return paths, first_number


def fetch(port: int, token: str, target: str, save: Path | None = None) -> tuple[int, int, float]:
    """GET ``target`` reading the body in 256 KB pieces; (status, bytes, seconds to the last byte)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    start = time.perf_counter()
    received = 0
    try:
        conn.request("GET", target, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        with open(save, "wb") if save else open(os.devnull, "wb") as out:
            while piece := response.read(READ_PIECE):
                received += len(piece)
                if save:
                    out.write(piece)
        return response.status, received, time.perf_counter() - start
    finally:
        conn.close()


def read_baselines(paths: list[Path]) -> dict[str, float]:
    """Seconds for ``cat`` and ``sha256sum`` over all the documents (after one warming read)."""
    files = [str(path) for path in paths]
    subprocess.run(["cat", *files], check=True, stdout=subprocess.DEVNULL)
    timings = {}
    for label, command in (("cat", ["cat", *files]), ("sha256sum", ["sha256sum", *files])):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        timings[label] = time.perf_counter() - start
    return timings


def run(work: Path, count: int, size: int, repeat: int) -> str:
    url = bench_database_url("bench_documents")
    unlink_documents(url)
    token = seeded_database(url, count, "bench-documents")
    storage = work / "storage"
    paths, first_number = write_documents(url, storage, count, size)
    total = count * size
    print(f"{count} documents of {size / MB:.2f} MB ({total / MB:.0f} MB) in {filesystem_of(storage)}", flush=True)
    before = read_baselines(paths)
    env = {**SERVER_ENV, "DATABASE_URL": url, "STORAGE_DIR": str(storage)}
    runs: list[tuple[float, float]] = []
    with run_gunicorn(env, work / "gunicorn.log", startup_timeout=60) as server:
        worker = worker_pid(server.pid)
        warm = f"/api/invoices/documents.zip?invoice_number={first_number}"
        status, _, _ = fetch(server.port, token, warm)  # warm-up: the first request's imports and connections
        if status != 200:
            raise RuntimeError(f"warm-up download answered {status}:\n{server.log_text()[-2000:]}")
        for n in range(repeat):
            with RssSampler(worker, interval=0.01) as sampler:
                status, received, seconds = fetch(server.port, token, "/api/invoices/documents.zip")
            if status != 200 or received < total:
                raise RuntimeError(f"download {n} answered {status} with {received} bytes")
            runs.append((seconds, sampler.peak_growth_mb))
            print(f"  run {n + 1}: {received / MB / seconds:.0f} MB/s, +{sampler.peak_growth_mb:.1f} MB", flush=True)
        saved = work / "documents.zip"
        fetch(server.port, token, "/api/invoices/documents.zip", save=saved)
    archive_size = saved.stat().st_size
    check = subprocess.run(["unzip", "-tq", str(saved)], capture_output=True, text=True)
    verified = check.returncode == 0 and "No errors detected" in check.stdout
    saved.unlink()
    after = read_baselines(paths)
    summary = check.stdout.strip().replace(str(saved), "the archive")
    return report(count, size, archive_size, runs, before, after, verified, summary, url, storage)


def report(
    count: int,
    size: int,
    archive_size: int,
    runs: list[tuple[float, float]],
    before: dict[str, float],
    after: dict[str, float],
    verified: bool,
    unzip_output: str,
    url: str,
    storage: Path,
) -> str:
    total_mb = count * size / MB
    seconds = statistics.median(run[0] for run in runs)
    growth = max(run[1] for run in runs)
    ours = archive_size / MB / seconds
    baselines = {label: total_mb / statistics.mean([before[label], after[label]]) for label in before}
    rows = [
        [
            "ours: GET /api/invoices/documents.zip (one gevent worker, streaming client)",
            f"{seconds:.2f}",
            f"{ours:.0f}",
            f"{growth:.1f}",
            "PASS" if growth <= GROWTH_TARGET_MB else "MISS",
        ]
    ]
    for label, mbps in baselines.items():
        timing = f"{before[label]:.2f} / {after[label]:.2f}"
        rows.append(
            [f"`{label}` of the same {count} files (before / after the downloads)", timing, f"{mbps:.0f}", "-", "-"]
        )
    ratios = ", ".join(f"{ours / mbps:.2f}x `{label}`" for label, mbps in baselines.items())
    database = "PostgreSQL (schema bench_documents)" if url.startswith("postgresql") else "SQLite"
    return "\n\n".join(
        [
            f"{count} invoices, each with a {size / MB:.2f} MB document of random bytes behind a PDF header: "
            f"{total_mb:.0f} MB of documents, a {archive_size / MB:.0f} MB archive (level-0 deflate: stored blocks). "
            f"{database}; documents on local storage, {filesystem_of(storage)}.",
            markdown_table(["method", "s", "MB/s", "worker peak RSS growth MB", f"<= {GROWTH_TARGET_MB} MB"], rows),
            f"Throughput: {ratios}. Ours is the median of {len(runs)} downloads (growth: the largest of them); "
            "the reads are timed once before and once after the downloads (page cache warm), their mean is the "
            f"reference. One more download saved to disk: `unzip -tq` says "
            f"{'**' + unzip_output + '**' if verified else 'FAILED: ' + unzip_output}.",
            f"Load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; client, server "
            "and database share them.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--size-mb", type=float, default=5.12, help="MB per document (default 5.12: 200 -> 1 GiB)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("unzip") is None:
        sys.exit("bench-documents needs unzip (apt-get install unzip)")
    work = Path(tempfile.mkdtemp(prefix="nextops-bench-documents-", dir=os.environ.get("BENCH_TMPDIR")))
    try:
        body = run(work, args.documents, int(args.size_mb * MB), args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "make bench-documents" + (
        "" if len(sys.argv) == 1 else f" BENCH_DOCUMENTS_ARGS='{' '.join(sys.argv[1:])}'"
    )
    write_result("documents", "Documents ZIP: worker memory and throughput", command, body)


if __name__ == "__main__":
    main()
