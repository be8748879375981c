"""prometheus_client's multiprocess directory: emptied at master start, a dead worker's files folded into an archive.

In multiprocess mode every worker writes its counters and histograms to ``counter_<pid>.db`` and
``histogram_<pid>.db`` and a scrape sums every ``*.db`` file in the directory. Those files outlive their
worker on purpose (a counter must not drop when a worker exits), so a service that recycles workers every
few hundred requests piles up files, and every scrape reads all of them: the known failure of this mode.
Here, gunicorn's ``child_exit`` (in the master, once the worker is gone, so nothing writes its files any
more) adds the dead worker's values into ``counter_archive.db`` / ``histogram_archive.db``, key by key,
then removes its files; ``mark_process_dead`` removes its live gauges. The directory then holds the live
workers' files plus two archives, however many workers came and went, and the totals are kept.

A scrape that read the archive after the merge but the dead file before its removal would count that
worker twice; a shared ``flock`` on ``.merge.lock`` (:func:`reading`) around each scrape and an exclusive
one around each merge keep the two apart.

No Flask here; ``prometheus_client`` is imported only by the functions that need it, so
``gunicorn.conf.py`` can set ``PROMETHEUS_MULTIPROC_DIR`` before anything else imports it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

ENV_NAME = "PROMETHEUS_MULTIPROC_DIR"
ARCHIVE_PID = "archive"
# The value files a dead worker leaves that hold totals (gauges are live values: they go with the worker).
TOTAL_KINDS = ("counter", "histogram")
LOCK_NAME = ".merge.lock"


def prepare_directory(path: str | Path) -> Path:
    """Create ``path`` if needed and remove every value file in it (a previous master's): start at zero.

    Only ``*.db`` files and the lock go, so an operator-given directory that holds anything else keeps it.
    """
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for file in directory.glob("*.db"):
        file.unlink(missing_ok=True)
    return directory


def value_files(path: str | Path) -> list[Path]:
    return sorted(Path(path).glob("*.db"))


@contextlib.contextmanager
def _locked(path: str | Path, operation: int) -> Iterator[None]:
    fd = os.open(Path(path) / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def reading(path: str | Path) -> contextlib.AbstractContextManager[None]:
    """Hold while collecting a scrape: no merge moves values between files meanwhile."""
    return _locked(path, fcntl.LOCK_SH)


def retire_process(path: str | Path, pid: int) -> int:
    """Fold worker ``pid``'s counters and histograms into the archives and remove its files; return files removed.

    Call only once the process is dead (``child_exit``): a live process would keep writing to the files.
    """
    from prometheus_client import multiprocess
    from prometheus_client.mmap_dict import MmapedDict

    directory = Path(path)
    removed = 0
    with _locked(directory, fcntl.LOCK_EX):
        for kind in TOTAL_KINDS:
            dead = directory / f"{kind}_{pid}.db"
            if not dead.exists():
                continue
            archive = MmapedDict(str(directory / f"{kind}_{ARCHIVE_PID}.db"))
            try:
                for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(dead)):
                    total, _ = archive.read_value(key)
                    archive.write_value(key, total + value, timestamp)
            finally:
                archive.close()
            dead.unlink()
            removed += 1
        before = len(value_files(directory))
        multiprocess.mark_process_dead(pid, str(directory))
        removed += before - len(value_files(directory))
    return removed
