"""Benchmark uploads and the OT import (``make bench-uploads``): worker memory and throughput.

Uploads: a real gunicorn with ONE gevent worker, a streaming client (``http.client`` sending the file
in 256 KB pieces, multipart with a Content-Length like a browser, or a raw body), the worker's RSS
sampled every 10 ms. In the same run:

- ours with the default ``UPLOAD_READ_SIZE`` (1 MiB) and with the old system's 8 KB, multipart and raw;
- (a) the naive way: ``bench/baseline_app.py``'s old upload view (``request.files['file'].read()``,
  then sha256, then write), served by the same gunicorn settings;
- (b) the machine's limit: ``sha256sum`` + ``cp`` + ``sync`` of the same file (our upload fsyncs too).

Import: a 100k-row XLSX written by XlsxWriter with shared strings (as Excel writes them) is POSTed to
``/api/ots/import`` (upload + parse + validate + insert, SQLite), against openpyxl's normal
``load_workbook`` and our read-only reader alone, each in a fresh child process sampled the same way.

Files are generated in a temporary directory and deleted afterwards; where that directory lives
(tmpfs or disk) is printed with the results, because on tmpfs every file there is RAM.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import BACKEND, ROOT, RssSampler, markdown_table, write_result

from ops.process_memory import process_tree
from tests.helpers.servers import run_gunicorn
from values import MB

BENCH_DIR = ROOT / "bench"
SEND_PIECE = 256 * 1024
BOUNDARY = "nextops-bench-boundary"
GROWTH_TARGET_MB = 10
THROUGHPUT_TARGET = 0.5
IMPORT_GROWTH_TARGET_MB = 30
SERVER_ENV = {
    "GUNICORN_WORKERS": "1",
    "GUNICORN_WORKER_CLASS": "gevent",
    "GUNICORN_MAX_REQUESTS": "0",
    "GUNICORN_MAX_WORKER_MEMORY_MB": "0",  # the naive worker would otherwise be retired mid-benchmark
    "GUNICORN_TIMEOUT": "900",
    "MAX_UPLOAD_MB": "2048",
    "LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    app: str
    env: dict[str, str]


VARIANTS = (
    Variant("ours-8k", "ours, UPLOAD_READ_SIZE=8192 (the old value)", "wsgi:app", {"UPLOAD_READ_SIZE": "8192"}),
    Variant("ours-1m", "ours, UPLOAD_READ_SIZE=1048576 (default)", "wsgi:app", {"UPLOAD_READ_SIZE": "1048576"}),
    Variant(
        "naive",
        "(a) naive: request.files['file'].read(), hash, write",
        "baseline_app:create_baseline_app()",
        {"PYTHONPATH": str(BENCH_DIR)},
    ),
)


@dataclass(frozen=True)
class Upload:
    label: str
    shape: str
    size: int
    seconds: float
    growth_mb: float


# ------------------------------------------------------------------ environment


def filesystem_of(path: Path) -> str:
    """``fstype`` of the mount holding ``path`` (longest matching mount point in /proc/mounts)."""
    best, kind = "", "unknown"
    resolved = str(path.resolve())
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, fstype, *_ = line.split()
        if (resolved == mount or resolved.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
            best, kind = mount, fstype
    return f"{resolved} is on {kind} (mount {best})"


def prepare_database(url: str) -> str:
    """Migrate ``url``, create carriers and clients for the import, return an admin token."""
    from flask_migrate import upgrade

    from app import create_app
    from app.auth import create_token
    from app.cli.seed import seed
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        seed(ots=0, invoices=0, seed_value=42)
        token = create_token("bench-uploads", "admin")
        db.engine.dispose()
    return token


def write_random_file(path: Path, size: int) -> str:
    """``size`` random bytes starting like a PDF (so the sniffer accepts them); returns the sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as file:
        remaining = size
        first = True
        while remaining:
            block = os.urandom(min(MB, remaining))
            if first:
                block = b"%PDF-1.7\n" + block[9:]
                first = False
            digest.update(block)
            file.write(block)
            remaining -= len(block)
    return digest.hexdigest()


# ------------------------------------------------------------------ uploads


def send_file(port: int, token: str, path: Path, shape: str) -> tuple[int, bytes]:
    """POST ``path`` streamed in 256 KB pieces; multipart like a browser, or a raw body."""
    if shape == "multipart":
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        target, content_type = "/api/uploads", f"multipart/form-data; boundary={BOUNDARY}"
    else:
        head, tail = b"", b""
        target, content_type = f"/api/uploads?filename={path.name}", "application/octet-stream"
    return stream_post(port, token, target, content_type, head, path, tail)


