"""Read a process's memory cheaply (RSS) or accurately (PSS/USS), with psutil where /proc is absent.

RSS from ``/proc/<pid>/statm`` costs a few microseconds, so it may run on every request. PSS/USS come
from ``smaps_rollup``, which costs ~0.7 ms and grows with RSS: keep those off the hot path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MB = 1024 * 1024


@dataclass(frozen=True)
class MemoryReading:
    """Bytes; ``pss``/``uss`` are None where the kernel does not expose them."""

    pid: int
    rss: int
    pss: int | None
    uss: int | None


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of ``pid`` (default: this process) in bytes."""
    path = f"/proc/{pid or 'self'}/statm"
    try:
        with open(path, "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return psutil.Process(pid or os.getpid()).memory_info().rss


def _smaps_rollup(pid: int) -> dict[str, int] | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            lines = rollup.read().splitlines()
    except OSError:
        return None
    fields: dict[str, int] = {}
    for line in lines[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0]) * 1024
    return fields


def full_reading(pid: int) -> MemoryReading:
    """RSS, PSS and USS of ``pid``: the expensive reading, for health checks and benchmarks."""
    fields = _smaps_rollup(pid)
    if fields is not None and "Pss" in fields:
        uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
        return MemoryReading(pid, fields.get("Rss", 0), fields["Pss"], uss)
    try:
        info = psutil.Process(pid).memory_full_info()
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        return MemoryReading(pid, rss_bytes(pid), None, None)
    return MemoryReading(pid, info.rss, getattr(info, "pss", None), getattr(info, "uss", None))


def process_tree(root_pid: int) -> list[int]:
    """``root_pid`` and all its descendants (a gunicorn master and its workers)."""
    root = psutil.Process(root_pid)
    return [root_pid, *(child.pid for child in root.children(recursive=True))]
