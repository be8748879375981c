"""Start and stop a real ``flask rq-worker`` (the background-export worker) for tests and benchmarks.

It runs from backend/ in a session of its own, logs to a file the caller can read, and is stopped
by PID. Its work horses (RQ forks one per job, in a process group of its own) are found through the
job rows (``worker_pid``), so a test can kill the horse, the worker, or both.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
TEST_REDIS_URL = "redis://127.0.0.1:6379/5"  # this suite's own Redis database: flushed by its tests only


@dataclass
class RqWorker:
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (RQ's warm shutdown: the current job finishes), SIGKILL after ``timeout``."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout)
        with contextlib.suppress(ProcessLookupError):  # its scheduler, should it outlive it
            os.killpg(self.pid, signal.SIGKILL)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the worker and its scheduler (its session's process group; work horses have their own)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(30)


def wait_until_listening(worker: RqWorker, redis_url: str, timeout: float = 60) -> None:
    """Until the worker has registered itself in Redis (whatever its log level), or fail with its log."""
    from redis import Redis
    from rq import Worker

    deadline = time.monotonic() + timeout
    with Redis.from_url(redis_url) as connection:
        while time.monotonic() < deadline:
            if not worker.alive():
                raise RuntimeError(
                    f"flask rq-worker exited with {worker.process.returncode}:\n{worker.log_text()[-4000:]}"
                )
            if any(found.pid == worker.pid for found in Worker.all(connection=connection)):
                return
            time.sleep(0.1)
    raise RuntimeError(f"flask rq-worker did not start within {timeout} s:\n{worker.log_text()[-4000:]}")


@contextmanager
def rq_worker(env: Mapping[str, str], log_path: Path) -> Iterator[RqWorker]:
    """A running ``flask rq-worker`` with ``env`` on top of this process's environment, stopped afterwards."""
    full_env = {**os.environ, "FLASK_APP": "wsgi", "REDIS_URL": TEST_REDIS_URL, **env}
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [FLASK, "rq-worker"],
            cwd=BACKEND_DIR,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = RqWorker(process, log_path)
    try:
        wait_until_listening(worker, full_env["REDIS_URL"])
        yield worker
    finally:
        worker.stop()
