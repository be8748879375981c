"""Start and stop a real gunicorn for integration tests and benchmarks.

The server runs ``gunicorn wsgi:app`` from backend/ (so ``gunicorn.conf.py`` applies) on a free
loopback port, logs to a file the caller can read, and is stopped by PID.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

BACKEND_DIR = Path(__file__).resolve().parents[2]
# Servers on a PostgreSQL URL refuse to start without SECRET_KEY; these are throwaway test and bench servers.
SERVER_SECRET_KEY = "test-and-bench-servers-only"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class GunicornServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM the master (graceful), SIGKILL after ``timeout``; return the exit code.

        A graceful stop takes a second or two; the margin is for a machine whose cores other test
        suites and benchmarks are using at the same time.
        """
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(5)
        return self.process.returncode


def wait_for_health(server: GunicornServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log_text()[-4000:]}")
        try:
            if requests.get(server.url("/health"), timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer /health in {timeout}s:\n{server.log_text()[-4000:]}")


@contextmanager
def run_gunicorn(
    env: Mapping[str, str],
    log_path: Path,
    extra_args: tuple[str, ...] = (),
    startup_timeout: float = 30,
    app: str = "wsgi:app",
    port: int | None = None,
) -> Iterator[GunicornServer]:
    """Run gunicorn with ``env`` layered over this process's environment; stop it on exit.

    Inherited ``GUNICORN_*`` variables are dropped, so a developer's shell cannot change the server a
    test or benchmark measures; ``SECRET_KEY`` gets a fixed throwaway value unless one is given.
    ``app`` is gunicorn's WSGI target (benchmarks pass a bench-only baseline app with bench/ on
    PYTHONPATH). ``port`` defaults to a free one.
    """
    port = port or free_port()
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("GUNICORN_")}
    full_env = {"SECRET_KEY": SERVER_SECRET_KEY, **inherited, **env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app, *extra_args],
            cwd=BACKEND_DIR,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = GunicornServer(process, port, log_path)
    try:
        wait_for_health(server, startup_timeout)
        yield server
    finally:
        server.stop()
