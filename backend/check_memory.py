#!/usr/bin/env python3
"""Memory check of the NextOps gunicorn running on this host (or, with --url, of a deployment).

    python backend/check_memory.py              # the gunicorn master on this host and its workers
    python backend/check_memory.py --json       # the same report for machines
    python backend/check_memory.py --url https://<app> --token <admin token>   # a deployed instance

Same report as ``flask memory-check``. It imports only ``ops/`` (no Flask, no SQLAlchemy): it
measures gunicorn, not itself, and stays small enough to run beside a server near its limit. On
Railway use ``--url`` from your machine, or ``railway ssh`` and run it in the container:
``railway run`` would run it on your laptop. Exit codes: 0 excellent/good, 1 warning, 2 critical,
3 could not measure, 64 usage error (``docs/failure-modes.md``).
"""

import sys
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parent
PROJECT_PYTHON = BACKEND_DIR.parent / ".venv" / "bin" / "python"
COULD_NOT_MEASURE = 3


def _missing_packages(exc: ImportError) -> int:
    """One line naming the interpreter to use, instead of a traceback whose exit 1 would read as WARNING."""
    python = PROJECT_PYTHON if PROJECT_PYTHON.exists() else "the Python that has backend/requirements.txt installed"
    print(
        f"check_memory.py: {sys.executable} lacks the package {exc.name!r}; run it with {python}",
        file=sys.stderr,
    )
    return COULD_NOT_MEASURE


def _run() -> int:
    sys.path.insert(0, str(BACKEND_DIR))
    try:
        from ops.memory_check import main
    except ImportError as exc:
        return _missing_packages(exc)
    return main()


if __name__ == "__main__":
    sys.exit(_run())
