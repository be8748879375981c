"""The process tooling stays outside Flask: the memory check and gunicorn's config load no Flask or SQLAlchemy.

``check_memory.py`` runs beside a server that may be near its memory limit, and ``gunicorn.conf.py``
runs in the master before gevent patches: importing the web stack there would cost memory and,
for gunicorn, import socket users before the patch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BACKEND_DIR = Path(__file__).resolve().parents[1]
FORBIDDEN = ("flask", "sqlalchemy", "werkzeug", "app")
PROBE = """
import json, runpy, sys
target = sys.argv[1]
if target == "gunicorn.conf.py":
    runpy.run_path(target)
else:
    sys.argv = [target, "--help"]
    try:
        runpy.run_path(target, run_name="__main__")
    except SystemExit:
        pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


def loaded_packages(target: str, tmp_path: Path) -> set[str]:
    env = {**os.environ, "GUNICORN_PIDFILE": str(tmp_path / "gunicorn.pid")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, target], cwd=BACKEND_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("target", ["check_memory.py", "gunicorn.conf.py"])
def test_loads_neither_flask_nor_sqlalchemy(target, tmp_path):
    loaded = loaded_packages(target, tmp_path)
    assert "ops" in loaded or target == "gunicorn.conf.py"
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))


def test_importtime_of_the_memory_check_help_lists_no_web_stack():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "check_memory.py", "--help"],
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    modules = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert "psutil" in modules
    assert not modules & {"flask", "sqlalchemy", "werkzeug"}


def test_check_memory_without_the_project_packages_names_the_interpreter_in_one_line():
    # -S leaves site-packages off sys.path: the same as running it with a Python that lacks psutil.
    result = subprocess.run(
        [sys.executable, "-S", "check_memory.py"], cwd=BACKEND_DIR, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3, "3 = could not measure, not 1 (which would read as WARNING)"
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "psutil" in lines[0] and "run it with" in lines[0]
