"""Find the gunicorn master the memory check should measure, never the checking process itself.

A checker that measures its own interpreter says nothing about the service. Order of
preference: an explicit PID, the pidfile ``gunicorn.conf.py`` writes (``GUNICORN_PIDFILE``, by default
``<tmp>/nextops-gunicorn-<port>.pid``), any other NextOps pidfile in the temp dir, and finally a scan
for gunicorn processes whose parent is not gunicorn.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from config import gunicorn_settings

PIDFILE_GLOB = "nextops-gunicorn-*.pid"


class MasterNotFound(LookupError):
    """No single gunicorn master could be identified; the message says what was tried."""


class NotAMaster(ValueError):
    """``--pid`` names a gunicorn worker: measuring it as a master would report "0 workers", all fine."""


@dataclass(frozen=True)
class MasterLookup:
    pid: int
    found_by: str


def find_master(
    pid: int | None = None, pidfile: str | None = None, env: Mapping[str, str] | None = None
) -> MasterLookup:
    """Resolve the master PID or raise ``MasterNotFound``."""
    if pid is not None:
        if not _is_gunicorn(pid):
            raise MasterNotFound(f"PID {pid} is not a running gunicorn process")
        parent = _parent(pid)
        if parent is not None and _is_gunicorn(parent):
            raise NotAMaster(
                f"PID {pid} is a gunicorn worker (its parent {parent} is the master): pass --pid {parent},"
                " or no --pid to find the master by its pidfile"
            )
        return MasterLookup(pid, "--pid")
    configured = pidfile or gunicorn_settings(os.environ if env is None else env).pidfile
    from_file = _read_pidfile(Path(configured))
    if from_file is not None:
        return MasterLookup(from_file, f"pidfile {configured}")
    others = [
        found for path in sorted(Path(tempfile.gettempdir()).glob(PIDFILE_GLOB)) if (found := _read_pidfile(path))
    ]
    if len(others) == 1:
        return MasterLookup(others[0], "the only NextOps pidfile in the temp dir")
    masters = scan_for_masters()
    if len(masters) == 1:
        return MasterLookup(masters[0], "process scan")
    if masters:
        raise MasterNotFound(f"several gunicorn masters are running ({', '.join(map(str, masters))}): pass --pid")
    raise MasterNotFound(f"no gunicorn master found (pidfile {configured} absent or stale, no gunicorn process)")


def _read_pidfile(path: Path) -> int | None:
    try:
        raw = path.read_text().strip()
    except OSError:
        return None
    if not raw.isdigit():
        return None
    pid = int(raw)
    return pid if _is_gunicorn(pid) else None


def remove_stale_pidfile(path: str) -> bool:
    """Delete ``path`` if the PID in it is not a running gunicorn; return whether it was removed.

    gunicorn refuses to start when its pidfile names any live process, and a master that was killed
    (SIGKILL, OOM) leaves its file behind: once the PID is reused, that port could not start again.
    """
    pidfile = Path(path)
    if not pidfile.exists() or _read_pidfile(pidfile) is not None:
        return False
    pidfile.unlink(missing_ok=True)
    return True


def _parent(pid: int) -> int | None:
    try:
        return psutil.Process(pid).ppid()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _is_gunicorn(pid: int) -> bool:
    try:
        return is_gunicorn_cmdline(psutil.Process(pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def is_gunicorn_cmdline(cmdline: list[str]) -> bool:
    """``gunicorn ...``, ``python .venv/bin/gunicorn ...``, ``python -m gunicorn ...`` or a retitled
    ``gunicorn: master [...]``; not merely any command mentioning gunicorn (``pytest test_gunicorn.py``)."""
    return any(Path(part).name == "gunicorn" or part.startswith("gunicorn:") for part in cmdline[:3])


def scan_for_masters() -> list[int]:
    """Gunicorn processes whose parent is not gunicorn (workers are children of their master)."""
    gunicorns = {}
    for process in psutil.process_iter(["pid", "ppid", "cmdline"]):
        if is_gunicorn_cmdline(process.info["cmdline"] or []):
            gunicorns[process.info["pid"]] = process.info["ppid"]
    return sorted(pid for pid, ppid in gunicorns.items() if ppid not in gunicorns and pid != os.getpid())


def process_environment(pid: int) -> dict[str, str] | None:
    """The environment ``pid`` was started with (the master's GUNICORN_* values), if readable."""
    try:
        return psutil.Process(pid).environ()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
