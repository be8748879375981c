"""``flask users create|list|set-role|deactivate|reset-password|demo-admin``."""

from __future__ import annotations

import secrets
import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.accounts.users import AccountError, create_user, deactivate, find_user, set_password, set_role
from app.extensions import db
from app.models import ROLES, User

DEMO_EMAIL = "admin@nextops.local"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _user(identifier: str) -> User:
    user = find_user(identifier)
    if user is None:
        raise click.ClickException(f"no account with email or username {identifier!r}")
    return user


def _run(action: object) -> None:
    try:
        action()  # type: ignore[operator]
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None


@click.group("users")
def users_group() -> None:
    """Manage the accounts people sign in with."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True, help="Display name.")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--username", help="Defaults to the part of the email before '@'.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@with_appcontext
def create(email: str, name: str, role: str, username: str | None, password_stdin: bool) -> None:
    password = _password(password_stdin)
    _run(lambda: create_user(email, name, role, password, username))
    click.echo(f"created {email.strip().lower()} ({role})")


@users_group.command("list")
@with_appcontext
def list_users() -> None:
    for user in db.session.scalars(select(User).order_by(User.id)):
        state = "active" if user.active else "inactive"
        last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "never"
        click.echo(f"{user.id}\t{user.email}\t{user.username}\t{user.role}\t{state}\tlast login {last}")


@users_group.command("set-role")
@click.argument("identifier")
@click.argument("role", type=click.Choice(ROLES))
@with_appcontext
def set_role_command(identifier: str, role: str) -> None:
    user = _user(identifier)
    _run(lambda: set_role(user, role))
    click.echo(f"{user.email} is now {role}")


@users_group.command("deactivate")
@click.argument("identifier")
@with_appcontext
def deactivate_command(identifier: str) -> None:
    """No more sign-in; live sessions and the account's tokens stop working at once."""
    user = _user(identifier)
    deactivate(user)
    click.echo(f"{user.email} deactivated")


@users_group.command("reset-password")
@click.argument("identifier")
@click.option("--password-stdin", is_flag=True)
@with_appcontext
def reset_password(identifier: str, password_stdin: bool) -> None:
    """A new password; the account's live sessions end."""
    user = _user(identifier)
    password = _password(password_stdin)
    _run(lambda: set_password(user, password))
    click.echo(f"password of {user.email} changed; its sessions were ended")


@users_group.command("demo-admin")
@with_appcontext
def demo_admin() -> None:
    """Create (or give a new password to) the demo admin; prints the email and the password, once."""
    password = secrets.token_urlsafe(12)
    user = find_user(DEMO_EMAIL)
    if user is None:
        create_user(DEMO_EMAIL, "Demo admin", "admin", password, "admin")
    else:
        user.active, user.role = True, "admin"
        set_password(user, password)
    click.echo(DEMO_EMAIL)
    click.echo(password)
