"""Read a process's memory cheaply (RSS) or accurately (PSS/USS), with psutil where /proc is absent.

RSS from ``/proc/<pid>/statm`` costs a few microseconds, so it may run on every request. PSS/USS come
from ``smaps_rollup``, which costs far more and grows with RSS: keep those off the hot path.
"""

from __future__ import annotations

import functools
import os
import weakref
from dataclasses import dataclass

import psutil

from values import MB

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def to_mb(value: int | None) -> float | None:
    """Bytes as MB with one decimal, for reports; None stays None (a figure the kernel did not give)."""
    return None if value is None else round(value / MB, 1)


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


class StatmReader:
    """RSS and VMS of the calling process from a kept-open ``/proc/self/statm``: one ``pread``.

    Cheap enough for every request. ``/proc/self`` is resolved when the file is opened, so a
    descriptor inherited from the gunicorn master would keep reporting the master: readers forget
    their descriptor in a forked child (``os.register_at_fork``; checking ``os.getpid()`` on every
    read would double the syscalls) and open their own on first use. Where the file is missing
    (macOS, no /proc) psutil answers.
    """

    def __init__(self, path: str = "/proc/self/statm") -> None:
        self._path = path
        self._fd: int | None = None
        self._opened = False
        self._process: psutil.Process | None = None
        self._closer: weakref.finalize | None = None  # closes the descriptor when the reader goes away
        _LIVE_READERS.add(self)
        _forget_readers_in_forked_children()

    def read(self) -> tuple[int, int]:
        """``(rss, vms)`` in bytes."""
        if not self._opened:
            self._open()
        if self._fd is None:
            info = self._process.memory_info()  # type: ignore[union-attr]
            return info.rss, info.vms
        fields = os.pread(self._fd, 128, 0).split()
        return int(fields[1]) * PAGE_SIZE, int(fields[0]) * PAGE_SIZE

    def _open(self) -> None:
        self._opened = True
        try:
            self._fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._fd = None
            self._process = psutil.Process()
        else:
            self._closer = weakref.finalize(self, os.close, self._fd)

    def forget(self) -> None:
        """Drop the descriptor (the child's copy of the parent's); the next read opens a fresh one."""
        if self._closer is not None:
            self._closer()
        self._fd, self._opened, self._process, self._closer = None, False, None, None


_LIVE_READERS: weakref.WeakSet[StatmReader] = weakref.WeakSet()


@functools.cache
def _forget_readers_in_forked_children() -> None:
    """Registered once, on the first reader: every live reader forgets its descriptor after a fork."""
    os.register_at_fork(after_in_child=lambda: [reader.forget() for reader in list(_LIVE_READERS)])


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
    """RSS, PSS and USS of ``pid``: the expensive reading, for the memory check and benchmarks."""
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
