"""Every setting NextOps reads from the environment, in one place.

It lives beside the ``app`` package rather than inside it so that ``gunicorn.conf.py`` can read the
worker class (and monkey-patch for gevent) before Flask, SQLAlchemy or psycopg2 are imported.
Only the standard library is imported here for that reason.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import tempfile
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from values import BOOLEAN_HINT, parse_bool

BACKEND_DIR = Path(__file__).resolve().parent
DEFAULT_SQLITE_PATH = BACKEND_DIR / "instance" / "nextops.db"
# The embedded default's signing key: generated on the first start, reused by every worker and restart.
SECRET_KEY_FILE = BACKEND_DIR / "instance" / "secret_key"
# "5 per 15 minutes", "20/hour": the rate-limit strings Flask-Limiter (the limits package) parses.
RATE_LIMIT = re.compile(r"^\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day)s?$", re.I)


class ConfigError(ValueError):
    """A variable is set to something we cannot use; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _optional_int(env: Mapping[str, str], name: str, minimum: int = 0) -> int | None:
    """An integer, or None when unset or empty (the caller derives a value: see MEMORY_ALERT_MB)."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    return _int(env, name, 0, minimum)


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """An empty value means unset, as it does for every other kind of variable here."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return parse_bool(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {BOOLEAN_HINT}, got {raw!r}") from None


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def database_url(env: Mapping[str, str]) -> str:
    """Return the SQLAlchemy URL, accepting Railway's ``postgres://`` form.

    SQLAlchemy 1.4+ only knows the ``postgresql`` dialect name; Railway (like Heroku) hands out
    ``postgres://``, so it is rewritten here rather than asking operators to edit the variable.
    """
    url = (env.get("DATABASE_URL") or "").strip()
    if not url:
        return f"sqlite:///{DEFAULT_SQLITE_PATH}"
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    return url


def engine_options(env: Mapping[str, str], url: str) -> dict[str, Any]:
    """Pool settings: few, short-lived connections (a one-minute lifetime: MEMORY_OPTIMIZATION.md explains why)."""
    options: dict[str, Any] = {
        "pool_pre_ping": _bool(env, "DB_POOL_PRE_PING", True),
        "pool_recycle": _int(env, "DB_POOL_RECYCLE", 60, minimum=1),
    }
    if not url.startswith("sqlite"):
        options["pool_size"] = _int(env, "DB_POOL_SIZE", 5, minimum=1)
        options["max_overflow"] = _int(env, "DB_MAX_OVERFLOW", 5)
        options["pool_timeout"] = _int(env, "DB_POOL_TIMEOUT", 10, minimum=1)
    return options


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or default).strip()
    if not RATE_LIMIT.match(value):
        raise ConfigError(f"{name} must look like '5 per 15 minutes' or '20/hour', got {value!r}")
    return value


def _timezone(env: Mapping[str, str], name: str, default: str) -> str:
    """An IANA zone name (``America/El_Salvador``), checked now so a typo fails at start, not on the first page."""
    value = (env.get(name) or default).strip()
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} must be an IANA time zone such as America/El_Salvador, got {value!r}") from None
    return value


