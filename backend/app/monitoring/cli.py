"""``flask memory-check``: the memory check of ``ops.memory_check`` as a ``flask`` sub-command.

Arguments pass through untouched, so both front doors take the same options and exit codes.
"""

from __future__ import annotations

import click

from ops.memory_check import main


@click.command(
    "memory-check",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def memory_check_command(args: tuple[str, ...]) -> None:
    """Memory of the gunicorn tree on this host (same report as backend/check_memory.py; --help)."""
    click.get_current_context().exit(main(list(args), prog="flask memory-check"))
