"""The plain-value vocabulary every part of NextOps shares: booleans in words, the byte unit, Excel's day zero.

Environment variables (``config.py``), query parameters (``app/filters.py``, the import's
``dry_run``) and the process tooling (``ops/``) read the same words the same way, so
``GUNICORN_PRELOAD=on`` and ``?dry_run=on`` mean the same thing. Standard library only: it is
imported by ``gunicorn.conf.py`` before gevent patches.
"""

from __future__ import annotations

import datetime as dt

MB = 1024 * 1024
# Serial 0 of Excel's 1900 date system (serial 1 is 1900-01-01; Excel's phantom 29 Feb 1900 makes day zero the 30th):
# the exports write dates as serials from it, the import reads serials back.
EXCEL_EPOCH = dt.date(1899, 12, 30)
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
BOOLEAN_HINT = "true or false (1/0, yes/no, on/off)"


def parse_bool(raw: str) -> bool:
    """``True``/``False`` for a boolean word (case and surrounding spaces ignored); ``ValueError`` otherwise."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected {BOOLEAN_HINT}, got {raw!r}")
