"""``flask export invoices|ots --format xlsx|csv -o FILE [--<filter> VALUE ...]``: the API's export, to a file.

Same SELECT, server-side cursor and writers as the HTTP endpoints, plus a progress bar. Filters are
the list endpoints' query parameters written as options (``--billing_status pending``); they go
through the same parser, so a misspelt one is an error rather than an unfiltered export. The file is
written under a temporary name and renamed when complete, so an interrupted run leaves no partial file.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm
from werkzeug.datastructures import MultiDict

from app.errors import ApiError
from app.exports.columns import LANGUAGES
from app.exports.formats import FORMATS, ExportFormat, parse_columns, row_limit
from app.exports.queries import EXPORTS, ExportDefinition
from app.exports.streams import open_export
from app.extensions import db

FILTER_HELP = "Filters: the list endpoint's query parameters as options, e.g. --billing_status pending."


def filter_args(extra: list[str]) -> MultiDict[str, str]:
    """``["--client_id", "3", "--status=open"]`` -> ``{"client_id": "3", "status": "open"}`` (dashes allowed)."""
    args: MultiDict[str, str] = MultiDict()
    items = iter(extra)
    for item in items:
        if not item.startswith("--") or len(item) < 3:
            raise click.UsageError(f"unexpected argument {item!r}; filters look like --name value")
        name, has_value, value = item[2:].partition("=")
        if not has_value:
            value = next(items, None)  # type: ignore[assignment]
            if value is None:
                raise click.UsageError(f"filter --{name} needs a value")
        args.add(name.replace("-", "_"), value)
    return args


def write_export(
    definition: ExportDefinition, export_format: ExportFormat, args: MultiDict[str, str], path: Path
) -> int:
    """Write the export to ``path`` atomically and return the number of rows."""
    try:
        conditions = definition.conditions(args, ())
    except ApiError as exc:
        raise click.UsageError(exc.description or str(exc)) from None
    total = db.session.scalar(definition.count(conditions)) or 0
    db.session.commit()
    limit = row_limit(export_format, 0)
    if limit is not None and total > limit:
        raise click.ClickException(f"{total} rows do not fit in one {export_format.name} sheet ({limit}); use csv")
    stream = open_export(db.engine, definition, export_format, conditions, current_app.config["EXPORT_CHUNK_SIZE"])
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out, tqdm(total=total, unit="rows", desc=definition.name) as bar:
            for piece in stream.pieces():
                out.write(piece)
                bar.n = stream.rows_read
                bar.refresh()
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    finally:
        stream.close()
    return stream.rows_read


def _command(name: str) -> click.Command:
    definition = EXPORTS[name]

    @click.command(
        name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, epilog=FILTER_HELP
    )
    @click.option("--format", "format_name", type=click.Choice(list(FORMATS)), default="xlsx", show_default=True)
    @click.option("--lang", type=click.Choice(LANGUAGES), default="es", show_default=True, help="Headings and words.")
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="File to write (default: the API's file name, in the current directory).",
    )
    @click.option("--columns", help="Only these columns, in this order (comma-separated keys, as ?columns=).")
    @click.pass_context
    @with_appcontext
    def command(ctx: click.Context, format_name: str, lang: str, output: Path | None, columns: str | None) -> None:
        export_format = FORMATS[format_name]
        localised = definition.localised(lang, current_app.config["APP_TIMEZONE"])
        try:
            keys = parse_columns([columns] if columns is not None else [])
            if keys is not None:
                localised = localised.with_columns(keys)
        except ApiError as exc:
            raise click.UsageError(exc.description or str(exc)) from None
        path = output or Path(export_format.filename(localised, dt.datetime.now(dt.UTC)))
        rows = write_export(localised, export_format, filter_args(ctx.args), path.resolve())
        click.echo(f"wrote {rows} {name} to {path}")

    command.help = f"Export {name} matching the filters to an .xlsx or .csv file."
    return command


@click.group("export")
def export_group() -> None:
    """Export invoices or OTs to XLSX/CSV (the same writer as the API)."""


export_group.add_command(_command("invoices"))
export_group.add_command(_command("ots"))
