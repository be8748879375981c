"""Database faults through a real gunicorn on a private PostgreSQL cluster (started here with pg_ctl on a free
port, so stopping and restarting it touches nobody else): an outage answers 503 JSON with Retry-After and
recovers by itself; a restart under list load gives only 200s and 503s, all JSON; a read whose pooled
connection the restart killed is retried once and succeeds. Skipped only when the server binaries are absent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
from flask_migrate import upgrade

from app import create_app
from app.auth import create_token
from app.cli.seed import seed
from app.extensions import db
from tests.helpers.pg_cluster import ClusterUnavailable, PrivateCluster, private_cluster
from tests.helpers.servers import run_gunicorn

pytestmark = [pytest.mark.gunicorn, pytest.mark.faults]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[tuple[PrivateCluster, str]]:
    """The private cluster, migrated and seeded, and an admin token for it."""
    try:
        manager = private_cluster()
        pg = manager.__enter__()
    except ClusterUnavailable as exc:
        pytest.skip(f"no private PostgreSQL cluster: {exc}")
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": pg.url, "STORAGE_DIR": str(tmp_path_factory.mktemp("st"))})
        with app.app_context():
            upgrade()
            seed(ots=10, invoices=60, seed_value=3)
            token = create_token("faults", "admin")
            db.session.remove()
            db.engine.dispose()
        yield pg, token
    finally:
        manager.__exit__(None, None, None)


def _env(pg: PrivateCluster, tmp_path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": pg.url, "STORAGE_DIR": str(tmp_path / "storage"), "GUNICORN_WORKERS": "2", **extra}


def _get(server, path: str, token: str) -> requests.Response:
    return requests.get(server.url(path), headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "database_unavailable"


def _until_ok(server, path: str, token: str) -> None:
    deadline = time.monotonic() + 30
    while _get(server, path, token).status_code != 200:
        assert time.monotonic() < deadline, f"{path} never recovered:\n{server.log_text()[-3000:]}"
        time.sleep(0.2)


def test_outage_is_503_json_then_recovers(cluster, tmp_path):
    pg, token = cluster
    with run_gunicorn(_env(pg, tmp_path), tmp_path / "gunicorn.log") as server:
        assert _get(server, "/api/invoices?limit=5", token).status_code == 200
        pg.stop()
        try:
            for path in ("/api/invoices?limit=5", "/api/ots/1", "/api/invoices/export?format=csv"):
                _assert_unavailable(_get(server, path, token))
            _assert_unavailable(requests.get(server.url("/health/ready"), timeout=30))
            assert requests.get(server.url("/health"), timeout=5).status_code == 200
        finally:
            pg.start()
        _until_ok(server, "/api/invoices?limit=5", token)
        assert requests.get(server.url("/health/ready"), timeout=5).json()["database"] == "ok"


def test_restart_under_list_load_gives_only_json_200_and_503(cluster, tmp_path):
    pg, token = cluster
    answers: list[tuple[int, str, str]] = []
    stop = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            while not stop.is_set():
                response = session.get(server.url("/api/invoices?limit=5"), timeout=30)
                answers.append((response.status_code, response.headers.get("Content-Type", ""), response.text))

    with run_gunicorn(_env(pg, tmp_path), tmp_path / "gunicorn.log") as server:
        threads = [threading.Thread(target=client) for _ in range(6)]
        for thread in threads:
            thread.start()
        try:
            while len(answers) < 50:
                time.sleep(0.05)
            pg.restart()
            after = len(answers)
            while sum(1 for status, *_ in answers[after:] if status == 200) < 50:
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
    statuses = {status for status, *_ in answers}
    assert statuses <= {200, 503}, sorted(statuses)
    assert all(content_type == "application/json" for _, content_type, _ in answers)
    assert not [text for _, _, text in answers if "<html" in text.lower()]
    for status, _, text in answers:
        if status == 503:
            assert '"database_unavailable"' in text


def test_a_read_on_a_connection_killed_by_a_restart_is_retried_once(cluster, tmp_path):
    # Without pre-ping the pooled connection is used as it is: exactly the state of a connection that was in
    # use when the server restarted (pre-ping only helps connections that sit idle in the pool).
    pg, token = cluster
    env = _env(pg, tmp_path, GUNICORN_WORKERS="1", DB_POOL_PRE_PING="false")
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        assert _get(server, "/api/invoices?limit=5", token).status_code == 200  # the pool now holds a connection
        pg.restart()
        response = _get(server, "/api/invoices?limit=5", token)
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) == 5
        assert "retrying GET /api/invoices once" in server.log_text()
