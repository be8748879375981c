"""The Railway deployment files agree with each other and with the app.

Three files describe one deployment: backend/railpack.json and backend/.python-version (read by
Railway's builder on every build), .railway/railway.ts (service settings and variables) and the
variables table in deploy_optimizations.sh. These checks make a drift between them a test failure.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]
RAILWAY_TS = (ROOT / ".railway" / "railway.ts").read_text()
RAILPACK = json.loads((ROOT / "backend" / "railpack.json").read_text())


def ts_string(key: str) -> str:
    match = re.search(rf'\b{key}: "([^"]*)"', RAILWAY_TS)
    assert match, f"{key} not found in .railway/railway.ts"
    return match.group(1)


def ts_variables() -> dict[str, str]:
    block = RAILWAY_TS[RAILWAY_TS.index("env: {") : RAILWAY_TS.index("},", RAILWAY_TS.index("env: {"))]
    return dict(re.findall(r'\b([A-Z][A-Z0-9_]+): "([^"]*)"', block))


def script_variables() -> dict[str, str]:
    source = (ROOT / "deploy_optimizations.sh").read_text()
    block = source[source.index("RAILWAY_VARIABLES=(") : source.index(")", source.index("RAILWAY_VARIABLES=("))]
    return dict(line.strip().split("=", 1) for line in block.splitlines()[1:] if "=" in line)


def test_start_command_is_the_same_for_builder_and_service_settings() -> None:
    assert RAILPACK["deploy"]["startCommand"] == "gunicorn wsgi:app"
    assert ts_string("start") == RAILPACK["deploy"]["startCommand"]
    assert ts_string("rootDirectory") == "backend"
    assert (ROOT / "backend" / "wsgi.py").exists() and (ROOT / "backend" / "gunicorn.conf.py").exists()


def test_python_version_pin_matches_the_interpreter_we_test_on() -> None:
    pinned = (ROOT / "backend" / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+", pinned)
    assert pinned == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert not (ROOT / "backend" / "runtime.txt").exists(), "one version pin only: Railpack reads both"


def test_no_deprecated_config_as_code_files() -> None:
    for name in ("railway.json", "railway.toml", "Procfile"):
        assert not (ROOT / name).exists() and not (ROOT / "backend" / name).exists(), name


def test_railway_ts_variables_equal_the_deploy_script_table() -> None:
    ours = ts_variables()
    for infrastructure_only in ("STORAGE_BACKEND", "STORAGE_DIR"):
        ours.pop(infrastructure_only)
    assert ours == script_variables()


def test_pre_deploy_migrates_with_the_flask_cli_from_backend() -> None:
    assert ts_string("preDeploy") == "flask db upgrade"
    result = subprocess.run(
        [sys.executable, "-m", "flask", "db", "--help"], cwd=ROOT / "backend", capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "upgrade" in result.stdout


def test_healthcheck_path_answers_without_a_database_round_trip(client: FlaskClient) -> None:
    path = ts_string("healthcheck")
    assert path == "/health"
    response = client.get(path)
    assert response.status_code == 200
