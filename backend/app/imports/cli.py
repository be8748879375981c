"""``flask import ots FILE...``: the OT import from the command line, same rules as ``POST /api/ots/import``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from app.errors import ApiError
from app.imports.importer import IMPORT_TYPES, ImportOptions, ImportResult, files_on_disk, parse_decisions, run_import
from app.imports.sample_workbook import write_sample_workbook
from app.uploads.sniffing import UnsupportedType, sniff_file


@click.group("import")
def import_group() -> None:
    """Bulk imports from files."""


@import_group.command("ots")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Read, check and count; write nothing; list the conflicts.")
@click.option("--sheet", help="Sheet to read (default: IMPORT/BASE/DATOS/OTS/ORDENES, else the largest).")
@click.option("--create-clients", is_flag=True, help="Create clients the files name that do not exist yet.")
@click.option(
    "--decisions",
    "decisions_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON file of conflict decisions, e.g. {"25OT1327/client": "keep"}.',
)
@with_appcontext
def import_ots_command(
    paths: tuple[Path, ...], dry_run: bool, sheet: str | None, create_clients: bool, decisions_path: Path | None
) -> None:
    """Create or update OTs from the team's .xlsx or .csv workbooks, all files in one transaction."""
    try:
        decisions = parse_decisions(decisions_path.read_text() if decisions_path else None)
        options = ImportOptions(dry_run, current_app.config["IMPORT_MAX_ROWS"], decisions, create_clients, sheet)
        with tqdm(desc="rows", unit="rows", mininterval=0.5) as bar:
            result = run_import(files_on_disk(paths, _sniff), options, bar.update)
    except ApiError as exc:
        raise click.ClickException(str(exc.description)) from None
    _report(result)


def _sniff(path: Path) -> str:
    try:
        return sniff_file(path, IMPORT_TYPES)
    except UnsupportedType as exc:
        raise click.ClickException(f"{path.name}: unsupported file type ({exc}); send an .xlsx or .csv file") from None


def _report(result: ImportResult) -> None:
    for warning in result.warnings:
        click.echo(f"warning: {_where(warning)}: {warning.message}", err=True)
    if result.error_count:
        for error in result.errors:
            click.echo(f"{_where(error)}: {error.message}", err=True)
        hidden = result.error_count - len(result.errors)
        if hidden:
            click.echo(f"... and {hidden} more", err=True)
        raise click.ClickException(f"{result.error_count} problem(s) found; nothing was imported")
    if result.conflicts:
        click.echo(json.dumps([conflict.__dict__ for conflict in result.conflicts], ensure_ascii=False, indent=2))
        if not result.dry_run:
            raise click.ClickException(
                f"{result.conflict_count} conflict(s) need a decision; pass --decisions FILE; nothing was imported"
            )
    for report in result.files:
        if report.status == "already_imported":
            click.echo(f"{report.filename}: already imported, skipped")
            continue
        verb = ("would create", "would update") if result.dry_run else ("created", "updated")
        click.echo(
            f"{report.filename} [{report.sheet or 'csv'}]: {report.rows} rows: {verb[0]} {report.created}, "
            f"{verb[1]} {report.updated}, unchanged {report.unchanged}, manual values kept {report.kept_manual}"
        )


def _where(problem: object) -> str:
    parts = [getattr(problem, "file", "")]
    if getattr(problem, "sheet", None):
        parts.append(f"sheet {problem.sheet}")  # type: ignore[attr-defined]
    if getattr(problem, "row", None):
        parts.append(f"row {problem.row}")  # type: ignore[attr-defined]
    if getattr(problem, "column", None):
        parts.append(f"[{problem.column}]")  # type: ignore[attr-defined]
    return " ".join(parts)


@import_group.command("sample")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--operativo", default="Ana Martínez", show_default=True, help="Whose workbook (in its file name).")
@click.option("--rows", default=60, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", default=1, show_default=True, help="Same seed, same workbook.")
@with_appcontext
def sample_command(directory: Path, operativo: str, rows: int, seed: int) -> None:
    """Write a workbook laid out like the team's (from the demo data) to try the import with."""
    directory.mkdir(parents=True, exist_ok=True)
    click.echo(write_sample_workbook(directory, operativo, rows, seed))
