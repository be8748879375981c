"""``flask import ots FILE [--dry-run]``: the spreadsheet import from the command line, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from app.imports.importer import IMPORT_TYPES, import_file
from app.imports.spreadsheets import SheetChoice, SpreadsheetError
from app.uploads.sniffing import UnsupportedType, sniff_file


@click.group("import")
def import_group() -> None:
    """Bulk imports from files."""


@import_group.command("ots")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and count, write nothing.")
@click.option("--sheet", help="Sheet number to read (1 = first); required when the workbook has several.")
@with_appcontext
def import_ots_command(path: Path, dry_run: bool, sheet: str | None) -> None:
    """Create or update OTs from an .xlsx or .csv file (same rules as POST /api/ots/import)."""
    try:
        choice = SheetChoice.parse(sheet)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sheet") from None
    try:
        content_type = sniff_file(path, IMPORT_TYPES)
        with tqdm(desc="rows", unit="rows", mininterval=0.5) as bar:
            max_rows = current_app.config["IMPORT_MAX_ROWS"]
            result = import_file(path, content_type, dry_run, max_rows, bar.update, sheet=choice)
    except UnsupportedType as exc:
        raise click.ClickException(f"unsupported file type ({exc}); send an .xlsx or .csv file") from None
    except SpreadsheetError as exc:
        raise click.ClickException(str(exc)) from None
    if result.error_count:
        for error in result.errors:
            click.echo(f"row {error.row} [{error.column or '-'}]: {error.message}", err=True)
        hidden = result.error_count - len(result.errors)
        if hidden:
            click.echo(f"... and {hidden} more", err=True)
        raise click.ClickException(f"{result.error_count} problem(s) found in {result.rows} rows; nothing was imported")
    created, updated = ("would create", "would update") if dry_run else ("created", "updated")
    click.echo(f"{result.rows} rows: {created} {result.created}, {updated} {result.updated}")
    if result.ignored_columns:
        click.echo(f"ignored columns: {', '.join(result.ignored_columns)}")
