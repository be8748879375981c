"""Two instances on one PostgreSQL, Redis and S3 bucket: the multi-instance proof as a benchmark, PASS/MISS per check.

The setup is the test's (``backend/tests/helpers/instances.py``): two real gunicorn masters (2 gevent
workers each) on loopback ports, a PostgreSQL schema of their own, Redis database 6 (``TEST_REDIS_URL``)
and moto's S3 server. Checks:

- both instances answer ``/health/ready``;
- upload throughput: ``--files`` new PDFs of ``--size-mb`` MB from 4 clients, all to A, then all to B, then
  alternating A/B (same run, after a warm-up); target: through both ≥ 0.8x the mean of A alone and B alone
  (sharing the database and the
  bucket costs no more than that). On one machine the instances share its cores and the S3 endpoint, so
  this measures contention, not scaling;
- every document uploaded on one instance downloads, byte-identical, from the other;
- ``--races`` new files each sent to A and B at the same moment: one document, one object, same id;
- nothing orphaned: every object in the bucket is a document's file and no multipart upload is open;
- a session signed in on A is valid on B;
- each instance's ``/metrics`` counts the uploads it served.

PostgreSQL: ``BENCH_DATABASE_URL`` (default: the local test server), as the other benchmarks.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from common import DEFAULT_PG, markdown_table, write_result

from tests.helpers.instances import Cluster, shared_services_missing, two_instances
from values import MB

METRICS_TOKEN = "bench-scale-scraper"
PASSWORD = "correct horse battery"
THROUGHPUT_TARGET = 0.8


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def pdf(size: int) -> bytes:
    return (b"%PDF-1.7\n" + os.urandom(size))[:size]


def send(url: str, data: bytes, headers: dict[str, str]) -> dict:
    response = requests.post(url, files={"file": ("doc.pdf", data, "application/pdf")}, headers=headers, timeout=120)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
    return response.json()


def throughput(
    cluster: Cluster, targets: list[str], files: int, size: int, headers: dict[str, str]
) -> tuple[float, list]:
    """MB/s of ``files`` new uploads from 4 clients, the i-th to ``targets[i % len]``; the answers."""
    bodies = [pdf(size) for _ in range(files)]
    urls = [{"a": cluster.a, "b": cluster.b}[targets[i % len(targets)]].url("/api/uploads") for i in range(files)]
    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda pair: send(pair[0], pair[1], headers), zip(urls, bodies, strict=True)))
    seconds = time.perf_counter() - started
    return files * size / MB / seconds, list(zip(answers, bodies, strict=True))


def downloads_match(cluster: Cluster, stored: list, headers: dict[str, str]) -> bool:
    """Each document, downloaded from the instance that did not store it... or from B, then A: both serve all."""
    for index, (answer, body) in enumerate(stored):
        server = cluster.b if index % 2 == 0 else cluster.a
        got = requests.get(server.url(answer["content_url"]), headers=headers, timeout=120)
        if got.status_code != 200 or got.content != body:
            return False
    return True


def races(cluster: Cluster, count: int, size: int, headers: dict[str, str]) -> tuple[int, int]:
    """Same new file to A and B at once, ``count`` times; return (rounds stored once, rounds)."""
    good = 0
    for _ in range(count):
        data = pdf(size)
        barrier = threading.Barrier(2)
        answers: list[dict] = []

        def post(server, data: bytes = data, barrier: threading.Barrier = barrier, answers: list = answers) -> None:
            barrier.wait()
            answers.append(send(server.url("/api/uploads"), data, headers))

        threads = [threading.Thread(target=post, args=(server,)) for server in cluster.instances]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        sha = hashlib.sha256(data).hexdigest()
        objects = [key for key in cluster.bucket()[0] if key.endswith(sha)]
        same = len(answers) == 2 and answers[0]["id"] == answers[1]["id"]
        good += same and sorted(a["duplicate"] for a in answers) == [False, True] and len(objects) == 1
    return good, count


def orphans(cluster: Cluster) -> tuple[int, int, int]:
    """(objects with no document row, document rows with no object, multipart uploads open)."""
    from sqlalchemy import create_engine, text

    objects, open_uploads = cluster.bucket()
    engine = create_engine(cluster.env["DATABASE_URL"])
    with engine.connect() as conn:
        keys = set(conn.scalars(text("SELECT storage_key FROM stored_files")))
    engine.dispose()
    return len(set(objects) - keys), len(keys - set(objects)), len(open_uploads)


def session_crosses(cluster: Cluster) -> bool:
    cluster.flask(
        "users",
        "create",
        "--email",
        "bench@plg.sv",
        "--name",
        "Bench",
        "--role",
        "operativo",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    with requests.Session() as browser:
        page = browser.get(cluster.a.url("/login"), timeout=10).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        browser.post(
            cluster.a.url("/login"),
            data={"email": "bench@plg.sv", "password": PASSWORD, "csrf_token": csrf},
            headers={"Accept": "application/json"},
            timeout=10,
        )
        return browser.get(cluster.b.url("/api/session"), timeout=10).status_code == 200


def uploads_counted(server) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(server.url("/metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "nextops_http_request_seconds_count" and sample.labels.get("endpoint") == "uploads.upload"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40, help="uploads per throughput run (40)")
    parser.add_argument("--size-mb", type=float, default=1.0, help="size of each upload, MB (1)")
    parser.add_argument("--races", type=int, default=10, help="simultaneous duplicate pairs (10)")
    args = parser.parse_args(argv)
    database = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_PG
    missing = shared_services_missing(database)
    if missing:
        print(f"bench/scale.py: {missing}", file=sys.stderr)
        return 2
    size = int(args.size_mb * MB)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every S3 call at INFO
    with (
        tempfile.TemporaryDirectory() as work,
        two_instances(Path(work), {"METRICS_TOKEN": METRICS_TOKEN}, database_url=database) as cluster,
    ):
        headers = {"Authorization": f"Bearer {cluster.token('admin')}"}
        ready = all(requests.get(s.url("/health/ready"), timeout=10).status_code == 200 for s in cluster.instances)
        throughput(cluster, ["a", "b"], 8, size, headers)  # warm-up: every worker's first upload, connections
        before = [uploads_counted(server) for server in cluster.instances]
        only_a, stored_a = throughput(cluster, ["a"], args.files, size, headers)
        only_b, stored_b = throughput(cluster, ["b"], args.files, size, headers)
        both, stored_both = throughput(cluster, ["a", "b"], args.files, size, headers)
        sent = [args.files + (args.files + 1) // 2, args.files + args.files // 2]  # its own run + its half of both
        counted = [uploads_counted(server) - base for server, base in zip(cluster.instances, before, strict=True)]
        served = downloads_match(cluster, stored_a + stored_b + stored_both, headers)
        raced, rounds = races(cluster, args.races, size, headers)
        lost, missing_files, open_uploads = orphans(cluster)
        crosses = session_crosses(cluster)
    ratio = both / ((only_a + only_b) / 2)
    rows = [
        ["both instances answer /health/ready", "yes" if ready else "no", verdict(ready)],
        [f"upload MB/s, all to A ({args.files} x {args.size_mb:g} MB, 4 clients)", f"{only_a:.1f}", ""],
        ["upload MB/s, all to B", f"{only_b:.1f}", ""],
        [
            "upload MB/s, alternating A/B",
            f"{both:.1f} ({ratio:.2f}x one instance)",
            verdict(ratio >= THROUGHPUT_TARGET),
        ],
        ["every document downloads byte-identical from the other instance", "yes" if served else "no", verdict(served)],
        ["raced duplicates stored once, same id", f"{raced}/{rounds}", verdict(raced == rounds)],
        [
            "objects without a document / documents without an object / open multipart uploads",
            f"{lost} / {missing_files} / {open_uploads}",
            verdict(lost == missing_files == open_uploads == 0),
        ],
        ["session signed in on A valid on B", "yes" if crosses else "no", verdict(crosses)],
        [
            "uploads counted by A's and B's /metrics vs sent",
            f"{counted[0]:.0f}, {counted[1]:.0f} vs {sent[0]}, {sent[1]}",
            verdict(counted == sent),
        ],
    ]
    failed = [row[0] for row in rows if row[2] == "MISS"]
    body = "\n".join(
        [
            "### Two instances, one PostgreSQL, one Redis, one S3 bucket (moto's server)",
            "",
            markdown_table(["check", "result", "verdict"], rows),
            "",
            f"- two-instance proof: {sum(row[2] == 'PASS' for row in rows)} of {sum(bool(row[2]) for row in rows)}"
            f" checks pass → {verdict(not failed)}" + (f" (missed: {'; '.join(failed)})" if failed else ""),
            "- Both instances and the S3 endpoint run on this one machine and share its cores: the throughput rows"
            " measure what sharing the database and the bucket costs, not what a second machine would add.",
        ]
    )
    write_result("scale", "Scale: two instances sharing PostgreSQL, Redis and S3", "make bench-scale", body)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
