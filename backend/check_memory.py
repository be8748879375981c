#!/usr/bin/env python3
"""Memory health of the NextOps gunicorn running on this host (or, with --url, of a deployment).

    python backend/check_memory.py              # the gunicorn master on this host and its workers
    python backend/check_memory.py --json       # the same report for machines
    python backend/check_memory.py --url https://<app> --token <admin token>   # a deployed instance

Same report as ``flask memory-check``; it does not create the Flask app, and it measures gunicorn,
not itself. On Railway use ``--url`` from your machine, or ``railway ssh`` and run it in the
container: ``railway run`` would run it on your laptop. Exit codes: 0 excellent/good, 1 warning,
2 critical, 3 could not measure.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from app.monitoring.health_cli import main

if __name__ == "__main__":
    sys.exit(main())
