"""A real gunicorn with gevent workers serves the app and logs its start lines (stopped by PID)."""

import json

import pytest
import requests

from tests.helpers.servers import run_gunicorn

pytestmark = pytest.mark.gunicorn


def test_gunicorn_gevent_serves_and_logs_config(app, server_env, admin_token, tmp_path):
    # LOG_LEVEL=WARNING is the production setting RAILWAY_SETUP.md recommends: the start lines must still be there.
    env = dict(server_env, GUNICORN_WORKER_CLASS="gevent", GUNICORN_WORKERS="2", LOG_LEVEL="WARNING")
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        health = requests.get(server.url("/health"), timeout=5)
        assert health.json() == {"status": "ok"}
        listing = requests.get(
            server.url("/api/invoices"), headers={"Authorization": f"Bearer {admin_token}"}, timeout=5
        )
        assert listing.status_code == 200
        assert requests.get(server.url("/api/invoices"), timeout=5).status_code == 401
        pid = server.pid
    assert server.process.returncode == 0, "graceful stop by PID"
    lines = [line for line in server.log_text().splitlines() if line.strip()]
    assert all(line.startswith("{") for line in lines), [line for line in lines if not line.startswith("{")][:5]
    messages = [json.loads(line)["message"] for line in lines]
    start = messages.index("Gunicorn starting with config:")
    assert messages[start + 1] == "  Workers: 2"
    assert messages[start + 2] == "  Worker class: <class 'ops.workers.ggevent.JsonErrorGeventWorker'>"
    assert any(m.startswith("  Timeout: 120s") for m in messages)
    assert any(m.startswith("  Max requests: 500 (jitter 50)") for m in messages)
    assert any(m.startswith("  Bind: 127.0.0.1:") for m in messages)
    assert any('"GET /health HTTP/1.1" 200' in m for m in messages), "access log goes to stdout"
    assert pid > 0
