"""Import OTs from the team's workbooks: several files, one transaction, nothing guessed.

Files are read one at a time and row by row (:mod:`app.imports.spreadsheets`); rows are written in
batches of :data:`BATCH_SIZE` inside one transaction that is committed only when every file was read
without an error and every conflict has a decision (a dry run always rolls back, so its counts are
those of the real run, database constraints included). Memory holds one batch, not the files.

The rules the team relies on:

- a file already imported (same sha256) is skipped, and so is a row whose content did not change
  since the last import (``Ot.row_hash``);
- a value a person entered by hand (``Ot.field_sources[field] == "manual"``) is never overwritten;
- when a row's client or operativo differs from the OT on record, or between two files of the same
  request, the import does not choose: the conflict is reported (the dry run lists them all) and the
  import is repeated with a decision per conflict, ``keep`` or ``new``. A client kept that way is
  remembered (:class:`~app.models.ClientResolution`), so the same spelling resolves by itself later.

Which rows are in a batch is all that is held: an OT written earlier in this request is recognised by
its ``updated_at``, stamped with one value per file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from app.errors import ApiError
from app.extensions import db
from app.imports import team_sheet
from app.imports.spreadsheets import Row, Sheet, SpreadsheetError, open_sheet
from app.models import (
    FIELD_SOURCE_RANK,
    TRACKED_FIELDS,
    Client,
    ClientResolution,
    History,
    ImportedFile,
    Ot,
    Provider,
    utcnow,
)
from app.shipping_codes import is_ot_number, normalise_ot_number, split_containers
from app.uploads.sniffing import CSV, XLSX
from app.uploads.streaming import Upload, receive
from app.writes import history
from app.writes.fields import check
from app.writes.resources import OTS
from ops.leftovers import PART_SUFFIX, part_prefix, temp_dir

IMPORT_TYPES = frozenset({XLSX, CSV})
BATCH_SIZE = 500
MAX_REPORTED = 200
DECISIONS = ("keep", "new")
CONFLICT_FIELDS = ("client_id", "operativo")
NEW_OT_DEFAULTS: dict[str, Any] = {
    "carrier_id": None,
    "operativo": None,
    "operation_type": "importacion",
    "house_bls": [],
    "containers": [],
    "status": "transito",
}
Progress = Callable[[int], object]


@dataclass(frozen=True)
class Problem:
    """An error (nothing is imported) or a warning (the row is imported, the value is not)."""

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    message: str


@dataclass(frozen=True)
class Conflict:
    """A value the import would change that a person must decide on: ``keep`` ``current`` or take ``new``."""

    id: str
    ot_number: str
    field: str
    current: str | None
    new: str | None
    file: str
    sheet: str | None
    row: int


@dataclass
class FileReport:
    filename: str
    sha256: str
    status: str = "imported"  # or "already_imported"
    sheet: str | None = None
    operativo: str | None = None
    operation_type: str | None = None
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_manual: int = 0
    ignored_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportOptions:
    dry_run: bool = False
    max_rows: int = 100_000
    decisions: Mapping[str, str] = field(default_factory=dict)
    create_clients: bool = False
    sheet: str | None = None


@dataclass
class ImportResult:
    dry_run: bool
    files: list[FileReport] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    error_count: int = 0
    warning_count: int = 0
    conflict_count: int = 0

    def add_error(self, problem: Problem) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(problem)

    def add_warning(self, problem: Problem) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_REPORTED:
            self.warnings.append(problem)

    def add_conflict(self, conflict: Conflict) -> None:
        self.conflict_count += 1
        if len(self.conflicts) < MAX_REPORTED * 5:
            self.conflicts.append(conflict)

    def total(self, name: str) -> int:
        return sum(getattr(report, name) for report in self.files)

    def as_json(self) -> dict[str, Any]:
        """The answer: totals, what each file gave, and every conflict and warning (errors go in the 422)."""
        return {
            "dry_run": self.dry_run,
            **{name: self.total(name) for name in ("rows", "created", "updated", "unchanged", "kept_manual")},
            "files": [asdict(report) for report in self.files],
            "conflict_count": self.conflict_count,
            "conflicts": [asdict(conflict) for conflict in self.conflicts],
            "warning_count": self.warning_count,
            "warnings": [asdict(warning) for warning in self.warnings],
        }


@dataclass(frozen=True)
class SourceFile:
    filename: str
    path: str
    sha256: str
    content_type: str


def import_uploads(
    uploads: Iterator[Upload], storage_dir: str, limit: int, options: Callable[[Mapping[str, str]], ImportOptions]
) -> ImportResult:
    """Import every uploaded file; ``options`` is built from the form fields sent before the first file.

    Raises 422 (row errors) or 409 (conflicts without a decision) with nothing written; returns the
    result of a committed import or of a dry run.
    """
    first = next(uploads, None)
    if first is None:
        raise ApiError(400, "no file to import: send one or more 'file' parts", "malformed_upload")
    chosen = options(first.fields)
    return import_sources(_spooled(_chain(first, uploads), storage_dir, limit), chosen)


def import_sources(sources: Iterable[SourceFile], options: ImportOptions) -> ImportResult:
    """Run the import on ``sources`` and raise its 422/409; the API and the web page's staged files both call it."""
    return _raise_for(run_import(sources, options))


