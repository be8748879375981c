"""The plain-value vocabulary every part of NextOps shares: booleans in words, and the byte unit.

Environment variables (``config.py``), query parameters (``app/filters.py``, the import's
``dry_run``) and the process tooling (``ops/``) read the same words the same way, so
``GUNICORN_PRELOAD=on`` and ``?dry_run=on`` mean the same thing. Standard library only: it is
imported by ``gunicorn.conf.py`` before gevent patches.
"""

from __future__ import annotations

MB = 1024 * 1024
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
