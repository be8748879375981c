"""``flask tokens create``: mint an API token and print it once."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.auth import create_token
from app.models import TOKEN_ROLES


@click.group("tokens")
def tokens_group() -> None:
    """Manage API bearer tokens."""


@tokens_group.command("create")
@click.option("--name", required=True, help="Who or what the token is for.")
@click.option("--role", type=click.Choice(TOKEN_ROLES), default="user", show_default=True)
@click.option("--replace", is_flag=True, help="Revoke earlier tokens with the same name.")
@with_appcontext
def create(name: str, role: str, replace: bool) -> None:
    """Create a token; it is printed once and only its hash is stored."""
    click.echo(create_token(name, role, replace=replace))
