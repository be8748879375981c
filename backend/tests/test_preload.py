"""The preloaded master imports psycopg 3 (PostgreSQL) and builds the S3 client (STORAGE_BACKEND=s3) before it forks;
it also compiles every template, loads the page languages' catalogs and computes the unknown-account hash.

Each worker would otherwise import / build them on its first export, S3 upload, page view or unknown
sign-in, in pages no other process shares (bench/RESULTS.md, monitoring and upload-sink sections).
Checked in a fresh interpreter (this test process may have imported psycopg already) and in a real
gunicorn master.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tests.helpers.servers import BACKEND_DIR, SERVER_SECRET_KEY, run_gunicorn

CHECK = textwrap.dedent(
    """
    import json, sys
    from app import create_app
    from app.accounts.passwords import dummy_hash
    from app.preload import prepare_for_fork
    app = create_app(json.loads(sys.argv[1]))

    def state():
        with app.app_context():  # Flask-Babel builds its domain on first use, in an app context
            domain = app.extensions["babel"].instance.domain_instance
        return {
            **{name: name in sys.modules for name in ("psycopg", "botocore")},
            "templates": sorted(name for _, name in app.jinja_env.cache.keys()),
            "catalogs": sorted(language for language, _ in domain.cache),
            "dummy_hash": dummy_hash.cache_info().currsize,
        }

    before = state()
    prepared = prepare_for_fork(app)
    after = state()
    print(json.dumps({"before": before, "after": after, "prepared": prepared,
                      "storage": "nextops.storage" in app.extensions,
                      "listed": sorted(app.jinja_env.list_templates()),
                      "cache_capacity": app.jinja_env.cache.capacity}))
    """
)


def prepared_in_fresh_interpreter(config: dict[str, object]) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps({"SECRET_KEY": SERVER_SECRET_KEY, **config})],
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "NEXTOPS_MIGRATIONS_CLI": "false"},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


PAGES_PREPARED = ["catalogs es, en (Flask-Babel)", "unknown-account hash (Argon2)"]


def test_postgresql_app_imports_psycopg_before_fork_and_sqlite_does_not(tmp_path: Path):
    postgres = prepared_in_fresh_interpreter({"SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none"})
    assert postgres["before"]["psycopg"] is False, "psycopg is not imported at boot by the app itself"
    assert postgres["after"]["psycopg"] is True
    assert postgres["prepared"][0] == "psycopg"
    assert postgres["after"]["botocore"] is False, "the local backend never loads botocore"
    sqlite = prepared_in_fresh_interpreter({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    assert "psycopg" not in sqlite["prepared"] and sqlite["after"]["psycopg"] is False


def test_master_compiles_every_template_loads_the_catalogs_and_the_dummy_hash(tmp_path: Path):
    """What a worker built on its first page view or unknown sign-in is built once, before the fork."""
    result = prepared_in_fresh_interpreter({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    before, after, listed = result["before"], result["after"], result["listed"]
    assert before["templates"] == [] and before["catalogs"] == [] and before["dummy_hash"] == 0
    assert len(listed) > 20 and "web/base.html" in listed and len(listed) <= result["cache_capacity"]
    assert after["templates"] == listed, "every template is compiled and still in the Jinja cache"
    assert after["catalogs"] == ["en", "es"], "Flask-Babel's domain cache holds both page languages"
    assert after["dummy_hash"] == 1
    assert result["prepared"] == [f"{len(listed)} templates (Jinja)", *PAGES_PREPARED]


def test_s3_app_builds_its_storage_client_before_fork(tmp_path: Path):
    s3 = prepared_in_fresh_interpreter(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
            "STORAGE_BACKEND": "s3",
            "S3_BUCKET": "nextops-preload",
            "S3_ENDPOINT_URL": "http://127.0.0.1:1",  # never contacted: building a client opens no socket
            "S3_ACCESS_KEY_ID": "test",
            "S3_SECRET_ACCESS_KEY": "test",
        }
    )
    assert s3["after"]["botocore"] is True
    assert s3["storage"] is True, "the storage (and its boto3 client) is cached on the app the workers inherit"
    assert s3["prepared"][0] == "S3 client (botocore)"


def mapped_files(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.gunicorn
def test_gunicorn_master_holds_psycopg_and_the_s3_client_before_forking(app, server_env, tmp_path):
    """In a real preloaded master: the log says what was prepared, and on PostgreSQL psycopg's C
    extension is mapped in the master itself (so the workers inherit its pages)."""
    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        pytest.skip("psycopg is prepared on PostgreSQL only")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    env = {
        **server_env,
        "GUNICORN_PRELOAD": "true",
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": "nextops-preload",
        "S3_ENDPOINT_URL": f"http://{host}:{port}",
        "S3_ACCESS_KEY_ID": "test",
        "S3_SECRET_ACCESS_KEY": "test",
    }
    try:
        with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
            maps = mapped_files(server.pid)
    finally:
        moto.stop()
    assert "psycopg_binary" in maps, "psycopg 3's C extension is loaded in the master"
    messages = [json.loads(line)["message"] for line in server.log_text().splitlines() if line.startswith("{")]
    prepared = next(m for m in messages if m.startswith("Prepared in the master before forking: "))
    assert prepared.startswith("Prepared in the master before forking: psycopg, S3 client (botocore), ")
    assert prepared.endswith(" templates (Jinja), " + ", ".join(PAGES_PREPARED))
