"""``flask`` sub-commands: tokens, users, seed (and the feature packages add their own)."""

from flask import Flask

from app.accounts.cli import users_group
from app.cli.seed import seed_command
from app.cli.tokens import tokens_group
from app.exports.cli import export_group
from app.exports.worker import exports_group, rq_worker_command
from app.imports.cli import import_group
from app.intake.cli import intake_group
from app.monitoring.cli import memory_check_command


def register_cli(app: Flask) -> None:
    app.cli.add_command(tokens_group)
    app.cli.add_command(users_group)
    app.cli.add_command(seed_command)
    app.cli.add_command(import_group)
    app.cli.add_command(intake_group)
    app.cli.add_command(export_group)
    app.cli.add_command(exports_group)
    app.cli.add_command(rq_worker_command)
    app.cli.add_command(memory_check_command)
