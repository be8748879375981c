"""Stdout-only JSON logging shared by the Flask app and gunicorn.

Railway captures stdout; files inside the container cost memory (tmpfs) and disappear on redeploy,
so there is no file handler anywhere. One dictConfig serves the app and gunicorn's own loggers so that
every line a deployment prints parses as JSON.
"""

from __future__ import annotations

import logging.config
from typing import Any

JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"
STARTUP_LOGGER = "nextops.startup"
# The sampled per-request memory records: their volume is MEMORY_SAMPLE_RATE's to set, not LOG_LEVEL's.
SAMPLE_LOGGER = "nextops.memory_sample"
JSON_RENAME = {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"}


def logging_dict(level: str) -> dict[str, Any]:
    """Return a dictConfig sending root, gunicorn.error and gunicorn.access to stdout as JSON."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": JSON_FORMAT,
                "rename_fields": JSON_RENAME,
            }
        },
        "handlers": {"stdout": handler},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
            # The start-up summary operators grep for ("Gunicorn starting with config:") is printed even at
            # LOG_LEVEL=WARNING, the level RAILWAY_SETUP.md recommends for production: it is a few lines per deploy.
            STARTUP_LOGGER: {"level": "INFO", "handlers": ["stdout"], "propagate": False},
            # Memory samples print at any LOG_LEVEL too: the memory check tells operators to grep for them.
            # No handler of its own: records propagate to root's handler, which has no level filter.
            SAMPLE_LOGGER: {"level": "INFO"},
            # Alembic announces each autogenerate plugin at INFO on import: noise on every `flask` command
            # (and invalid JSON ahead of `flask memory-check --json`).
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


def configure_logging(level: str) -> None:
    """Install the JSON stdout handler on the root logger (idempotent: dictConfig replaces handlers)."""
    logging.config.dictConfig(logging_dict(level))
