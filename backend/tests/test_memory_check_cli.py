"""check_memory.py's exit codes: usage errors are 64 (EX_USAGE), never argparse's 2 (= CRITICAL); --pid of a
worker is refused with the master's PID instead of a reassuring "master with 0 workers" report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ops.process_memory import process_tree
from tests.helpers.servers import run_gunicorn

BACKEND_DIR = Path(__file__).resolve().parents[1]


def check_memory(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "check_memory.py", *args], cwd=BACKEND_DIR, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "args",
    [("--no-such-option",), ("--pid", "not-a-number"), ("--excellent-mb", "900", "--good-mb", "100")],
    ids=["unknown-option", "bad-value", "inconsistent-thresholds"],
)
def test_usage_errors_exit_64(args):
    result = check_memory(*args)
    assert result.returncode == 64, result
    assert "usage:" in result.stderr
    assert result.stdout == ""


def test_flask_memory_check_usage_error_exits_64(runner):
    result = runner.invoke(args=["memory-check", "--no-such-option"])
    assert result.exit_code == 64


def test_help_lists_every_exit_code():
    result = check_memory("--help")
    assert result.returncode == 0
    assert "64 usage error" in " ".join(result.stdout.split())


@pytest.mark.gunicorn
def test_pid_of_a_worker_is_refused_naming_the_master(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}", "STORAGE_DIR": str(tmp_path), "GUNICORN_WORKERS": "1"}
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        (worker,) = set(process_tree(server.pid)) - {server.pid}
        refused = check_memory("--pid", str(worker))
        assert refused.returncode == 64, refused
        assert f"PID {worker} is a gunicorn worker" in refused.stderr
        assert f"--pid {server.pid}" in refused.stderr
        measured = check_memory("--pid", str(server.pid), "--json")
        assert measured.returncode in (0, 1, 2), measured
        assert '"workers": 1' in measured.stdout
