"""gunicorn.conf.py reads its values from the environment (imported under a patched env)."""

import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


def load_conf(monkeypatch, **env):
    for key in list(__import__("os").environ):
        if key.startswith("GUNICORN_") or key == "PORT":
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(CONF))


def test_defaults(monkeypatch):
    conf = load_conf(monkeypatch, GUNICORN_WORKER_CLASS="sync")
    assert conf["workers"] == 2
    assert conf["worker_connections"] == 500
    assert conf["max_requests"] == 500
    assert conf["max_requests_jitter"] == 50
    assert conf["timeout"] == 120
    assert conf["bind"] == "0.0.0.0:8000"
    assert conf["accesslog"] == "-"
    assert conf["errorlog"] == "-"
    assert conf["control_socket_disable"] is True


def test_values_from_env(monkeypatch):
    conf = load_conf(
        monkeypatch,
        GUNICORN_WORKERS="3",
        GUNICORN_WORKER_CLASS="sync",
        GUNICORN_MAX_REQUESTS="1000",
        GUNICORN_MAX_REQUESTS_JITTER="7",
        GUNICORN_TIMEOUT="180",
        PORT="9999",
    )
    assert (conf["workers"], conf["max_requests"]) == (3, 1000)
    assert conf["worker_class"] == "ops.workers.sync.JsonErrorSyncWorker", "sync, with JSON error answers"
    assert (conf["max_requests_jitter"], conf["timeout"], conf["bind"]) == (7, 180, "0.0.0.0:9999")


def test_no_file_handlers_in_gunicorn_logging(monkeypatch):
    conf = load_conf(monkeypatch, GUNICORN_WORKER_CLASS="sync")
    handlers = conf["logconfig_dict"]["handlers"]
    assert all(h["class"] == "logging.StreamHandler" and h["stream"] == "ext://sys.stdout" for h in handlers.values())


def test_invalid_value_stops_start(monkeypatch):
    from config import ConfigError

    with pytest.raises(ConfigError, match="GUNICORN_WORKERS"):
        load_conf(monkeypatch, GUNICORN_WORKERS="two", GUNICORN_WORKER_CLASS="sync")
