"""``flask`` sub-commands: tokens, seed (and the feature packages add their own)."""

from flask import Flask

from app.cli.seed import seed_command
from app.cli.tokens import tokens_group


def register_cli(app: Flask) -> None:
    app.cli.add_command(tokens_group)
    app.cli.add_command(seed_command)