def instance_secret_key(path: Path = SECRET_KEY_FILE) -> str:
    """The embedded default's key: read from ``path``, created there (once, atomically) when missing.

    A random key per process would sign each worker's cookies differently and sign everyone out on
    every restart; ``O_EXCL`` makes two workers starting together agree on the first key written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key
        raise ConfigError(f"{path} is empty: delete it to generate a new SECRET_KEY, or set SECRET_KEY") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def secret_key(env: Mapping[str, str], url: str) -> str:
    """``SECRET_KEY``, required anywhere but the embedded SQLite default (``make run``), where it is generated once."""
    key = (env.get("SECRET_KEY") or "").strip()
    if key:
        return key
    if not url.startswith("sqlite") or env.get("RAILWAY_ENVIRONMENT"):
        raise ConfigError(
            "SECRET_KEY must be set: it signs the session cookies and must be the same in every worker and "
            "after every restart (generate one with: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return instance_secret_key()


def instance_name(env: Mapping[str, str]) -> str:
    """``<host>-<port>``: names this instance's temporaries in a bucket other replicas share (ops/leftovers.py).

    A container's host name is its own on Railway; two servers on one host differ by port. The master and its
    workers compute the same name from the same environment.
    """
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname()).strip("-") or "host"
    bind = env.get("GUNICORN_BIND") or f"0.0.0.0:{env.get('PORT') or 8000}"
    return f"{host}-{_bind_name(bind)}"


def load_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from ``env`` (``os.environ`` by default)."""
    env = os.environ if env is None else env
    url = database_url(env)
    railway = bool(env.get("RAILWAY_ENVIRONMENT"))
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(env, url),
        "SECRET_KEY": secret_key(env, url),
        # Sessions (docs/accounts.md): an idle timeout and an absolute lifetime, both checked on every request.
        "SESSION_IDLE_MINUTES": _int(env, "SESSION_IDLE_MINUTES", 60, minimum=1),
        "SESSION_MAX_HOURS": _int(env, "SESSION_MAX_HOURS", 12, minimum=1),
        # Behind Railway's proxy the browser speaks HTTPS: the cookie must never travel over plain HTTP.
        "SESSION_COOKIE_SECURE": _bool(env, "SESSION_COOKIE_SECURE", railway),
        # Proxies whose X-Forwarded-For/-Proto are believed (ProxyFix); 0 trusts none (make run, no proxy).
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 1 if railway else 0),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "LOGIN_LIMIT_ACCOUNT": _rate_limit(env, "LOGIN_LIMIT_ACCOUNT", "5 per 15 minutes"),
        "LOGIN_LIMIT_IP": _rate_limit(env, "LOGIN_LIMIT_IP", "20 per 15 minutes"),
        # Timestamps are stored in UTC and shown in the team's zone: pages and both export formats.
        "APP_TIMEZONE": _timezone(env, "APP_TIMEZONE", "America/El_Salvador"),
        "LOG_LEVEL": _choice(env, "LOG_LEVEL", "INFO", ("debug", "info", "warning", "error", "critical")).upper(),
        "API_PAGE_DEFAULT": _int(env, "API_PAGE_DEFAULT", 50, minimum=1),
        "API_PAGE_MAX": _int(env, "API_PAGE_MAX", 500, minimum=1),
        "EXPORT_CHUNK_SIZE": _int(env, "EXPORT_CHUNK_SIZE", 100, minimum=1),
        "EXPORT_MAX_CONCURRENT": _int(env, "EXPORT_MAX_CONCURRENT", 2, minimum=1),
        "EXPORT_MAX_ROWS": _int(env, "EXPORT_MAX_ROWS", 0),
        # Background exports (docs/background-exports.md): RQ on REDIS_URL; off (503) without it.
        "EXPORT_BACKGROUND_ROWS": _int(env, "EXPORT_BACKGROUND_ROWS", 200_000, minimum=1),
        "EXPORT_JOB_TTL_HOURS": _int(env, "EXPORT_JOB_TTL_HOURS", 24, minimum=1),
        "EXPORT_JOB_MAX_QUEUED": _int(env, "EXPORT_JOB_MAX_QUEUED", 3, minimum=1),
        # A running job that has not reported progress for this long is failed (its worker died).
        "EXPORT_JOB_STALE_SECONDS": _int(env, "EXPORT_JOB_STALE_SECONDS", 120, minimum=1),
        "UPLOAD_CHUNK_SIZE": _int(env, "UPLOAD_CHUNK_SIZE", 65536, minimum=512),
        # A request body is read this much at a time: gunicorn's read-ahead (app/uploads/streaming.py).
        "UPLOAD_READ_SIZE": _int(env, "UPLOAD_READ_SIZE", 1024 * 1024, minimum=512),
        "MAX_UPLOAD_MB": _int(env, "MAX_UPLOAD_MB", 25, minimum=1),
        # Seconds a request body may go without a byte before the upload is dropped with a 408.
        "UPLOAD_READ_TIMEOUT": _float(env, "UPLOAD_READ_TIMEOUT", 30.0, 0.1, 3600.0),
        "STORAGE_BACKEND": _choice(env, "STORAGE_BACKEND", "local", ("local", "s3")),
        "STORAGE_DIR": env.get("STORAGE_DIR") or str(BACKEND_DIR / "instance" / "storage"),
        "S3_BUCKET": env.get("S3_BUCKET", ""),
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL") or None,
        "S3_REGION": env.get("S3_REGION") or "us-east-1",
        "S3_ACCESS_KEY_ID": env.get("S3_ACCESS_KEY_ID") or None,
        "S3_SECRET_ACCESS_KEY": env.get("S3_SECRET_ACCESS_KEY") or None,
        "INSTANCE_NAME": instance_name(env),
        "DOCUMENTS_ZIP_MAX_FILES": _int(env, "DOCUMENTS_ZIP_MAX_FILES", 2000, minimum=1),
        "DOCUMENTS_ZIP_MAX_MB": _int(env, "DOCUMENTS_ZIP_MAX_MB", 0),
        "DOCUMENTS_ZIP_MAX_CONCURRENT": _int(env, "DOCUMENTS_ZIP_MAX_CONCURRENT", 2, minimum=1),
        "IMPORT_MAX_ROWS": _int(env, "IMPORT_MAX_ROWS", 1_000_000, minimum=1),
        "INTAKE_PDF_MAX_PAGES": _int(env, "INTAKE_PDF_MAX_PAGES", 20, minimum=1),
        "INTAKE_PDF_MAX_CHARS": _int(env, "INTAKE_PDF_MAX_CHARS", 100_000, minimum=1000),
        "INTAKE_PDF_MAX_SECONDS": _int(env, "INTAKE_PDF_MAX_SECONDS", 10, minimum=1),
        "INTAKE_JSON_MAX_KB": _int(env, "INTAKE_JSON_MAX_KB", 512, minimum=1),
        "INTAKE_PATTERN_TIMEOUT_MS": _int(env, "INTAKE_PATTERN_TIMEOUT_MS", 200, minimum=1),
        "MEMORY_SAMPLE_RATE": _float(env, "MEMORY_SAMPLE_RATE", 0.01, 0.0, 1.0),
        # None (unset): 40% of the container's cgroup memory limit, 400 MB without one (ops.cgroup).
        "MEMORY_ALERT_MB": _optional_int(env, "MEMORY_ALERT_MB", minimum=1),
        "MEMORY_LARGE_REQUEST_MB": _int(env, "MEMORY_LARGE_REQUEST_MB", 10, minimum=1),
        # GET /metrics (docs/metrics.md): a bearer token for the scraper (an admin's token or session also works).
        "METRICS_ENABLED": _bool(env, "METRICS_ENABLED", True),
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        # Set by gunicorn.conf.py for its workers; unset (flask run, tests) the process's own registry is served.
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        "ENABLE_TEST_ROUTES": _bool(env, "NEXTOPS_ENABLE_TEST_ROUTES", False),
        "MIGRATIONS_CLI": _bool(env, "NEXTOPS_MIGRATIONS_CLI", True),
    }


