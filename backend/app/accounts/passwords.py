"""Password hashing with Argon2id (argon2-cffi), at OWASP's recommended cost.

The default argon2-cffi profile takes 64 MiB per hash; in a 1 GB container with gevent workers a burst
of sign-ins would cost that much each, so the OWASP minimum (19 MiB, 2 passes) is used instead.
Hashes made with other parameters still verify and are rehashed at the next sign-in.

Each hash or check allocates its 19 MiB as one block, which glibc serves from the heap once its
dynamic mmap threshold has grown, and keeps after the free: without a trim every worker would hold
that block for good after its first sign-in (``make bench-monitoring`` measures the web pages with
sign-ins included). :func:`_trimmed` hands it back at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ops.worker_lifecycle import malloc_trim

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
MIN_LENGTH = 10
T = TypeVar("T")


def _trimmed(operation: Callable[[], T]) -> T:
    """Run one Argon2 operation, then give its memory block back to the OS."""
    try:
        return operation()
    finally:
        malloc_trim()


@functools.cache
def dummy_hash() -> str:
    """Verified when the account does not exist, so an unknown email costs as long as a wrong password.

    Computed on first use, never at import; a preloaded gunicorn master computes it before the fork
    (``app.preload``), so the workers share it instead of each hashing on their first unknown email.
    """
    return _trimmed(lambda: HASHER.hash("not-a-password-anyone-has"))


def hash_password(password: str) -> str:
    return _trimmed(lambda: HASHER.hash(password))


def check_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with ``stored=None`` it still spends the time of a check."""
    target = stored or dummy_hash()
    try:
        return _trimmed(lambda: HASHER.verify(target, password)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return HASHER.check_needs_rehash(stored)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > 1024:
        return "a password has at most 1024 characters"
    return None
