"""Real gunicorn: what the master shares with its workers, the memory check's two front doors and
``--url``, memory-based worker recycling under load, and gevent + preload cooperation on PostgreSQL.

Memory measurement does not depend on the database, so those tests run once (SQLite); the master's
file descriptors and the gevent test are about the database and run where it matters.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ops.gunicorn_master import remove_stale_pidfile, scan_for_masters
from ops.memory_check import main as check_memory_main
from tests.helpers.servers import BACKEND_DIR, run_gunicorn

pytestmark = pytest.mark.gunicorn
CHECK_MEMORY = BACKEND_DIR / "check_memory.py"


@pytest.fixture
def sqlite_only(database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("measures processes, not the database: SQLite run only")


def worker_pids(server) -> set[int]:
    return {child.pid for child in psutil.Process(server.pid).children()}


def wait_for_workers(server, count: int, timeout: float = 15) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = worker_pids(server)
        if len(pids) == count:
            return pids
        time.sleep(0.1)
    raise AssertionError(f"expected {count} workers, have {worker_pids(server)}")


def open_fds(pid: int) -> dict[int, str]:
    fd_dir = Path(f"/proc/{pid}/fd")
    result = {}
    for entry in fd_dir.iterdir():
        try:
            result[int(entry.name)] = os.readlink(entry)
        except FileNotFoundError:
            continue
    return result


def test_master_shares_only_the_listener_with_its_workers(server_env, tmp_path, auth, seeded):
    """With preload the app is built in the master; it must open no DB connection or file there."""
    with run_gunicorn(server_env, tmp_path / "gunicorn.log") as server:
        for path in ("/health/ready", "/api/invoices?limit=5", "/api/ots?limit=5"):
            response = requests.get(server.url(path), headers={**auth, "Connection": "close"}, timeout=10)
            assert response.status_code == 200
        fds = open_fds(server.pid)
        listeners = {
            conn.fd
            for conn in psutil.Process(server.pid).net_connections("inet")
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == server.port
        }
        sockets = {fd for fd, target in fds.items() if target.startswith("socket:")}
        files = {target for target in fds.values() if target.startswith("/")}
        log = server.log_text()
    assert listeners and sockets == listeners, f"master sockets {fds}"
    allowed = {"/dev/null", str(server.log_path)}
    unexpected = {f for f in files if f not in allowed and not re.match(r".*/wgunicorn-\w+( \(deleted\))?$", f)}
    assert unexpected == set(), f"files the master holds open (and every worker inherits): {unexpected}"
    assert re.search(r"gc\.freeze\(\): \d+ objects moved to the permanent generation", log)


def check_memory_subprocess(server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{server.port}"}
    env.pop("GUNICORN_PIDFILE", None)
    return subprocess.run(
        [sys.executable, str(CHECK_MEMORY), *args], env=env, cwd="/", capture_output=True, text=True, timeout=60
    )


def test_memory_check_finds_the_master_and_both_workers(server_env, tmp_path, runner, sqlite_only, monkeypatch, capsys):
    with run_gunicorn(server_env, tmp_path / "gunicorn.log") as server:
        workers = wait_for_workers(server, 2)

        # Front door 1: the script, run from another directory, finds the master through the pidfile.
        result = check_memory_subprocess(server, "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        tree = report["gunicorn"]
        assert tree["master_pid"] == server.pid
        assert {p["pid"] for p in tree["processes"] if p["role"] == "worker"} == workers
        assert all(p["pss_mb"] > 0 for p in tree["processes"])
        assert tree["totals"]["pss_mb"] < tree["totals"]["rss_mb"]  # shared pages: PSS is the honest sum
        assert report["status"] == "EXCELLENT"
        assert "pidfile" in report["source"]
        assert report["settings"]["source"] == "master process"

        # Front door 2: `flask memory-check`, same parser and report.
        flask_result = runner.invoke(args=["memory-check", "--json", "--pid", str(server.pid)])
        assert flask_result.exit_code == 0, flask_result.output
        assert json.loads(flask_result.output)["gunicorn"]["master_pid"] == server.pid

        # Injected thresholds decide the status and the exit code.
        monkeypatch.setenv("GUNICORN_BIND", f"127.0.0.1:{server.port}")
        cases = [
            ([], 0, "EXCELLENT"),
            (["--excellent-mb", "1"], 0, "GOOD"),
            (["--excellent-mb", "1", "--good-mb", "2"], 1, "WARNING"),
            (["--excellent-mb", "1", "--good-mb", "2", "--warning-mb", "3"], 2, "CRITICAL"),
        ]
        for args, exit_code, status in cases:
            capsys.readouterr()
            assert check_memory_main(["--json", *args]) == exit_code
            assert json.loads(capsys.readouterr().out)["status"] == status
        assert check_memory_main([]) == 0
        text_report = capsys.readouterr().out
        for heading in (" Memory Usage:", "   RSS (Physical):", " Status:", " Recommendations:"):
            assert heading in text_report
        assert f"gunicorn master {server.pid} with 2 workers" in text_report
        assert server.pid in scan_for_masters()
        live_pidfile = report["settings"]["pidfile"]
        assert remove_stale_pidfile(live_pidfile) is False  # a running master's pidfile stays
        assert Path(live_pidfile).read_text().strip() == str(server.pid)

    # Could not measure: the master is gone (its pidfile went with it), or the PID is not gunicorn.
    assert check_memory_main(["--pid", str(os.getpid())]) == 3
    assert "is not a running gunicorn process" in capsys.readouterr().out


def test_memory_check_url_reads_a_live_server(server_env, tmp_path, admin_token, user_token, sqlite_only, capsys):
    with run_gunicorn(server_env, tmp_path / "gunicorn.log") as server:
        workers = wait_for_workers(server, 2)
        assert check_memory_main(["--url", server.url(), "--token", admin_token, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["gunicorn"]["master_pid"] == server.pid
        assert {p["pid"] for p in report["gunicorn"]["processes"] if p["role"] == "worker"} == workers
        assert report["worker"]["pid"] in workers
        assert report["worker"]["under_gunicorn"] is True
        assert report["source"] == f"deployed instance {server.url()}"

        limits = ["--excellent-mb", "1", "--good-mb", "1", "--warning-mb", "1"]
        assert check_memory_main(["--url", server.url(), "--token", admin_token, *limits]) == 2
        assert "CRITICAL - Memory usage is too high" in capsys.readouterr().out

        assert check_memory_main(["--url", server.url(), "--token", user_token]) == 3
        assert "HTTP 403" in capsys.readouterr().out
    assert check_memory_main(["--url", server.url(), "--token", admin_token, "--timeout", "2"]) == 3


def test_workers_over_the_memory_limit_are_retired_under_load(server_env, tmp_path, auth, sqlite_only):
    """Leaking requests push workers over a low limit; every request still succeeds.

    Five clients keep going until four different workers have answered (both originals replaced),
    with a cap so a broken recycler fails the test instead of hanging it.
    """
    env = {
        **server_env,
        "NEXTOPS_ENABLE_TEST_ROUTES": "1",
        "GUNICORN_MAX_WORKER_MEMORY_MB": "110",  # an idle preloaded worker is ~75 MB RSS here
        "GUNICORN_MAX_REQUESTS": "0",  # only memory may replace a worker in this test
    }
    seen: set[int] = set()
    results: list[tuple[int, int]] = []
    lock = threading.Lock()
    max_requests_per_client = 120

    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        original = wait_for_workers(server, 2)

        def client(index: int) -> None:
            with requests.Session() as session:
                for n in range(max_requests_per_client):
                    if len(seen) >= 4:
                        return
                    if (index + n) % 3:
                        response = session.post(server.url("/api/monitoring/test/leak?mb=2"), headers=auth, timeout=60)
                        pid = response.json()["pid"] if response.status_code == 200 else 0
                    else:
                        response = session.get(server.url("/health"), timeout=60)
                        pid = 0
                    with lock:
                        results.append((response.status_code, pid))
                        if pid:
                            seen.add(pid)

        with ThreadPoolExecutor(5) as pool:
            list(pool.map(client, range(5)))
        final = wait_for_workers(server, 2)
        scrape = requests.get(server.url("/metrics"), headers=auth, timeout=30)
        log = server.log_text()

    assert [status for status, _ in results] == [200] * len(results)
    retired = {int(pid) for pid in re.findall(r"Retiring worker (\d+): RSS [\d.]+ MB above", log)}
    counted = [
        sample.value
        for family in text_string_to_metric_families(scrape.text)
        for sample in family.samples
        if sample.name == "nextops_worker_retirements_total" and sample.labels == {"reason": "memory"}
    ]
    assert counted == [len(retired)], "/metrics counts every memory retirement, across the recycled workers"
    replaced = (original | seen) - final
    assert len(seen) > 2, f"no worker was replaced in {len(results)} requests"
    assert replaced <= retired, f"workers gone without a retirement line: {replaced - retired}"


@pytest.mark.postgresql
def test_gevent_preload_db_calls_cooperate(server_env, tmp_path, auth, database_url):
    """One gevent worker: two pg_sleep requests overlap and /health answers while both sleep."""
    if not database_url.startswith("postgresql"):
        pytest.skip("pg_sleep needs PostgreSQL")
    name = f"nextops-gevent-{os.getpid()}-{time.monotonic_ns()}"
    url = make_url(database_url).update_query_dict({"application_name": name})
    env = {
        **server_env,
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "NEXTOPS_ENABLE_TEST_ROUTES": "1",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_WORKER_CLASS": "gevent",
        "GUNICORN_PRELOAD": "true",
    }
    observer = create_engine(make_url(database_url).set(query={}), isolation_level="AUTOCOMMIT")

    def sleeping() -> int:
        with observer.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"
                    " AND state = 'active' AND query LIKE 'SELECT pg_sleep%'"
                ),
                {"name": name},
            ).scalar_one()

    try:
        with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
            slow_url = server.url("/api/monitoring/test/slow-query?seconds=2")
            closing = {**auth, "Connection": "close"}  # no idle keep-alive to hold up the graceful stop
            with ThreadPoolExecutor(2) as pool:
                slow = [pool.submit(requests.get, slow_url, headers=closing, timeout=30) for _ in range(2)]
                deadline = time.monotonic() + 10
                while sleeping() < 2:
                    assert time.monotonic() < deadline, "the two pg_sleep queries never ran at the same time"
                    time.sleep(0.05)
                health = requests.get(server.url("/health"), headers={"Connection": "close"}, timeout=10)
                still_sleeping = sleeping()
                bodies = [future.result().json() for future in slow]
    finally:
        observer.dispose()

    assert health.status_code == 200
    assert still_sleeping == 2, "/health waited for the database: the worker's hub was blocked"
    assert bodies[0]["pid"] == bodies[1]["pid"]
    assert max(b["started"] for b in bodies) < min(b["finished"] for b in bodies)  # the sleeps overlapped


def test_a_retiring_worker_is_replaced_while_its_request_is_still_in_flight(
    server_env, tmp_path, admin_token, sqlite_only
):
    """One worker, max_requests 4: while the worker that reached its limit still streams an upload, new
    connections are served by its replacement; the extra slot is given back when the old worker exits.

    Without the early replacement the port has no accepting worker until the in-flight request ends
    (the /health calls below then time out).
    """
    import socket

    env = dict(server_env, GUNICORN_WORKERS="1", GUNICORN_MAX_REQUESTS="4", GUNICORN_MAX_REQUESTS_JITTER="0")
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        (first,) = wait_for_workers(server, 1)
        upload = socket.create_connection(("127.0.0.1", server.port))
        upload.sendall(
            b"POST /api/uploads?filename=slow.pdf HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            + f"Authorization: Bearer {admin_token}\r\n".encode()
            + b"Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n%PDF-1.4\n"
        )
        try:
            for _ in range(6):
                response = requests.get(server.url("/health"), headers={"Connection": "close"}, timeout=10)
                assert response.status_code == 200
            time.sleep(1.5)  # a gevent worker closes its listener on its next 1 s tick after retiring
            response = requests.get(server.url("/health"), headers={"Connection": "close"}, timeout=5)
            assert response.status_code == 200, "a new connection is accepted while the old worker finishes"
            assert first in worker_pids(server), "the first worker is still finishing the upload"
            assert len(worker_pids(server)) >= 2
        finally:
            upload.close()
        remaining = wait_for_workers(server, 1)
        assert first not in remaining
    assert "its replacement starts now" in server.log_text()