@dataclass(frozen=True)
class GunicornSettings:
    """The GUNICORN_* variables, parsed; ``gunicorn.conf.py`` maps them onto gunicorn's names."""

    workers: int
    worker_class: str
    worker_connections: int
    max_requests: int
    max_requests_jitter: int
    timeout: int
    graceful_timeout: int
    keepalive: int
    bind: str
    preload: bool
    max_worker_memory_mb: int
    gc_freeze: bool
    pidfile: str
    metrics_dir: str
    log_level: str


def _bind_name(bind: str) -> str:
    port = bind.rsplit(":", 1)[-1]
    return port if port.isdigit() else re.sub(r"[^A-Za-z0-9]+", "-", bind).strip("-")


def default_pidfile(bind: str) -> str:
    """``<tmp>/nextops-gunicorn-<port>.pid``: one per port, so ``check_memory.py`` finds the master it asks about."""
    return str(Path(tempfile.gettempdir()) / f"nextops-gunicorn-{_bind_name(bind)}.pid")


def default_metrics_dir(bind: str) -> str:
    """``<tmp>/nextops-metrics-<port>``: one per port, so two servers on one host never mix their metrics."""
    return str(Path(tempfile.gettempdir()) / f"nextops-metrics-{_bind_name(bind)}")


def gunicorn_settings(env: Mapping[str, str] | None = None) -> GunicornSettings:
    """Parse the GUNICORN_* variables with the defaults RAILWAY_SETUP.md deploys (2 gevent workers, recycle at 500)."""
    env = os.environ if env is None else env
    port = _int(env, "PORT", 8000, minimum=1)
    bind = env.get("GUNICORN_BIND") or f"0.0.0.0:{port}"
    return GunicornSettings(
        workers=_int(env, "GUNICORN_WORKERS", 2, minimum=1),
        worker_class=_choice(env, "GUNICORN_WORKER_CLASS", "gevent", ("gevent", "sync", "gthread")),
        worker_connections=_int(env, "GUNICORN_WORKER_CONNECTIONS", 500, minimum=1),
        max_requests=_int(env, "GUNICORN_MAX_REQUESTS", 500),
        max_requests_jitter=_int(env, "GUNICORN_MAX_REQUESTS_JITTER", 50),
        timeout=_int(env, "GUNICORN_TIMEOUT", 120, minimum=1),
        # As long as the timeout: a worker recycled (max requests, memory) mid-export lets it finish.
        graceful_timeout=_int(env, "GUNICORN_GRACEFUL_TIMEOUT", 120, minimum=1),
        keepalive=_int(env, "GUNICORN_KEEPALIVE", 5, minimum=1),
        bind=bind,
        preload=_bool(env, "GUNICORN_PRELOAD", True),
        max_worker_memory_mb=_int(env, "GUNICORN_MAX_WORKER_MEMORY_MB", 350),
        gc_freeze=_bool(env, "GUNICORN_GC_FREEZE", True),
        pidfile=env.get("GUNICORN_PIDFILE") or default_pidfile(bind),
        metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or default_metrics_dir(bind),
        log_level=_choice(env, "LOG_LEVEL", "INFO", ("debug", "info", "warning", "error", "critical")),
    )
