"""Config parsing: every setting comes from the environment through config.py."""

import pytest

from app import create_app
from config import ConfigError, database_url, gunicorn_settings, load_config


def test_defaults_use_sqlite_under_instance():
    config = load_config({})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("backend/instance/nextops.db")
    assert config["EXPORT_CHUNK_SIZE"] == 100
    assert config["UPLOAD_CHUNK_SIZE"] == 65536
    assert config["UPLOAD_READ_SIZE"] == 1024 * 1024
    assert config["MEMORY_ALERT_MB"] is None, "unset: derived from the container's memory limit"
    assert config["LOG_LEVEL"] == "INFO"


def test_railway_postgres_scheme_is_rewritten():
    url = database_url({"DATABASE_URL": "postgres://u:p@db.railway.internal:5432/railway"})
    assert url == "postgresql://u:p@db.railway.internal:5432/railway"


def test_postgresql_scheme_is_kept():
    assert database_url({"DATABASE_URL": "postgresql://x@h/db"}) == "postgresql://x@h/db"


def test_pool_options_for_postgres_are_small_and_short_lived():
    options = load_config({"DATABASE_URL": "postgresql://x@h/db", "SECRET_KEY": "k"})["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options == {"pool_pre_ping": True, "pool_recycle": 60, "pool_size": 5, "max_overflow": 5, "pool_timeout": 10}


def test_pool_options_are_overridable():
    env = {
        "DATABASE_URL": "postgresql://x@h/db",
        "SECRET_KEY": "k",
        "DB_POOL_SIZE": "2",
        "DB_POOL_RECYCLE": "30",
        "DB_MAX_OVERFLOW": "0",
    }
    options = load_config(env)["SQLALCHEMY_ENGINE_OPTIONS"]
    assert (options["pool_size"], options["pool_recycle"], options["max_overflow"]) == (2, 30, 0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EXPORT_CHUNK_SIZE": "lots"}, "EXPORT_CHUNK_SIZE must be an integer"),
        ({"EXPORT_CHUNK_SIZE": "0"}, "EXPORT_CHUNK_SIZE must be >= 1"),
        ({"MEMORY_SAMPLE_RATE": "2"}, "MEMORY_SAMPLE_RATE must be between"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL must be one of"),
        ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND must be one of"),
        ({"NEXTOPS_ENABLE_TEST_ROUTES": "maybe"}, "NEXTOPS_ENABLE_TEST_ROUTES must be true or false"),
        ({"DATABASE_URL": "postgresql://x@h/db"}, "SECRET_KEY must be set"),
        ({"RAILWAY_ENVIRONMENT": "production"}, "SECRET_KEY must be set"),
        ({"LOGIN_LIMIT_IP": "lots"}, "LOGIN_LIMIT_IP must look like"),
        ({"SESSION_COOKIE_SECURE": "maybe"}, "SESSION_COOKIE_SECURE must be true or false"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(env)


def test_gunicorn_defaults_follow_the_guide():
    settings = gunicorn_settings({})
    assert settings.workers == 2
    assert settings.worker_class == "gevent"
    assert settings.worker_connections == 500
    assert (settings.max_requests, settings.max_requests_jitter) == (500, 50)
    assert settings.timeout == 120
    assert settings.bind == "0.0.0.0:8000"


def test_gunicorn_bind_uses_railway_port():
    assert gunicorn_settings({"PORT": "4321"}).bind == "0.0.0.0:4321"


def test_factory_overrides_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPORT_CHUNK_SIZE", "250")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", "MAX_UPLOAD_MB": 3})
    assert app.config["EXPORT_CHUNK_SIZE"] == 250
    assert app.config["MAX_UPLOAD_MB"] == 3


def test_factory_logs_json_to_stdout_only(tmp_path, capsys):
    import json
    import logging

    create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    root = logging.getLogger()
    assert all(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) for h in root.handlers)
    logging.getLogger("nextops.test").warning("hello %s", "world")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["message"] == "hello world"
    assert record["level"] == "WARNING"


@pytest.mark.parametrize(
    ("word", "expected"), [("on", True), ("YES", True), (" 1 ", True), ("off", False), ("0", False)]
)
def test_boolean_variables_take_the_shared_words(word, expected):
    assert gunicorn_settings({"GUNICORN_PRELOAD": word}).preload is expected


def test_an_empty_boolean_variable_means_unset():
    assert gunicorn_settings({"GUNICORN_PRELOAD": ""}).preload is True
    assert gunicorn_settings({"GUNICORN_GC_FREEZE": "  "}).gc_freeze is True


def test_memory_samples_print_at_warning_level(tmp_path, capsys):
    """Operators grep production logs (LOG_LEVEL=WARNING) for them: MEMORY_SAMPLE_RATE sets their volume."""
    import json
    import logging

    from logs import SAMPLE_LOGGER

    create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", "LOG_LEVEL": "WARNING"})
    logging.getLogger(SAMPLE_LOGGER).info("memory sample")
    logging.getLogger("app.exports").info("an INFO line that WARNING hides")
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["message"] for line in lines] == ["memory sample"]


def test_embedded_default_generates_the_secret_key_once_and_reuses_it(tmp_path):
    from config import instance_secret_key

    path = tmp_path / "instance" / "secret_key"
    first = instance_secret_key(path)
    assert len(first) == 64 and instance_secret_key(path) == first
    assert (path.stat().st_mode & 0o777) == 0o600


def test_railway_defaults_secure_cookies_and_one_trusted_proxy():
    config = load_config({"RAILWAY_ENVIRONMENT": "production", "SECRET_KEY": "k"})
    assert (config["SESSION_COOKIE_SECURE"], config["TRUSTED_PROXIES"]) == (True, 1)
    local = load_config({"SECRET_KEY": "k"})
    assert (local["SESSION_COOKIE_SECURE"], local["TRUSTED_PROXIES"]) == (False, 0)
