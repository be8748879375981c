"""The container's memory as the kernel charges it: cgroup v2 or v1, whichever the host mounts.

Railway (like any container platform) kills the container when its cgroup reaches the limit, and the
cgroup counts page cache ("file") as well as process memory ("anon"). That is why the report shows
both: anon is what our processes hold, file is reclaimable cache the kernel drops before an OOM.

The cgroup root and the /proc directory are parameters so tests can point them at fixture trees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ops.process_memory import to_mb
from values import MB

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_ROOT = Path("/proc")
# cgroup v1 reports "no limit" as a huge page-aligned number (PAGE_COUNTER_MAX * page size).
V1_UNLIMITED = 1 << 60
# MEMORY_ALERT_MB, when not set: this share of the container's limit. One worker at 40% of the container means
# the tree (master + 2 workers, sharing pages) is heading for the limit, with time left to read the alert before
# the OOM kill. Without a visible limit: the 1 GB container the service is sized for (RAILWAY_SETUP.md).
ALERT_SHARE = 0.4
ASSUMED_CONTAINER_MB = 1024


def recommended_alert_mb(limit_bytes: int | None) -> int:
    """The one recommended ``MEMORY_ALERT_MB``: 40% of the cgroup limit in MB, down to a multiple of 10.

    The app uses it when the variable is unset, ``check_memory.py`` recommends it, and the deploy
    script and docs quote it (400 for a 1 GB container).
    """
    container_mb = limit_bytes / MB if limit_bytes else ASSUMED_CONTAINER_MB
    return max(10, int(container_mb * ALERT_SHARE) // 10 * 10)


@dataclass(frozen=True)
class CgroupMemory:
    """Bytes; ``limit`` is None when the cgroup has no memory limit."""

    version: int
    path: str
    usage: int
    limit: int | None
    anon: int | None
    file: int | None

    def as_dict(self) -> dict[str, object]:
        """MB figures for JSON and the text report."""
        return {
            "version": self.version,
            "path": self.path,
            "usage_mb": to_mb(self.usage),
            "limit_mb": to_mb(self.limit),
            "anon_mb": to_mb(self.anon),
            "file_mb": to_mb(self.file),
            "usage_percent": round(100 * self.usage / self.limit, 1) if self.limit else None,
        }


def read_cgroup_memory(
    pid: int | str = "self", root: Path = CGROUP_ROOT, proc: Path = PROC_ROOT
) -> CgroupMemory | None:
    """Memory of the cgroup ``pid`` belongs to, or None where no memory cgroup is visible."""
    v2_path, v1_path = _membership(proc / str(pid) / "cgroup")
    for directory in _candidates(root, v2_path):
        if (directory / "memory.current").is_file():
            return _read_v2(directory, root)
    v1_root = root / "memory"
    for directory in _candidates(v1_root, v1_path):
        if (directory / "memory.usage_in_bytes").is_file():
            return _read_v1(directory, v1_root)
    return None


def _membership(cgroup_file: Path) -> tuple[str, str]:
    """The process's v2 path (``0::/x``) and v1 memory-controller path (``4:memory:/x``)."""
    v2_path = v1_path = "/"
    try:
        lines = cgroup_file.read_text().splitlines()
    except OSError:
        return v2_path, v1_path
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            v2_path = path or "/"
        elif "memory" in controllers.split(","):
            v1_path = path or "/"
    return v2_path, v1_path


def _candidates(base: Path, path: str) -> list[Path]:
    """The process's own cgroup first; the mount root covers containers with a cgroup namespace."""
    own = base / path.lstrip("/")
    return [own, base] if own != base else [base]


def _relative(directory: Path, base: Path) -> str:
    relative = directory.relative_to(base).as_posix()
    return "/" if relative == "." else "/" + relative


def _read_int(path: Path) -> int | None:
    try:
        raw = path.read_text().strip()
    except OSError:
        return None
    return int(raw) if raw.isdigit() else None


def _read_stat(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    stat = {}
    for line in lines:
        name, _, value = line.partition(" ")
        if value.strip().isdigit():
            stat[name] = int(value)
    return stat


def _read_v2(directory: Path, root: Path) -> CgroupMemory:
    stat = _read_stat(directory / "memory.stat")
    return CgroupMemory(
        version=2,
        path=_relative(directory, root),
        usage=_read_int(directory / "memory.current") or 0,
        limit=_read_int(directory / "memory.max"),  # "max" (no limit) is not a number: None
        anon=stat.get("anon"),
        file=stat.get("file"),
    )


def _read_v1(directory: Path, v1_root: Path) -> CgroupMemory:
    stat = _read_stat(directory / "memory.stat")
    limit = _read_int(directory / "memory.limit_in_bytes")
    return CgroupMemory(
        version=1,
        path=_relative(directory, v1_root),
        usage=_read_int(directory / "memory.usage_in_bytes") or 0,
        limit=None if limit is None or limit >= V1_UNLIMITED else limit,
        # total_* include child cgroups (a container's processes may sit in sub-groups).
        anon=stat.get("total_rss", stat.get("rss")),
        file=stat.get("total_cache", stat.get("cache")),
    )
