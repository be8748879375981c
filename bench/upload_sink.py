"""Uploads against a bare gunicorn sink, and worker growth on local storage and S3 (``make bench-upload-sink``).

Issue 14, target 6: ``POST /api/uploads`` at 0.9x or more of a bare sink's MB/s, and worker growth of
10 MB or less on a 1 GB upload, on local storage and on S3.

- The sink (``bench/sink_app.py``): a one-function WSGI app reading ``wsgi.input`` in 64 KiB pieces,
  hashing and writing a file (fsync, like our commit). Same gunicorn, same gunicorn.conf.py, one gevent
  worker: the difference is what our endpoint does on top of the bare minimum.
- Ours, ``STORAGE_BACKEND=local`` and ``STORAGE_BACKEND=s3`` against moto's server (a separate process
  on a loopback port), each on a one-worker gunicorn with its own SQLite database.
- Client: curl, the same file from disk, multipart (``-F``) and raw (``-T``), ``Expect:`` disabled. Runs
  alternate (sink, ours; then ours, sink) within each repetition; the ratio is the median of the
  per-repetition ratios, so a slow phase of the shared machine hits both sides of a pair.
- Memory: the worker's RSS sampled every 10 ms; the first upload a fresh worker serves is reported
  apart (it pays one-time costs), the others are "warm". The 1 GB upload runs once per storage, warm.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, RssSampler, markdown_table, write_result
from uploads import clear_uploads, prepare_database, worker_pid, write_random_file

from tests.helpers.servers import free_port, run_gunicorn
from values import MB

BENCH_DIR = ROOT / "bench"
RATIO_TARGET = 0.9
GROWTH_TARGET_MB = 10
BUCKET = "nextops-bench-sink"
SERVER_ENV = {
    "GUNICORN_WORKERS": "1",
    "GUNICORN_WORKER_CLASS": "gevent",
    "GUNICORN_MAX_REQUESTS": "0",
    "GUNICORN_MAX_WORKER_MEMORY_MB": "0",
    "GUNICORN_TIMEOUT": "900",
    "MAX_UPLOAD_MB": "2048",
    "LOG_LEVEL": "WARNING",
}
S3_ENV = {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "S3_ACCESS_KEY_ID": "test", "S3_SECRET_ACCESS_KEY": "test"}
SHAPES = ("multipart", "raw")


@dataclass
class Target:
    key: str
    label: str
    server: object
    database: str | None = None
    storage: Path | None = None
    token: str = ""
    first_growth: float | None = None
    runs: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # shape -> [(seconds, growth MB)]


@contextmanager
def moto_server(work: Path):
    """moto's S3 server in its own process (its CPU and memory are not the worker's); stopped by PID."""
    port = free_port()
    log = open(work / "moto.log", "wb")  # noqa: SIM115  (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def curl_upload(target: Target, path: Path, shape: str) -> tuple[int, float, bytes]:
    """One upload with curl; (HTTP status, curl's time_total, body)."""
    url = target.server.url("/api/uploads")  # type: ignore[attr-defined]
    out = path.with_suffix(f".{target.key}.out")
    command = ["curl", "-sS", "-o", str(out), "-w", "%{http_code} %{time_total}", "-H", "Expect:"]
    if target.token:
        command += ["-H", f"Authorization: Bearer {target.token}"]
    if shape == "multipart":
        command += ["-F", f"file=@{path};type=application/pdf", url]
    else:
        command += ["-X", "POST", "-H", "Content-Type: application/octet-stream", "-T", str(path)]
        command += [f"{url}?filename={path.name}"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    status, seconds = result.stdout.split()
    body = out.read_bytes()
    out.unlink()
    return int(status), float(seconds), body


def measure(target: Target, path: Path, sha256: str, shape: str) -> tuple[float, float]:
    """Upload ``path`` once (stored for real: earlier uploads forgotten); (seconds, worker peak growth MB)."""
    if target.database:
        clear_uploads(target.database, target.storage)  # type: ignore[arg-type]
    worker = worker_pid(target.server.pid)  # type: ignore[attr-defined]
    with RssSampler(worker, interval=0.01) as sampler:
        status, seconds, body = curl_upload(target, path, shape)
    answer = json.loads(body)
    expected_ok = status in (200, 201) and (answer.get("sha256") == sha256 or target.key == "sink")
    if not expected_ok:
        raise RuntimeError(f"{target.label} {shape}: {status} {body[:300]!r}")
    return seconds, sampler.peak_growth_mb


def start_targets(stack, work: Path, endpoint: str) -> list[Target]:
    """The sink and our two storages, each a one-worker gunicorn, kept running for the whole benchmark."""
    sink_dir = work / "sink"
    sink_dir.mkdir()
    sink_env = {**SERVER_ENV, "PYTHONPATH": str(BENCH_DIR), "SINK_DIR": str(sink_dir)}
    targets = [
        Target("sink", "bare gunicorn sink (64 KiB reads, sha256, file + fsync)", None),
        Target("local", "ours, STORAGE_BACKEND=local", None),
        Target("s3", "ours, STORAGE_BACKEND=s3 (moto server)", None),
    ]
    targets[0].server = stack.enter_context(run_gunicorn(sink_env, work / "sink.log", app="sink_app:app"))
    for target in targets[1:]:
        target.database = f"sqlite:///{work / target.key}.db"
        target.storage = work / f"storage-{target.key}"
        target.token = prepare_database(target.database)
        env = {**SERVER_ENV, "DATABASE_URL": target.database, "STORAGE_DIR": str(target.storage)}
        if target.key == "s3":
            env |= {**S3_ENV, "STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": endpoint}
        target.server = stack.enter_context(run_gunicorn(env, work / f"{target.key}.log", startup_timeout=90))
    return targets


def run(work: Path, size: int, big: int, repeat: int) -> str:
    from contextlib import ExitStack

    load_start = os.getloadavg()
    path, big_path = work / f"upload-{size // MB}MB.pdf", work / f"upload-{big // MB}MB.pdf"
    sha = write_random_file(path, size)
    big_sha = write_random_file(big_path, big) if big else ""
    with moto_server(work) as endpoint, ExitStack() as stack:
        targets = start_targets(stack, work, endpoint)
        sink, local, s3 = targets
        for target in targets:  # the first upload each fresh worker serves: one-time costs
            target.first_growth = measure(target, path, sha, "multipart")[1]
            print(f"  first upload, {target.key}: +{target.first_growth:.1f} MB", flush=True)
        for rep in range(repeat):
            for shape in SHAPES:
                order = [sink, local] if rep % 2 == 0 else [local, sink]
                for target in [*order, s3]:
                    target.runs.setdefault(shape, []).append(measure(target, path, sha, shape))
                    seconds, growth = target.runs[shape][-1]
                    print(f"  rep {rep} {shape} {target.key}: {size / MB / seconds:.0f} MB/s, +{growth:.1f} MB")
        big_rows = []
        if big:
            for target in (sink, local, s3):
                seconds, growth = measure(target, big_path, big_sha, "multipart")
                print(f"  {big // MB} MB {target.key}: {big / MB / seconds:.0f} MB/s, +{growth:.1f} MB", flush=True)
                big_rows.append((target, seconds, growth))
    return report(targets, size, big, big_rows, repeat, load_start)


def paired_ratio(ours: list[tuple[float, float]], sink: list[tuple[float, float]]) -> float:
    """Median over repetitions of (our MB/s / the sink's MB/s in the same repetition)."""
    return statistics.median(s_seconds / o_seconds for (o_seconds, _), (s_seconds, _) in zip(ours, sink, strict=True))


def report(targets: list[Target], size: int, big: int, big_rows: list, repeat: int, load_start: tuple) -> str:
    sink = targets[0]
    rows, verdicts = [], []
    for target in targets:
        for shape in SHAPES:
            runs = target.runs[shape]
            seconds = statistics.median(run[0] for run in runs)
            ratio = paired_ratio(runs, sink.runs[shape]) if target is not sink else 1.0
            rows.append(
                [
                    target.label,
                    shape,
                    f"{seconds:.2f}",
                    f"{size / MB / seconds:.0f}",
                    f"{ratio:.2f}x",
                    f"{max(run[1] for run in runs):.1f}",
                ]
            )
            if target.key == "local":
                verdict = "PASS" if ratio >= RATIO_TARGET else "MISS"
                verdicts.append(
                    f"- Target 6 (uploads, {shape}, local storage) ≥ {RATIO_TARGET}x the bare sink's MB/s:"
                    f" {ratio:.2f}x → {verdict}"
                )
            elif target.key == "s3":
                verdicts.append(
                    f"- (not a target) {shape} to S3 through moto's server, against the same local-file sink:"
                    f" {ratio:.2f}x (moto, a Python server on the same 2 cores, sets this pace)"
                )
    table = markdown_table(
        ["upload", "body", "median s", "MB/s", "vs sink (paired median)", "worker peak RSS growth MB (warm, max)"], rows
    )
    big_table = markdown_table(
        ["upload", "size", "s", "MB/s", "worker peak RSS growth MB"],
        [[t.label, f"{big // MB} MB", f"{s:.1f}", f"{big / MB / s:.0f}", f"{g:.1f}"] for t, s, g in big_rows],
    )
    for target, _, growth in big_rows:
        if target.key != "sink":
            verdict = "PASS" if growth <= GROWTH_TARGET_MB else "MISS"
            verdicts.append(
                f"- Target 6 (worker growth on a {big // MB} MB upload, {target.key}) ≤ {GROWTH_TARGET_MB} MB:"
                f" {growth:.1f} MB → {verdict}"
            )
    first = markdown_table(
        ["server", f"first {size // MB} MB upload after boot: worker peak RSS growth MB"],
        [[t.label, f"{t.first_growth:.1f}"] for t in targets],
    )
    s3_first = targets[2].first_growth or 0.0
    verdicts.append(
        f"- The first S3 upload a fresh worker serves ≤ {GROWTH_TARGET_MB} MB growth: {s3_first:.1f} MB →"
        f" {'PASS' if s3_first <= GROWTH_TARGET_MB else 'MISS'}"
    )
    load_end = os.getloadavg()
    return "\n\n".join(
        [
            f"### {size // MB} MB, curl, alternating runs ({repeat} repetitions per body shape)",
            table,
            f"### {big // MB} MB, one run each (warm workers)" if big else "",
            big_table if big else "",
            "### First upload after boot",
            first,
            "### Targets",
            "\n".join(verdicts),
            "### Conditions",
            f"- Load average (1 min) {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end, on"
            f" {os.cpu_count()} CPUs (the machine is shared; the paired ratio is what to read).",
            "- Files on " + str(Path(tempfile.gettempdir()).resolve()) + "; moto keeps objects in its own process.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=200, help="the alternating runs' file (200)")
    parser.add_argument("--big-mb", type=int, default=1024, help="the one-run growth check (1024; 0 skips it)")
    parser.add_argument("--repeat", type=int, default=4, help="repetitions per body shape (4)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nextops-bench-sink-"))
    try:
        body = run(work, args.size_mb * MB, args.big_mb * MB, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "make bench-upload-sink" + ("" if len(sys.argv) == 1 else f" BENCH_SINK_ARGS='{' '.join(sys.argv[1:])}'")
    write_result("upload-sink", "Uploads against a bare gunicorn sink; worker growth on local and S3", command, body)


if __name__ == "__main__":
    main()
