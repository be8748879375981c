"""``GET /api/monitoring/memory`` and the test-only routes: admin only, and the fields the issue lists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app import create_app


def test_memory_endpoint_requires_an_admin_token(client, user_token):
    assert client.get("/api/monitoring/memory").status_code == 401
    response = client.get("/api/monitoring/memory", headers={"Authorization": f"Bearer {user_token}"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_memory_endpoint_reports_worker_tree_cgroup_thresholds_settings(app, client, auth):
    for _ in range(3):
        client.get("/health")
    body = client.get("/api/monitoring/memory", headers=auth).get_json()

    worker = body["worker"]
    assert worker["pid"] == os.getpid()
    assert worker["under_gunicorn"] is False
    assert worker["rss_mb"] > 10
    assert worker["uptime_s"] > 0
    assert worker["requests_served"] == 3

    tree = body["gunicorn"]
    (root,) = [p for p in tree["processes"] if p["pid"] == os.getpid()]
    assert root["role"] == "standalone"
    assert root["pss_mb"] > 0
    assert tree["totals"]["pss_mb"] >= root["pss_mb"]

    thresholds = body["thresholds"]
    assert (thresholds["excellent_mb"], thresholds["good_mb"], thresholds["warning_mb"]) == (500, 1000, 1500)
    assert thresholds["memory_alert_mb"] == app.config["MEMORY_ALERT_MB"]
    assert thresholds["memory_sample_rate"] == app.config["MEMORY_SAMPLE_RATE"]
    names = {setting["name"] for setting in body["settings"]["settings"]}
    assert {"GUNICORN_WORKERS", "GUNICORN_PRELOAD", "GUNICORN_MAX_WORKER_MEMORY_MB"} <= names

    assert body["status"] in ("EXCELLENT", "GOOD", "WARNING", "CRITICAL")
    assert body["status_basis"] == "pss_mb"
    if Path("/sys/fs/cgroup/memory").is_dir() or Path("/sys/fs/cgroup/memory.current").exists():
        assert body["cgroup"]["version"] in (1, 2)
        assert body["cgroup"]["usage_mb"] > 0


def test_test_routes_are_absent_by_default(client, auth):
    assert client.post("/api/monitoring/test/leak?mb=1", headers=auth).status_code == 404
    assert client.get("/api/monitoring/test/slow-query", headers=auth).status_code == 404


@pytest.fixture
def testing_client(app, database_url):
    """A second app on the same database with the test-only routes switched on."""
    enabled = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "ENABLE_TEST_ROUTES": True})
    return enabled.test_client()


def test_test_routes_need_admin_when_enabled(testing_client, auth, user_token, database_url):
    user = {"Authorization": f"Bearer {user_token}"}
    assert testing_client.post("/api/monitoring/test/leak?mb=1").status_code == 401
    assert testing_client.post("/api/monitoring/test/leak?mb=1", headers=user).status_code == 403
    leaked = testing_client.post("/api/monitoring/test/leak?mb=1", headers=auth)
    assert leaked.status_code == 200
    assert leaked.get_json() == {"pid": os.getpid(), "leaked_mb": 1.0}
    bad = testing_client.post("/api/monitoring/test/leak?mb=lots", headers=auth)
    assert bad.status_code == 400
    assert bad.get_json()["error"]["code"] == "invalid_parameter"
    slow = testing_client.get("/api/monitoring/test/slow-query?seconds=0.01", headers=auth)
    if database_url.startswith("sqlite"):
        assert slow.status_code == 400
        assert slow.get_json()["error"]["code"] == "unsupported_database"
    else:
        assert slow.status_code == 200
        assert slow.get_json()["finished"] >= slow.get_json()["started"]
