"""Account operations shared by ``flask users`` and the API: one place for the rules of an account."""

from __future__ import annotations

import re

from sqlalchemy import func, or_, select

from app.accounts.passwords import hash_password, password_problem
from app.extensions import db
from app.models import ROLES, User

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class AccountError(ValueError):
    """An account operation was refused; the message says why."""


def normalise(identifier: str) -> str:
    """Emails and usernames are compared lower-cased and trimmed: ``Ana@PLG.sv`` is ``ana@plg.sv``."""
    return identifier.strip().lower()


def find_user(identifier: str) -> User | None:
    """The account whose email or username is ``identifier`` (either signs in)."""
    key = normalise(identifier)
    if not key:
        return None
    return db.session.scalars(select(User).where(or_(User.email == key, User.username == key))).first()


def create_user(email: str, name: str, role: str, password: str, username: str | None = None) -> User:
    email = normalise(email)
    username = normalise(username) if username else email.split("@", 1)[0]
    if not EMAIL.match(email):
        raise AccountError(f"{email!r} is not an email address")
    if not USERNAME.match(username):
        raise AccountError(f"username {username!r}: letters, digits, '.', '_' or '-', 2 to 64 characters")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise AccountError("a display name is required")
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    taken = db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(or_(User.email.in_((email, username)), User.username.in_((email, username))))
    )
    if taken:
        raise AccountError(f"{email} or {username} is already an account's email or username")
    user = User(
        email=email, username=username, display_name=name.strip(), role=role, password_hash=hash_password(password)
    )
    db.session.add(user)
    db.session.commit()
    return user


def set_password(user: User, password: str) -> None:
    """A new password ends the account's live sessions (their session version no longer matches)."""
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    user.password_hash = hash_password(password)
    user.session_version += 1
    db.session.commit()


def set_role(user: User, role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    user.role = role
    db.session.commit()


def deactivate(user: User) -> None:
    """No more sign-ins, sessions or tokens for this account; its history keeps its name."""
    user.active = False
    user.session_version += 1
    db.session.commit()