def _chain(first: Upload, rest: Iterator[Upload]) -> Iterator[Upload]:
    """The uploads in order; once the body is read, refuse ``decisions`` sent after the files.

    The check runs inside the import's loop, before its commit: a late field ends the request with
    nothing written, instead of an import made without the decisions it carried.
    """
    known = set(first.fields)
    yield first
    yield from rest
    if "decisions" in set(first.fields) - known:
        raise ApiError(400, "send 'decisions' before the files in the multipart body", "malformed_upload")


def _spooled(uploads: Iterable[Upload], storage_dir: str, limit: int) -> Iterator[SourceFile]:
    """Each upload written to a temp file (zip parsers need to seek), deleted once it was imported.

    The temp files live under ``STORAGE_DIR/tmp`` (a disk volume) rather than ``/tmp``, which is RAM
    wherever ``/tmp`` is a tmpfs; their names carry the worker's pid.
    """
    directory = temp_dir(storage_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for upload in uploads:
        # import-<pid>-<random>.part: the master removes it if this worker is killed mid-import (ops/leftovers.py).
        with tempfile.NamedTemporaryFile(dir=directory, prefix=part_prefix("import"), suffix=PART_SUFFIX) as spool:
            received = receive(upload, spool.write, limit, IMPORT_TYPES)
            spool.flush()
            yield SourceFile(upload.filename, spool.name, received.sha256, received.content_type)


def files_on_disk(paths: Iterable[Path], sniff: Callable[[Path], str]) -> Iterator[SourceFile]:
    """Files named on the command line, hashed as they come."""
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            while chunk := file.read(1024 * 1024):
                digest.update(chunk)
        yield SourceFile(path.name, str(path), digest.hexdigest(), sniff(path))


def _raise_for(result: ImportResult) -> ImportResult:
    if result.error_count:
        raise ApiError(
            422,
            f"{result.error_count} problem(s) found; nothing was imported",
            "invalid_rows",
            errors=[asdict(error) for error in result.errors],
            error_count=result.error_count,
            **{key: value for key, value in result.as_json().items() if key != "dry_run"},
            dry_run=result.dry_run,
        )
    if result.conflict_count and not result.dry_run:
        raise ApiError(
            409,
            f"{result.conflict_count} conflict(s) need a decision (keep or new); nothing was imported",
            "import_conflicts",
            **result.as_json(),
        )
    return result


def run_import(sources: Iterable[SourceFile], options: ImportOptions, progress: Progress | None = None) -> ImportResult:
    """Import ``sources`` in one transaction; commit only a clean, decided, non-dry run."""
    result = ImportResult(dry_run=options.dry_run)
    importer = _Importer(options, result, progress)
    try:
        for source in sources:
            importer.import_file(source)
        if result.error_count or result.conflict_count or options.dry_run:
            db.session.rollback()
        else:
            importer.remember()
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if result.error_count or (result.conflict_count and not options.dry_run):
        for report in result.files:
            report.created = report.updated = 0
    return result


class _Importer:
    """The state of one import request: lookups loaded once, the files seen, the resolutions to remember."""

    def __init__(self, options: ImportOptions, result: ImportResult, progress: Progress | None) -> None:
        self.options = options
        self.result = result
        self.progress = progress
        self.rows = 0
        self.base_stamp = utcnow()  # microseconds: another request's stamps are never the same
        self.stamps: set[dt.datetime] = set()
        self.seen_files: set[str] = set()
        self.clients = _client_lookup()
        self.carriers = _carrier_lookup()
        self.resolutions: dict[str, int] = {}  # normalised client name -> client kept for it
        self.created_clients: dict[str, int] = {}

    def import_file(self, source: SourceFile) -> None:
        report = FileReport(source.filename, source.sha256)
        self.result.files.append(report)
        if source.sha256 in self.seen_files or db.session.scalar(
            select(ImportedFile.id).where(ImportedFile.sha256 == source.sha256)
        ):
            report.status = "already_imported"
            return
        self.seen_files.add(source.sha256)
        stamp = self.base_stamp + dt.timedelta(microseconds=len(self.stamps) + 1)
        self.stamps.add(stamp)
        chooser = _chooser(self.options.sheet)
        try:
            with open_sheet(source.path, source.content_type, chooser) as sheet:
                report.sheet = sheet.name
                context = _FileContext(self, source, report, sheet, stamp)
                if sheet.warning:
                    context.warn(None, None, sheet.warning)
                context.run()
        except team_sheet.SheetNotFound as exc:
            raise ApiError(
                400, f"{source.filename}: {exc}", "invalid_parameter", parameter="sheet", sheets=exc.sheets
            ) from None
        except SpreadsheetError as exc:
            raise ApiError(400, f"{source.filename}: {exc}", "unreadable_spreadsheet", file=source.filename) from None

    def client_id(self, name: str) -> int | None:
        """The client ``name`` stands for (accent- and case-insensitive, or as resolved before)."""
        key = team_sheet.normalise(name)
        found = self.clients.get(key) or self.resolutions.get(key) or self.created_clients.get(key)
        if found is None and self.options.create_clients:
            found = self.create_client(name)
        return found

    def create_client(self, name: str) -> int:
        client = Client(name=name[: team_sheet.TEXT_LIMITS["client"]])
        db.session.add(client)
        db.session.flush()
        self.created_clients[team_sheet.normalise(name)] = client.id
        return client.id

    def remember(self) -> None:
        """Save the client spellings people resolved, and the files imported (only on commit)."""
        for key, client_id in self.resolutions.items():
            if key not in self.clients:
                db.session.add(ClientResolution(normalized_name=key, client_id=client_id))
        for report in self.result.files:
            if report.status == "imported":
                db.session.add(
                    ImportedFile(
                        sha256=report.sha256,
                        filename=report.filename[:255],
                        rows=report.rows,
                        created=report.created,
                        updated=report.updated,
                        unchanged=report.unchanged,
                    )
                )


def _chooser(requested: str | None) -> Callable[[Any], tuple[str, str | None]]:
    return lambda sheets: team_sheet.choose_sheet(sheets, requested)


def _client_lookup() -> dict[str, int]:
    """Clients by normalised name, plus the spellings resolved in earlier imports."""
    clients = {team_sheet.normalise(name): id_ for id_, name in db.session.execute(select(Client.id, Client.name))}
    for key, id_ in db.session.execute(select(ClientResolution.normalized_name, ClientResolution.client_id)):
        clients.setdefault(key, id_)
    return clients


def _carrier_lookup() -> dict[str, int | None]:
    """Shipping lines by normalised name; ``None`` where two share a name (ambiguous: not set)."""
    carriers: dict[str, int | None] = {}
    for id_, name in db.session.execute(select(Provider.id, Provider.name).where(Provider.type == "naviera")):
        key = team_sheet.normalise(name)
        carriers[key] = None if key in carriers else id_
    return carriers


class _FileContext:
    """One file being read: its header, what its name says, and the batch of parsed rows."""

    def __init__(self, importer: _Importer, source: SourceFile, report: FileReport, sheet: Sheet, stamp: dt.datetime):
        self.importer = importer
        self.result = importer.result
        self.source = source
        self.report = report
        self.sheet = sheet
        self.stamp = stamp
        self.facts = team_sheet.facts_from_filename(source.filename)
        self.header: team_sheet.Header | None = None
        self.operation_type: str | None = self.facts.operation_type
        self.batch: list[tuple[int, dict[str, Any], str | None]] = []

    def warn(self, row: int | None, column: str | None, message: str) -> None:
        self.result.add_warning(Problem(self.source.filename, self.sheet.name, row, column, message))

    def fail(self, row: int | None, column: str | None, message: str) -> None:
        self.result.add_error(Problem(self.source.filename, self.sheet.name, row, column, message))

    def run(self) -> None:
        if not self._find_header():
            return
        for number, values in self.sheet.rows:
            if _is_blank(values):
                continue
            self.importer.rows += 1
            if self.importer.rows > self.importer.options.max_rows:
                limit = self.importer.options.max_rows
                self.fail(number, None, f"more than {limit} rows in this import (IMPORT_MAX_ROWS)")
                return
            self._add(number, values)
            if self.importer.progress is not None:
                self.importer.progress(1)
        self._flush()

    def _find_header(self) -> bool:
        for number, values in self.sheet.rows:
            header = team_sheet.find_header(number, values)
            if header is not None:
                self.header = header
                self.report.ignored_columns = header.ignored
                for name in header.duplicated:
                    self.warn(number, name, "column appears twice in the header; the first one is read")
                names = [team_sheet.cell_text(value) for value in values]
                self.operation_type = self.operation_type or team_sheet.operation_from_columns(names)
                self.report.operativo = self.facts.operativo
                self.report.operation_type = self.operation_type
                if "client" not in header.columns:
                    self.warn(number, "client", "no client column (CONSIGNATARIO, CLIENTE, SHIPPER): new OTs fail")
                return True
            if number >= team_sheet.HEADER_SEARCH_ROWS:
                break
        self.fail(None, None, f"no header row with an OT column in the first {team_sheet.HEADER_SEARCH_ROWS} rows")
        return False

    def _add(self, number: int, values: Row) -> None:
        assert self.header is not None
        cells = {name: values[index] if index < len(values) else None for name, index in self.header.columns.items()}
        raw_number = team_sheet.cell_text(cells.get("ot_number"))
        if not raw_number:
            self.warn(number, "ot_number", "no OT number: row skipped")
            return
        ot_number = normalise_ot_number(raw_number)
        if not is_ot_number(ot_number) or len(ot_number) > 32:
            self.fail(number, "ot_number", f"{raw_number!r} is not an OT number (letters, digits and '-')")
            return
        self.report.rows += 1
        parsed = _RowParser(self, number, cells).parse()
        checked, problems = check(OTS.fields, {name: history.plain(value) for name, value in parsed.items()}, False)
        for name, message in sorted(problems.items()):
            self.fail(number, name, message)
        if problems:
            return
        parsed.update(checked)
        client_name = team_sheet.cell_text(cells.get("client")) or None
        self.batch.append((number, {"ot_number": ot_number, **parsed}, client_name))
        if len(self.batch) >= BATCH_SIZE:
            self._flush()

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        if batch:
            _BatchWriter(self, batch).write()
            time.sleep(0)  # under gevent: let other requests and gunicorn's heartbeat run between batches


class _RowParser:
    """One row's cells as OT values; unreadable values become warnings and are left out."""

    def __init__(self, context: _FileContext, number: int, cells: dict[str, Any]) -> None:
        self.context = context
        self.number = number
        self.cells = cells
        self.values: dict[str, Any] = {}

    def warn(self, column: str, message: str) -> None:
        self.context.warn(self.number, column, message)

    def parse(self) -> dict[str, Any]:
        self._texts()
        self._lists()
        self._dates()
        self._status()
        self._carrier()
        operativo = team_sheet.cell_text(self.cells.get("operativo")) or self.context.facts.operativo
        if operativo:
            self.values["operativo"] = operativo[: team_sheet.TEXT_LIMITS["operativo"]]
        if self.context.operation_type:
            self.values["operation_type"] = self.context.operation_type
        return self.values

    def _texts(self) -> None:
        for name in ("master_bl", "shipment_type", "vessel", "origin_port", "destination_port", "comments"):
            text = team_sheet.cell_text(self.cells.get(name))
            if not text:
                continue
            limit = team_sheet.TEXT_LIMITS[name]
            if len(text) > limit:
                self.warn(name, f"longer than {limit} characters: cut")
            self.values[name] = text[:limit].upper() if name == "master_bl" else text[:limit]

    def _lists(self) -> None:
        raw = self.cells.get("containers")
        if team_sheet.cell_text(raw):
            codes, leftover = split_containers(team_sheet.cell_text(raw))
            if leftover:
                self.warn("containers", f"not a container number (4 letters + 7 digits): {leftover[:40]!r} ignored")
            if codes:
                self.values["containers"] = codes
        houses = team_sheet.split_list(self.cells.get("house_bls"))
        if houses:
            self.values["house_bls"] = [house.upper()[:64] for house in houses]

    def _dates(self) -> None:
        for name in team_sheet.DATE_FIELDS:
            raw = self.cells.get(name)
            if not team_sheet.cell_text(raw):
                continue
            try:
                value = team_sheet.parse_date(raw)
            except team_sheet.NotADate as exc:
                self.warn(name, f"{exc}; left unchanged")
                continue
            if value is not None:
                self.values[name] = value
        for column, prefix in (("express_release", "express_release"), ("cash_on_delivery", "cash_on_delivery")):
            raw = self.cells.get(column)
            if team_sheet.cell_text(raw):
                date, kind = team_sheet.date_or_type(raw)
                if date is not None:
                    self.values[f"{prefix}_date"] = date
                if kind:
                    self.values[f"{prefix}_type"] = kind

    def _status(self) -> None:
        raw = team_sheet.cell_text(self.cells.get("status"))
        if raw:
            status = team_sheet.parse_status(raw)
            if status is None:
                self.warn("status", f"unknown status {raw!r}; left unchanged")
            else:
                self.values["status"] = status

    def _carrier(self) -> None:
        name = team_sheet.cell_text(self.cells.get("carrier"))
        if not name:
            return
        carriers = self.context.importer.carriers
        key = team_sheet.normalise(name)
        if key not in carriers:
            self.warn("carrier", f"no shipping line named {name!r}; left unchanged")
        elif carriers[key] is None:
            self.warn("carrier", f"more than one shipping line is named {name!r}; left unchanged")
        else:
            self.values["carrier_id"] = carriers[key]


class _BatchWriter:
    """Upserts one batch: new OTs inserted, known ones updated field by field under the source rules."""

    def __init__(self, context: _FileContext, batch: list[tuple[int, dict[str, Any], str | None]]) -> None:
        self.context = context
        self.importer = context.importer
        self.report = context.report
        self.batch = batch
        self.audit: list[tuple[int, dict[str, tuple[Any, Any]]]] = []  # (OT id, field -> (old, new)) per update

    def write(self) -> None:
        numbers = [parsed["ot_number"] for _, parsed, _ in self.batch]
        existing = {ot.ot_number: ot for ot in db.session.scalars(select(Ot).where(Ot.ot_number.in_(numbers)))}
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        for number, parsed, client_name in self.batch:
            ot_number = parsed["ot_number"]
            if ot_number in seen:
                self.context.fail(number, "ot_number", f"{ot_number} also appears in row {seen[ot_number]}")
                continue
            seen[ot_number] = number
            found = existing.get(ot_number)
            if found is None:
                inserts.append(self._new(number, parsed, client_name))
            elif found.updated_at == self.context.stamp:
                self.context.fail(number, "ot_number", f"{ot_number} appears more than once in the file")
            else:
                change = self._change(number, parsed, client_name, found)
                if change is not None:
                    updates.append(change)
        db.session.expunge_all()  # the ORM rows were only read: bulk statements write the changes
        if self.importer.result.error_count:
            return  # nothing will be committed: skip the writes, keep validating
        trail = [history.entry("ots", ot_id, "import:update", changes) for ot_id, changes in self.audit]
        if inserts:
            created = db.session.execute(insert(Ot).returning(Ot.id, Ot.ot_number), inserts).all()
            sent = {row["ot_number"]: row for row in inserts}
            trail += [history.entry("ots", ot_id, "import:create", _created(sent[number])) for ot_id, number in created]
        if updates:
            db.session.execute(update(Ot), updates)
        if trail:
            db.session.execute(insert(History), trail)  # same transaction: committed or rolled back with the rows
        self.report.created += len(inserts)
        self.report.updated += len(updates)

    def _new(self, number: int, parsed: dict[str, Any], client_name: str | None) -> dict[str, Any]:
        values = dict(parsed)
        client_id = self.importer.client_id(client_name) if client_name else None
        if client_name is None:
            self.context.fail(number, "client", "a new OT needs a client")
        elif client_id is None:
            self.context.fail(
                number, "client", f"no client named {client_name!r} (create it, or import with create_clients=1)"
            )
        values["client_id"] = client_id
        return {
            **NEW_OT_DEFAULTS,
            **values,
            "field_sources": {name: "import" for name in values if name in TRACKED_FIELDS},
            "row_hash": _row_hash({**parsed, "client": client_name}),
            "updated_at": self.context.stamp,
        }

    def _change(self, number: int, parsed: dict[str, Any], client_name: str | None, found: Ot) -> dict[str, Any] | None:
        row_hash = _row_hash({**parsed, "client": client_name})
        written_now = found.updated_at in self.importer.stamps
        if row_hash == found.row_hash and not written_now:
            self.report.unchanged += 1
            return None
        sources = dict(found.field_sources or {})
        changes: dict[str, Any] = {}
        candidates = dict(parsed)
        if client_name is not None:
            candidates["client_id"] = self._client_for(number, client_name, found)
        for name, value in candidates.items():
            if name == "ot_number" or value is None or _same(getattr(found, name), value):
                continue
            if _is_manual(found, name):
                self.report.kept_manual += 1
                continue
            disputed = name == "operativo" and found.operativo
            if disputed and not self._decided(number, name, found, found.operativo, value):
                continue
            changes[name] = value
            sources[name] = "import"
        if changes:
            self.audit.append((found.id, {name: (getattr(found, name), value) for name, value in changes.items()}))
        stamp = self.context.stamp
        # The ORM's bulk update checks this version in its WHERE and writes version + 1 (Ot's version_id_col):
        # an edit prepared on the old version then gets a 412, and a concurrent edit here fails the import.
        return {
            "id": found.id,
            **changes,
            "field_sources": sources,
            "row_hash": row_hash,
            "updated_at": stamp,
            "version": found.version,
        }

    def _client_for(self, number: int, client_name: str, found: Ot) -> int | None:
        """The client the row should get: the record's when they agree or ``keep`` was chosen, else the new one.

        ``None`` leaves the record's client (a conflict waiting for its decision, or a manual value).
        """
        client_id = self.importer.client_id(client_name)
        if client_id == found.client_id:
            return None
        if _is_manual(found, "client_id"):
            return client_id  # the generic loop counts it as kept
        if not self._decided(number, "client", found, found.client.name, client_name):
            if self.importer.options.decisions.get(f"{found.ot_number}/client") == "keep":
                self.importer.resolutions[team_sheet.normalise(client_name)] = found.client_id
            return None
        if client_id is None:
            client_id = self.importer.create_client(client_name)
        return client_id

    def _decided(self, number: int, field_name: str, found: Ot, current: str | None, new: str | None) -> bool:
        """True to apply the new value: decided ``new``. False when decided ``keep`` or not decided yet."""
        conflict_id = f"{found.ot_number}/{field_name}"
        decision = self.importer.options.decisions.get(conflict_id)
        if decision is not None:
            return decision == "new"
        self.importer.result.add_conflict(
            Conflict(
                conflict_id,
                found.ot_number,
                field_name,
                current,
                new,
                self.context.source.filename,
                self.context.sheet.name,
                number,
            )
        )
        return False


def _created(row: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """A new OT's history: the number and every field the file set, from nothing."""
    return {name: (None, row[name]) for name in ("ot_number", *TRACKED_FIELDS) if row.get(name) not in (None, [])}


def _same(current: Any, new: Any) -> bool:
    """Equal values, with text compared as people read it (``ANA MARTINEZ`` is ``Ana Martínez``)."""
    if isinstance(current, str) and isinstance(new, str):
        return team_sheet.normalise(current) == team_sheet.normalise(new)
    return current == new


def _is_manual(found: Ot, name: str) -> bool:
    """A person set this field by hand: an import never overwrites it."""
    source = (found.field_sources or {}).get(name, "import")
    return FIELD_SOURCE_RANK.get(source, 1) > FIELD_SOURCE_RANK["import"]


def _row_hash(values: Mapping[str, Any]) -> str:
    """What the row said, as a digest: the same row imported again changes nothing."""
    text = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _is_blank(values: Row) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in values)


def parse_decisions(raw: str | None) -> dict[str, str]:
    """``{"25OT1327/client": "keep", ...}`` from the ``decisions`` field; 400 naming what is wrong."""
    if not raw:
        return {}
    try:
        decisions = json.loads(raw)
    except ValueError:
        raise ApiError(400, "decisions must be a JSON object", "invalid_parameter", parameter="decisions") from None
    if not isinstance(decisions, dict) or not all(
        isinstance(key, str) and value in DECISIONS for key, value in decisions.items()
    ):
        raise ApiError(
            400,
            'decisions must map conflict ids to "keep" or "new", e.g. {"25OT1327/client": "keep"}',
            "invalid_parameter",
            parameter="decisions",
        )
    return decisions
