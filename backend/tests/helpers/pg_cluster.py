"""A private PostgreSQL cluster for fault tests: initdb'd in a temp dir, on a free port, stopped and
restarted at will (the shared server on 5432 must never be restarted by a test).

The server binaries come from ``/usr/lib/postgresql/<version>/bin`` (Debian/Ubuntu layout) or PATH.
initdb refuses to run as root, so as root every command runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.servers import free_port

SERVER_USER = "postgres"


class ClusterUnavailable(RuntimeError):
    """No way to run a private cluster here; the message says why (tests skip with it)."""


def find_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    raise ClusterUnavailable("PostgreSQL server binaries (pg_ctl, initdb) are not installed")


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ClusterUnavailable(f"running as root and there is no {SERVER_USER!r} user for initdb") from None
    if not shutil.which("runuser"):
        raise ClusterUnavailable("running as root and runuser is missing: initdb cannot run as root")
    return ["runuser", "-u", SERVER_USER, "--"]


@dataclass
class PrivateCluster:
    bin_dir: Path
    root: Path
    port: int
    prefix: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        command = [*self.prefix, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=90)
        if result.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {result.stdout}{result.stderr}\n{log}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-l", str(self.root / "server.log"), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def restart(self) -> None:
        """What an operator's restart does: every connection is cut, the server is back a moment later."""
        self.stop("fast")
        self.start()


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """initdb + start on a free loopback port; stopped (immediate) and deleted afterwards."""
    bin_dir = find_bin_dir()
    prefix = _run_as()
    root = Path(tempfile.mkdtemp(prefix="nextops-pg-"))
    if prefix:
        shutil.chown(root, SERVER_USER)
    init = [*prefix, str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "-A", "trust", "--no-sync"]
    result = subprocess.run(init, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {result.stdout}{result.stderr}")
    cluster = PrivateCluster(bin_dir, root, free_port(), prefix)
    try:
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):  # already stopped by the test
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