def measure_upload(server, token: str, path: Path, sha256: str, shape: str, label: str) -> Upload:
    worker = worker_pid(server.pid)
    with RssSampler(worker, interval=0.01) as sampler:
        start = time.perf_counter()
        status, body = send_file(server.port, token, path, shape)
        seconds = time.perf_counter() - start
    if status not in (200, 201) or json.loads(body).get("sha256") != sha256:
        raise RuntimeError(f"{label}: upload failed with {status}: {body[:300]!r}")
    return Upload(label, shape, path.stat().st_size, seconds, sampler.peak_growth_mb)


def worker_pid(master: int) -> int:
    workers = [pid for pid in process_tree(master) if pid != master]
    if len(workers) != 1:
        raise RuntimeError(f"expected one worker under {master}, found {workers}")
    return workers[0]


def run_uploads(work: Path, files: list[tuple[Path, str]], repeat: int) -> list[Upload]:
    results: list[Upload] = []
    warmup = work / "warmup.pdf"
    write_random_file(warmup, MB)
    for variant in VARIANTS:
        url = f"sqlite:///{work / variant.key}.db"
        token = prepare_database(url)
        storage = work / f"storage-{variant.key}"
        env = {**SERVER_ENV, **variant.env, "DATABASE_URL": url, "STORAGE_DIR": str(storage)}
        with run_gunicorn(env, work / f"{variant.key}.log", app=variant.app, startup_timeout=60) as server:
            send_file(server.port, token, warmup, "multipart")
            shapes = ("multipart", "raw") if variant.app == "wsgi:app" else ("multipart",)
            for shape in shapes:
                for path, sha256 in files:
                    runs = []
                    for _ in range(repeat if path.stat().st_size <= 100 * MB else 1):
                        clear_uploads(url, storage)
                        runs.append(measure_upload(server, token, path, sha256, shape, variant.label))
                    results.append(median_run(runs))
                    print(f"  {variant.label} {shape} {path.stat().st_size // MB} MB: {describe(results[-1])}")
        shutil.rmtree(storage, ignore_errors=True)
    return results


def median_run(runs: list[Upload]) -> Upload:
    """The median time of the runs, with the largest memory growth seen in any of them."""
    seconds = statistics.median(run.seconds for run in runs)
    growth = max(run.growth_mb for run in runs)
    return Upload(runs[0].label, runs[0].shape, runs[0].size, seconds, growth)


def clear_uploads(url: str, storage: Path) -> None:
    """Forget earlier uploads so every run stores the file for real (no dedupe short-cut)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM stored_files"))
    engine.dispose()
    shutil.rmtree(storage, ignore_errors=True)


def describe(upload: Upload) -> str:
    return f"{upload.size / MB / upload.seconds:.0f} MB/s, +{upload.growth_mb:.1f} MB"


def machine_limit(path: Path, work: Path) -> tuple[float, float, float]:
    """Seconds for ``sha256sum``, ``cp`` and ``sync`` of the copy (page cache warm, like the uploads)."""
    copy = work / "limit-copy.bin"
    timings = []
    for command in (["sha256sum", str(path)], ["cp", str(path), str(copy)], ["sync", str(copy)]):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        timings.append(time.perf_counter() - start)
    copy.unlink()
    return timings[0], timings[1], timings[2]


def hashlib_speed(path: Path) -> float:
    """MB/s of Python's sha256 (OpenSSL) over the same file in 8 KB updates, for reference."""
    digest = hashlib.sha256()
    start = time.perf_counter()
    with open(path, "rb") as file:
        while block := file.read(8192):
            digest.update(block)
    return path.stat().st_size / MB / (time.perf_counter() - start)


# ------------------------------------------------------------------ import


def write_team_workbook(work: Path, rows: int, url: str) -> Path:
    """``rows`` OTs in the team's layout (``flask import sample``: title rows, their column names and
    date forms, containers with separators), for the seeded clients."""
    from app import create_app
    from app.imports.sample_workbook import write_sample_workbook

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        return write_sample_workbook(work, "Bench Operativo", rows, seed=7)


