"""Import OTs from a spreadsheet: validate each row, upsert in batches of 500, all in one transaction.

The file is read row by row (:mod:`app.imports.spreadsheets`), so memory holds one batch, not the
file. Every batch is written inside the same transaction and the transaction is committed only when
the whole file was read without a single row error; otherwise (or for a dry run) it is rolled back.
A dry run therefore runs exactly the real import, database constraints included, and its counts are
the ones a real run would report.

Format (header row first, names case-insensitive, spaces allowed for underscores; other columns are
ignored and listed in the answer):

``ot_number`` (required, the upsert key), ``client`` (required: the name of an existing client; the
import does not create clients, so a typo cannot invent one), ``carrier`` (name of an existing carrier),
``master_bl``, ``containers`` (ISO 6346 codes such as ``MSCU1234567``, separated by commas, semicolons
or spaces), ``vessel``, ``eta`` (a date cell, ``YYYY-MM-DD`` or ``DD/MM/YYYY``), ``status`` (one of
:data:`app.models.OT_STATUSES`, default ``open``).

A blank cell leaves an existing OT's value unchanged; on a new OT it means "empty" (status ``open``).
An OT number that appears twice in one file is an error rather than a silent overwrite.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from app.errors import ApiError
from app.extensions import db
from app.imports.spreadsheets import (
    Row,
    SheetChoice,
    SheetChoiceNeeded,
    SheetNotFound,
    SpreadsheetError,
    read_rows,
)
from app.models import OT_STATUSES, Client, Ot, Provider, utcnow
from app.uploads.sniffing import CSV, XLSX
from app.uploads.streaming import Upload, receive
from ops.leftovers import PART_SUFFIX, part_prefix, temp_dir

IMPORT_TYPES = frozenset({XLSX, CSV})
BATCH_SIZE = 500
MAX_REPORTED_ERRORS = 100
COLUMNS = ("ot_number", "client", "carrier", "master_bl", "containers", "vessel", "eta", "status")
REQUIRED = ("ot_number", "client")
MAX_LENGTH = {"ot_number": 32, "master_bl": 64, "vessel": 120}
CONTAINER = re.compile(r"[A-Z]{4}[0-9]{7}")
CONTAINER_SEPARATORS = re.compile(r"[\s,;]+")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DAY_FIRST_DATE = re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}")
NEW_OT_DEFAULTS = {"carrier_id": None, "master_bl": None, "containers": [], "vessel": None, "eta": None}
Progress = Callable[[int], object]


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    message: str


@dataclass
class ImportResult:
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    def add_error(self, row: int, column: str | None, message: str) -> None:
        """Count every error; keep the first :data:`MAX_REPORTED_ERRORS` for the answer."""
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(row, column, message))

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "dry_run": self.dry_run,
            "ignored_columns": self.ignored_columns,
        }


def import_upload(
    upload: Upload, limit: int, storage_dir: str, dry_run: bool, max_rows: int, sheet: SheetChoice | None = None
) -> ImportResult:
    """Spool the upload to a temp file (zip parsers need to seek), import it, always delete the file.

    The temp file lives under ``STORAGE_DIR/tmp`` (a disk volume) rather than ``/tmp``, which is RAM
    wherever ``/tmp`` is a tmpfs.
    """
    directory = temp_dir(storage_dir)
    directory.mkdir(parents=True, exist_ok=True)
    # import-<pid>-<random>.part: the master removes it if this worker is killed mid-import (ops/leftovers.py).
    with tempfile.NamedTemporaryFile(dir=directory, prefix=part_prefix("import"), suffix=PART_SUFFIX) as spool:
        received = receive(upload, spool.write, limit, IMPORT_TYPES)
        spool.flush()
        try:
            result = import_file(spool.name, received.content_type, dry_run, max_rows, sheet=sheet)
        except SheetChoiceNeeded as exc:
            raise ApiError(422, str(exc), "sheet_required", sheets=exc.sheets) from None
        except SheetNotFound as exc:
            raise ApiError(400, str(exc), "invalid_parameter", parameter="sheet", sheets=exc.sheets) from None
        except SpreadsheetError as exc:
            raise ApiError(400, str(exc), "unreadable_spreadsheet") from None
    if result.error_count:
        raise ApiError(
            422,
            f"{result.error_count} problem(s) found; nothing was imported",
            "invalid_rows",
            errors=[asdict(error) for error in result.errors],
            error_count=result.error_count,
            rows=result.rows,
            created=0,
            updated=0,
            dry_run=dry_run,
        )
    return result


def import_file(
    path: str | Path,
    content_type: str,
    dry_run: bool,
    max_rows: int,
    progress: Progress | None = None,
    sheet: SheetChoice | None = None,
) -> ImportResult:
    """Import the OTs in ``path``; commit only if every row is valid and this is not a dry run.

    With errors the counts are reset to zero (nothing was written) and ``errors`` lists them.
    Raises :class:`SpreadsheetError` when the file itself cannot be read (nothing is written then either).
    """
    result = ImportResult(dry_run=dry_run)
    try:
        _import(read_rows(path, content_type, sheet), result, max_rows, progress)
    except BaseException:
        db.session.rollback()
        raise
    if result.error_count or dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    if result.error_count:
        result.created = result.updated = 0
    return result


def _import(rows: Iterator[tuple[int, Row]], result: ImportResult, max_rows: int, progress: Progress | None) -> None:
    header = _read_header(rows, result)
    if header is None:
        return
    lookups = Lookups.load()
    writer = BatchWriter(result, stamp=utcnow())
    for number, values in rows:
        if _is_blank(values):
            continue
        result.rows += 1
        if result.rows > max_rows:
            result.add_error(number, None, f"the file has more than {max_rows} rows (IMPORT_MAX_ROWS)")
            return
        parsed = _parse_row(number, values, header, lookups, result)
        if parsed is not None:
            writer.add(number, parsed)
        if progress is not None:
            progress(1)
    writer.flush()


def _read_header(rows: Iterator[tuple[int, Row]], result: ImportResult) -> dict[str, int] | None:
    """Column name -> index from the first non-blank row; ``None`` (with errors) if it is unusable."""
    for number, values in rows:
        if _is_blank(values):
            continue
        header: dict[str, int] = {}
        for index, raw in enumerate(values):
            name = _text(raw).lower().replace(" ", "_")
            if not name:
                continue
            if name in header:
                result.add_error(number, name, "column appears twice in the header")
            elif name in COLUMNS:
                header[name] = index
            else:
                result.ignored_columns.append(name)
        for name in REQUIRED:
            if name not in header:
                result.add_error(number, name, "required column is missing from the header row")
        return None if result.error_count else header
    result.add_error(1, None, "the file is empty: expected a header row and data rows")
    return None


@dataclass(frozen=True)
class Lookups:
    """Client and carrier ids by normalised name (a few hundred rows: loaded once per import)."""

    clients: dict[str, int]
    carriers: dict[str, int | None]  # None: two carriers share the name

    @classmethod
    def load(cls) -> Lookups:
        clients = {_key(name): id_ for id_, name in db.session.execute(select(Client.id, Client.name))}
        carriers: dict[str, int | None] = {}
        for id_, name in db.session.execute(select(Provider.id, Provider.name).where(Provider.type == "carrier")):
            carriers[_key(name)] = None if _key(name) in carriers else id_
        return cls(clients, carriers)


def _parse_row(
    number: int, values: Row, header: dict[str, int], lookups: Lookups, result: ImportResult
) -> dict[str, Any] | None:
    """The row as OT column values (blank cells left out), or None after recording its errors."""
    errors_before = result.error_count
    cells = {name: values[index] if index < len(values) else None for name, index in header.items()}
    parsed: dict[str, Any] = {}

    def fail(column: str, message: str) -> None:
        result.add_error(number, column, message)

    for name in ("ot_number", "master_bl", "vessel"):
        text = _text(cells.get(name))
        if len(text) > MAX_LENGTH[name]:
            fail(name, f"longer than {MAX_LENGTH[name]} characters")
        elif text:
            parsed[name] = text
    if not _text(cells.get("ot_number")):
        fail("ot_number", "required")
    client = _text(cells.get("client"))
    if not client:
        fail("client", "required")
    elif (client_id := lookups.clients.get(_key(client))) is None:
        fail("client", f"no client named {client!r} (create it first)")
    else:
        parsed["client_id"] = client_id
    _parse_optional(cells, lookups, parsed, fail)
    return parsed if result.error_count == errors_before else None


def _parse_optional(
    cells: dict[str, Any], lookups: Lookups, parsed: dict[str, Any], fail: Callable[[str, str], None]
) -> None:
    carrier = _text(cells.get("carrier"))
    if carrier:
        if _key(carrier) not in lookups.carriers:
            fail("carrier", f"no carrier named {carrier!r}")
        elif (carrier_id := lookups.carriers[_key(carrier)]) is None:
            fail("carrier", f"more than one carrier is named {carrier!r}")
        else:
            parsed["carrier_id"] = carrier_id
    containers = _text(cells.get("containers")).upper()
    if containers:
        codes = [code for code in CONTAINER_SEPARATORS.split(containers) if code]
        bad = [code for code in codes if not CONTAINER.fullmatch(code)]
        if bad:
            fail("containers", f"not a container code (4 letters + 7 digits): {', '.join(bad[:5])}")
        else:
            parsed["containers"] = codes
    eta = cells.get("eta")
    if _text(eta):
        try:
            parsed["eta"] = _date(eta)
        except ValueError:
            fail("eta", f"expected a date (YYYY-MM-DD or DD/MM/YYYY), got {_text(eta)!r}")
    status = _text(cells.get("status")).lower()
    if status:
        if status in OT_STATUSES:
            parsed["status"] = status
        else:
            fail("status", f"expected one of {', '.join(OT_STATUSES)}, got {status!r}")


class BatchWriter:
    """Collects valid rows and upserts them :data:`BATCH_SIZE` at a time, inside the open transaction.

    Every row it writes gets ``updated_at = stamp`` (one value per import), which is how a later
    batch recognises an OT number already written by this same file.
    """

    def __init__(self, result: ImportResult, stamp: dt.datetime) -> None:
        self.result = result
        self.stamp = stamp
        self.batch: list[tuple[int, dict[str, Any]]] = []

    def add(self, number: int, parsed: dict[str, Any]) -> None:
        self.batch.append((number, parsed))
        if len(self.batch) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        batch, self.batch = self.batch, []
        unique = self._unique(batch)
        if self.result.error_count or not unique:
            return  # nothing will be committed: skip the database work, keep validating
        existing = {
            row.ot_number: row
            for row in db.session.execute(
                select(Ot.id, Ot.ot_number, Ot.updated_at).where(Ot.ot_number.in_(list(unique)))
            )
        }
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for ot_number, (number, parsed) in unique.items():
            found = existing.get(ot_number)
            if found is None:
                inserts.append({"status": "open", **NEW_OT_DEFAULTS, **parsed, "updated_at": self.stamp})
            elif found.updated_at == self.stamp:
                self.result.add_error(number, "ot_number", f"{ot_number} appears more than once in the file")
            else:
                updates.append({**parsed, "id": found.id, "updated_at": self.stamp})
        if self.result.error_count:
            return
        if inserts:
            db.session.execute(insert(Ot), inserts)
        if updates:
            db.session.execute(update(Ot), updates)
        self.result.created += len(inserts)
        self.result.updated += len(updates)
        time.sleep(0)  # under gevent: let other requests and gunicorn's heartbeat run between batches

    def _unique(self, batch: list[tuple[int, dict[str, Any]]]) -> dict[str, tuple[int, dict[str, Any]]]:
        unique: dict[str, tuple[int, dict[str, Any]]] = {}
        for number, parsed in batch:
            first = unique.get(parsed["ot_number"])
            if first is not None:
                self.result.add_error(number, "ot_number", f"{parsed['ot_number']} also appears in row {first[0]}")
            else:
                unique[parsed["ot_number"]] = (number, parsed)
        return unique


def _is_blank(values: Row) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in values)


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _text(value: Any) -> str:
    """A cell as trimmed text: Excel hands numbers as floats (``12345.0`` -> ``"12345"``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if ISO_DATE.fullmatch(text):
            return dt.date.fromisoformat(text)
        if DAY_FIRST_DATE.fullmatch(text):
            return dt.datetime.strptime(text, "%d/%m/%Y").date()
    raise ValueError(value)
