"""``flask tokens create|list|revoke``: mint an API token (printed once), see them, revoke one."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.accounts.tokens import revoke_token, token_json
from app.accounts.users import find_user
from app.auth import issue_token
from app.extensions import db
from app.models import TOKEN_ROLES, ApiToken, utcnow


@click.group("tokens")
def tokens_group() -> None:
    """Manage API bearer tokens."""


@tokens_group.command("create")
@click.option("--name", required=True, help="Who or what the token is for.")
@click.option("--role", type=click.Choice(TOKEN_ROLES), default="operativo", show_default=True)
@click.option("--user", "owner", help="Email or username of the account the token acts for (its role is the ceiling).")
@click.option("--expires-days", type=click.IntRange(1, 3650), help="Expire after this many days.")
@click.option("--replace", is_flag=True, help="Revoke earlier tokens with the same name.")
@with_appcontext
def create(name: str, role: str, owner: str | None, expires_days: int | None, replace: bool) -> None:
    """Create a token; it is printed once and only its hash is stored."""
    user = find_user(owner) if owner else None
    if owner and user is None:
        raise click.ClickException(f"no account {owner!r}")
    expires = utcnow() + dt.timedelta(days=expires_days) if expires_days else None
    try:
        _, secret = issue_token(name, role, replace=replace, user=user, expires_at=expires)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(secret)


@tokens_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked tokens.")
@with_appcontext
def list_tokens(show_all: bool) -> None:
    stmt = select(ApiToken).order_by(ApiToken.id)
    if not show_all:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    for row in db.session.scalars(stmt):
        item = token_json(row)
        click.echo(
            f"{item['id']}\t{item['name']}\t{item['role']}\t{item['owner'] or 'service'}\t"
            f"expires {item['expires_at'] or 'never'}\tlast used {item['last_used_at'] or 'never'}\t"
            f"{'revoked' if item['revoked_at'] else 'active'}"
        )


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def revoke(token_id: int) -> None:
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise click.ClickException(f"no token {token_id}")
    revoke_token(row)
    click.echo(f"token {token_id} ({row.name}) revoked")