def import_through_server(work: Path, url: str, token: str, path: Path, rows: int) -> tuple[float, float, dict]:
    """POST the workbook to /api/ots/import on a fresh one-worker gunicorn; (seconds, growth MB, answer)."""
    env = {**SERVER_ENV, "DATABASE_URL": url, "STORAGE_DIR": str(work / "storage-import")}
    with run_gunicorn(env, work / "import.log", startup_timeout=60) as server:
        warm = work / "warm.csv"
        warm.write_text("ot_number,client\n")
        send_import(server.port, token, warm)
        worker = worker_pid(server.pid)
        with RssSampler(worker, interval=0.01) as sampler:
            start = time.perf_counter()
            status, body = send_import(server.port, token, path)
            seconds = time.perf_counter() - start
    answer = json.loads(body)
    if status != 200 or answer.get("created") != rows:
        raise RuntimeError(f"import failed with {status}: {body[:500]!r}")
    return seconds, sampler.peak_growth_mb, answer


def send_import(port: int, token: str, path: Path) -> tuple[int, bytes]:
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n\r\n').encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    return stream_post(port, token, "/api/ots/import", content_type, head, path, tail)


def stream_post(
    port: int, token: str, target: str, content_type: str, head: bytes, path: Path, tail: bytes
) -> tuple[int, bytes]:
    """POST ``head`` + the file (read from disk in pieces, never whole) + ``tail`` with a known length."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    try:
        conn.putrequest("POST", target)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
        conn.endheaders()
        conn.send(head)
        with open(path, "rb") as file:
            while piece := file.read(SEND_PIECE):
                conn.send(piece)
        conn.send(tail)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


CHILD_READERS = {
    "openpyxl-normal": "openpyxl normal load_workbook() + iter_rows (the old way)",
    "openpyxl-read-only": "openpyxl load_workbook(read_only=True) + reset_dimensions, its own shared-strings loader",
    "ours-read-only": "our reader alone: the same plus the compact shared-strings table (no HTTP, no DB)",
}


def child_read(kind: str, path: str) -> None:
    """Child-process body: import everything, say ready, wait for 'go', read every row, report."""
    import openpyxl

    from app.imports.spreadsheets import xlsx_rows

    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    if kind == "openpyxl-normal":
        workbook = openpyxl.load_workbook(path)
        count = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    elif kind == "openpyxl-read-only":
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        count = sum(1 for _ in sheet.iter_rows(values_only=True))
    else:
        count = sum(1 for _ in xlsx_rows(path))
    print(json.dumps({"rows": count, "seconds": time.perf_counter() - start}), flush=True)


def measure_child(kind: str, path: Path) -> tuple[float, float, int]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=BACKEND,
    )
    assert child.stdin is not None and child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        raise RuntimeError(f"{kind}: child did not start")
    with RssSampler(child.pid, interval=0.01) as sampler:
        child.stdin.write("go\n")
        child.stdin.flush()
        report = json.loads(child.stdout.readline())
    child.wait(60)
    return report["seconds"], sampler.peak_growth_mb, report["rows"]


# ------------------------------------------------------------------ report


def upload_table(uploads: list[Upload], limits: dict[int, float]) -> str:
    rows = []
    for up in uploads:
        mbps = up.size / MB / up.seconds
        ratio = mbps / limits[up.size]
        ok_memory = up.growth_mb <= GROWTH_TARGET_MB
        ok_speed = ratio >= THROUGHPUT_TARGET
        verdict = "yes" if ok_memory and ok_speed else "no" if up.label.startswith("ours") else "-"
        rows.append(
            [
                up.label,
                up.shape,
                f"{up.size // MB} MB",
                f"{up.seconds:.2f}",
                f"{mbps:.0f}",
                f"{ratio:.2f}x",
                f"{up.growth_mb:.1f}",
                verdict,
            ]
        )
    headers = ["method", "body", "size", "s", "MB/s", "vs limit", "worker peak RSS growth MB", "meets targets"]
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes-mb", default="100,1024", help="upload sizes in MB (default 100,1024)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per upload up to 100 MB (median kept)")
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_read(*args.child)
        return

    work = Path(tempfile.mkdtemp(prefix="nextops-bench-uploads-"))
    try:
        body = run_all(work, [int(s) * MB for s in args.sizes_mb.split(",")], args.repeat, args.import_rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "make bench-uploads" + ("" if len(sys.argv) == 1 else f" BENCH_UPLOADS_ARGS='{' '.join(sys.argv[1:])}'")
    write_result("uploads", "Uploads and OT import: worker memory and throughput", command, body)


def limit_results(
    files: list[tuple[Path, str]], before: dict[Path, tuple[float, float, float]], work: Path
) -> tuple[dict[int, float], list[list[str]]]:
    """Measure the limit again after the uploads (load drifts); the mean of both runs is the reference."""
    limits: dict[int, float] = {}
    rows: list[list[str]] = []
    for path, _ in files:
        size = path.stat().st_size
        runs = {"before the uploads": before[path], "after the uploads": machine_limit(path, work)}
        limits[size] = size / MB / statistics.mean(sum(run) for run in runs.values())
        label = f"{size // MB} MB"
        for when, (sha, cp, sync) in runs.items():
            rows.append([label, when, f"{sha:.2f}", f"{cp:.2f}", f"{sync:.2f}", f"{size / MB / (sha + cp + sync):.0f}"])
        rows.append([label, "**mean: the (b) limit used above**", "", "", "", f"**{limits[size]:.0f}**"])
        rows.append([label, "for reference: Python's hashlib sha256 alone", "", "", "", f"{hashlib_speed(path):.0f}"])
        path.unlink()
    return limits, rows


def run_all(work: Path, sizes: list[int], repeat: int, import_rows: int) -> str:
    places = f"- Work files: {filesystem_of(work)}.\n- /dev/shm: {filesystem_of(Path('/dev/shm'))}."
    print(places)
    load_before = os.getloadavg()[0]
    files = []
    for size in sizes:
        path = work / f"upload-{size // MB}MB.pdf"
        files.append((path, write_random_file(path, size)))
    before = {path: machine_limit(path, work) for path, _ in files}
    uploads = run_uploads(work, files, repeat)
    limits, limit_rows = limit_results(files, before, work)
    import_section = run_import(work, import_rows)
    limit_table = markdown_table(
        ["file", "measured", "sha256sum s", "cp s", "sync s", "MB/s"],
        limit_rows,
    )
    return "\n\n".join(
        [
            "### Uploads (one gevent worker, streaming client on the same machine)",
            upload_table(uploads, limits),
            f"Targets: worker growth <= {GROWTH_TARGET_MB} MB at any size and >= {THROUGHPUT_TARGET}x the machine "
            "limit's throughput. Sizes up to 100 MB: median of "
            f"{repeat} runs (growth: the largest of them); larger sizes: one run.",
            "### (b) Machine limit: sha256sum + cp + sync of the same file (page cache warm)",
            limit_table,
            "### OT import of a " + f"{import_rows:,}-row XLSX",
            import_section,
            "### Conditions",
            f"{places}\n- Load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
            f"on {os.cpu_count()} CPUs: other work on the machine slows every row alike, the baselines included.",
        ]
    )


def run_import(work: Path, rows: int) -> str:
    url = f"sqlite:///{work / 'import.db'}"
    token = prepare_database(url)
    xlsx = write_team_workbook(work, rows, url)
    size_mb = xlsx.stat().st_size / MB
    print(f"  import file: {rows} rows, {size_mb:.1f} MB")
    seconds, growth, _ = import_through_server(work, url, token, xlsx, rows)
    print(f"  import via server: {rows / seconds:.0f} rows/s, +{growth:.1f} MB")
    table = [
        [
            "ours: POST /api/ots/import (upload + read_only parse + team rules + insert, SQLite)",
            f"{seconds:.1f}",
            f"{rows / seconds:,.0f}",
            f"{growth:.1f}",
            "yes" if growth <= IMPORT_GROWTH_TARGET_MB else "no",
        ]
    ]
    for kind, label in CHILD_READERS.items():
        child_seconds, child_growth, count = measure_child(kind, xlsx)
        print(f"  {kind}: {count / child_seconds:.0f} rows/s, +{child_growth:.1f} MB")
        table.append([label, f"{child_seconds:.1f}", f"{count / child_seconds:,.0f}", f"{child_growth:.1f}", "-"])
    about = "a team workbook (`flask import sample`: title rows, the team's headers and date forms), openpyxl"
    return f"File: {size_mb:.1f} MB, {about}.\n\n" + markdown_table(
        ["method", "s", "rows/s", "peak RSS growth MB", f"<= {IMPORT_GROWTH_TARGET_MB} MB"], table
    )


if __name__ == "__main__":
    main()
