"""Benchmark the supplier invoice intake (``make bench-intake``): 200 PDFs and 200 DTE JSONs.

A real gunicorn with ONE gevent worker (SQLite and local storage in a temporary directory), the
worker's RSS sampled every 10 ms. Generated documents only (tests/helpers/pdfs.py and dte.py): each
PDF names an MBL and a container of one OT (``mbl_container``), each DTE an OT number (``ot_number``).

- ours: ``POST /api/invoices/intake``, 10 files per request (store + read + patterns + match + insert);
- baseline, same run, same files, a fresh server and database: plain ``POST /api/uploads``, one file
  per request (store only) — what the intake adds on top of storing is the difference.

Targets: worker RSS growth <= 30 MB over the whole intake; intake throughput >= 0.25x the plain
uploads' (reading a PDF costs more than storing it, but not an order of magnitude more).
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import time
import uuid
from pathlib import Path

from common import RssSampler, markdown_table, write_result

from app.intake.samples import dte_bytes
from ops.process_memory import process_tree
from tests.helpers.pdfs import text_pdf
from tests.helpers.servers import run_gunicorn

BOUNDARY = "nextops-bench-intake"
GROWTH_TARGET_MB = 30
THROUGHPUT_TARGET = 0.25
BATCH = 10
NIT = "0614-150390-101-2"
SERVER_ENV = {
    "GUNICORN_WORKERS": "1",
    "GUNICORN_WORKER_CLASS": "gevent",
    "GUNICORN_MAX_REQUESTS": "0",
    "GUNICORN_MAX_WORKER_MEMORY_MB": "0",
    "GUNICORN_TIMEOUT": "300",
    "LOG_LEVEL": "WARNING",
}


def prepare_database(url: str, ots: int) -> tuple[str, int]:
    """Migrate ``url``; one naviera, one client, ``ots`` OTs with an MBL and a container each; a token."""
    from flask_migrate import upgrade

    from app import create_app
    from app.auth import create_token
    from app.catalogs import ensure_default_cost_types
    from app.extensions import db
    from app.models import Client, Ot, Provider

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        ensure_default_cost_types()
        provider = Provider(name="Naviera Bench, S.A. de C.V.", nit=NIT, type="naviera", credit_days=30)
        client = Client(name="Cliente Bench")
        db.session.add_all([provider, client])
        db.session.flush()
        db.session.add_all(
            Ot(ot_number=f"26OT{n:04d}", client_id=client.id, master_bl=f"MEDUBN{n:06d}", containers=[container(n)])
            for n in range(1, ots + 1)
        )
        db.session.commit()
        token = create_token("bench-intake", "admin")
        provider_id = provider.id
        db.engine.dispose()
    return token, provider_id


def container(n: int) -> str:
    return f"MSCU{n:07d}"


def documents(count: int, offset: int = 0) -> list[tuple[str, bytes]]:
    """``count`` PDFs and ``count`` DTEs, alternating; every invoice number unique."""
    files = []
    for i in range(offset + 1, offset + count + 1):
        lines = [
            f"NAVIERA BENCH S.A. DE C.V.   NIT: {NIT}",
            f"FACTURA No. FB-{i:06d}",
            "Fecha de emision: 15/03/2026",
            f"Total a pagar: US$ {100 + i},50",
            f"Master B/L: MEDUBN{i:06d}",
            f"Contenedor: {container(i)}",
            *(f"Detalle {line}: servicio portuario y manejo de carga" for line in range(20)),
        ]
        files.append((f"factura-{i}.pdf", text_pdf(lines, ["Condiciones de pago: 30 dias"])))
        body = dte_bytes(
            control=f"DTE-01-M001P001-{i:015d}",
            generation=str(uuid.UUID(int=i)).upper(),
            total=100 + i,
            observations=f"Flete OT 26OT{i:04d}",
            lines=[f"Flete maritimo contenedor {container(i)}", "Cargos de naviera"],
        )
        files.append((f"dte-{i}.json", body))
    return files


def multipart(files: list[tuple[str, bytes]]) -> bytes:
    parts = []
    for name, content in files:
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'
        parts.append(head.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def post(port: int, token: str, target: str, body: bytes) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if response.status not in (200, 201):
        raise RuntimeError(f"{target}: {response.status} {data[:300]!r}")
    return json.loads(data)


def worker_pid(master: int) -> int:
    workers = [pid for pid in process_tree(master) if pid != master]
    if len(workers) != 1:
        raise RuntimeError(f"expected one worker under {master}, found {workers}")
    return workers[0]


def run(work: Path, label: str, files: list[tuple[str, bytes]], warm: list[tuple[str, bytes]], intake: bool) -> dict:
    url = f"sqlite:///{work / label}.db"
    token, provider_id = prepare_database(url, ots=len(files) // 2 + len(warm))
    env = {**SERVER_ENV, "DATABASE_URL": url, "STORAGE_DIR": str(work / f"storage-{label}")}
    summary: dict = {"methods": {}, "statuses": {}}
    with run_gunicorn(env, work / f"{label}.log", startup_timeout=60) as server:
        target = "/api/invoices/intake?cost_type=FLETE" if intake else "/api/uploads"
        batches = [files[i : i + BATCH] for i in range(0, len(files), BATCH)] if intake else [[f] for f in files]
        for item in warm:  # first requests: imports, connections, caches
            post(server.port, token, target, multipart([item]))
        with RssSampler(worker_pid(server.pid), interval=0.01) as sampler:
            start = time.perf_counter()
            for batch in batches:
                answer = post(server.port, token, target, multipart(batch))
                for report in answer.get("files", []):
                    summary["statuses"][report["status"]] = summary["statuses"].get(report["status"], 0) + 1
                    method = (report.get("match") or {}).get("method", "unassigned")
                    summary["methods"][method] = summary["methods"].get(method, 0) + 1
            seconds = time.perf_counter() - start
        summary.update(seconds=seconds, growth_mb=sampler.peak_growth_mb, files=len(files), requests=len(batches))
    del provider_id
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200, help="PDFs, and as many DTE JSONs (default 200)")
    args = parser.parse_args()
    files = documents(args.count)
    warm = documents(2, offset=args.count)
    size = sum(len(content) for _, content in files)
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        work = Path(tmp)
        baseline = run(work, "uploads", files, warm, intake=False)
        ours = run(work, "intake", files, warm, intake=True)
    rows = []
    for label, result in (
        ("plain POST /api/uploads, 1 file per request (baseline)", baseline),
        (f"POST /api/invoices/intake, {BATCH} files per request", ours),
    ):
        rows.append(
            [
                label,
                result["files"],
                result["requests"],
                f"{result['seconds']:.2f}",
                f"{result['files'] / result['seconds']:.1f}",
                f"{result['growth_mb']:.1f}",
            ]
        )
    ratio = (ours["files"] / ours["seconds"]) / (baseline["files"] / baseline["seconds"])
    growth_ok = ours["growth_mb"] <= GROWTH_TARGET_MB
    speed_ok = ratio >= THROUGHPUT_TARGET
    body = "\n\n".join(
        [
            f"{args.count} generated PDFs (2 pages, text layer) and {args.count} DTE JSONs, "
            f"{size / 1024:.0f} KB in all; one gevent worker, SQLite, local storage.",
            markdown_table(["method", "files", "requests", "s", "files/s", "worker peak RSS growth MB"], rows),
            markdown_table(
                ["check", "target", "measured", "verdict"],
                [
                    [
                        "intake worker growth",
                        f"<= {GROWTH_TARGET_MB} MB",
                        f"{ours['growth_mb']:.1f} MB",
                        "PASS" if growth_ok else "MISS",
                    ],
                    [
                        "intake files/s vs plain uploads",
                        f">= {THROUGHPUT_TARGET}x",
                        f"{ratio:.2f}x",
                        "PASS" if speed_ok else "MISS",
                    ],
                ],
            ),
            "Intake outcome: statuses "
            + ", ".join(f"{k} {v}" for k, v in sorted(ours["statuses"].items()))
            + "; match methods "
            + ", ".join(f"{k} {v}" for k, v in sorted(ours["methods"].items()))
            + ".",
        ]
    )
    command = "make bench-intake" + (f" BENCH_INTAKE_ARGS='--count {args.count}'" if args.count != 200 else "")
    write_result("intake", f"Supplier invoice intake: {args.count} PDFs and {args.count} DTE JSONs", command, body)


if __name__ == "__main__":
    main()
