"""Recent worker retirements and why, in a small JSON-lines file the operator page shows.

A retirement is decided inside the worker (the request that reaches ``max_requests``, or RSS above
``GUNICORN_MAX_WORKER_MEMORY_MB`` after a trim), so the worker appends the record itself; the file
lives in ``STORAGE_DIR/tmp`` beside the other process files, is shared by every worker of the tree
and survives a restart. Each append is one ``write`` of one short line with ``O_APPEND``, so
concurrent workers never interleave; the file is cut back to :data:`KEEP` lines once it holds twice
as many. No Flask here: gunicorn's hooks call this in the worker.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ops.leftovers import temp_dir

FILENAME = "worker-retirements.jsonl"
KEEP = 50


def retirements_path(storage_dir: str | Path) -> Path:
    return temp_dir(storage_dir) / FILENAME


def append_retirement(path: Path, pid: int, reason: str, requests: int, rss_mb: float | None = None) -> None:
    """Append one retirement; never raises (a full disk must not break the request that triggered it)."""
    line = json.dumps(
        {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "pid": pid,
            "reason": reason,
            "requests": requests,
            "rss_mb": None if rss_mb is None else round(rss_mb, 1),
        }
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
        _trim(path)
    except OSError:
        return


def recent_retirements(path: Path, limit: int = 20) -> list[dict[str, Any]]:
    """The last ``limit`` retirements, newest first; an absent or unreadable file is no retirements."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    records = []
    for line in reversed(lines[-limit:]):
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash mid-write
    return records


def _trim(path: Path) -> None:
    if path.stat().st_size < KEEP * 2 * 60:  # cheap check first: a line is never shorter than 60 bytes
        return
    lines = path.read_text().splitlines()
    if len(lines) <= KEEP * 2:
        return
    spare = path.with_name(f"{path.name}.{os.getpid()}")
    spare.write_text("\n".join(lines[-KEEP:]) + "\n")
    os.replace(spare, path)
