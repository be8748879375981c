"""The documents of many invoices as one ZIP, streamed: bytes leave while documents are still being read.

The old system built the whole archive in RAM. Here one SELECT (invoices joined to their stored file,
provider, OT and client) is read through a server-side cursor, each document is read from storage
(local file or S3 object) chunk by chunk, and ``stream-zip`` frames the chunks as ZIP members as they
pass. Memory is a storage chunk, a ZIP chunk, zlib's state for one member and, per entry, its name and
central-directory record (stream-zip writes the directory at the end), bounded by
``DOCUMENTS_ZIP_MAX_FILES``.

Members use ``ZIP_AUTO`` with the size recorded at upload: Zip32 (what every unzip tool reads) while
the member and its offset fit in 4 GiB, Zip64 for the member (and the end of the archive) beyond that.
PDFs, images and XLSX are already compressed, so they are deflated at level 0 (stored blocks: a copy
plus the CRC, ~0.01 % overhead); XML, JSON and CSV at level 1, the cheapest real compression.

Everything that can fail cleanly fails before the response starts, as JSON: filters (400), no
document at all (404 ``no_documents``: an empty ZIP is of no use to anyone), too many documents
(422), no free slot (429), the query, and the first chunk of the archive, which is built before the
response is returned. After that:

- a document missing from storage (deleted file, absent S3 key) is skipped, and the archive ends with
  ``_MISSING.txt`` naming every skipped entry and why, so a partial download is never silent;
- a document whose bytes differ in length from its record is kept as read and listed there too;
- a read that fails mid-document (an S3 connection dropped) is retried once from the byte reached;
  if that fails too, the body raises, the server drops the connection before the final chunk, and the
  client sees a failed download, never a well-formed but incomplete ZIP.

The connection, the storage reader and the slot are released by :meth:`DocumentBundle.close`,
which the response calls when it closes, whether the download finished or the client went away.
"""

from __future__ import annotations

import datetime as dt
import logging
import stat
import time
import zlib
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app
from sqlalchemy import Engine, Select, func, select
from stream_zip import ZIP_32, ZIP_AUTO, MemberFile, stream_zip

from app.errors import ApiError
from app.exports.queries import RowStream
from app.extensions import db
from app.filters import Condition
from app.models import Client, Invoice, Ot, Provider, StoredFile, utcnow
from app.slots import Slot, Slots, install, slots_for
from app.uploads.sniffing import JPEG, PDF, PNG, XLSX
from app.uploads.storage import ObjectReader, Storage, get_storage
from app.uploads.zip_names import UniqueNames, extension_for, invoice_entry
from values import MB

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/zip"
MISSING_ENTRY = "_MISSING.txt"
ROWS_PER_FETCH = 100  # rows are ~200 bytes: a fetch per 100 documents is noise next to their bytes
ZIP_CHUNK_SIZE = 64 * 1024
ALREADY_COMPRESSED = frozenset({PDF, PNG, JPEG, XLSX})
STORED_LEVEL = 0
TEXT_LEVEL = 1
FILE_MODE = stat.S_IFREG | 0o644
SLOTS_KEY = "nextops.documents_zip_slots"
# S3 answers a missing key with one of these codes; the local backend raises FileNotFoundError.
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


# ---------------------------------------------------------------- queries


def documents_select(conditions: Sequence[Condition], limit: int) -> Select[Any]:
    """Invoices that have a document, with everything the entry name needs, oldest first.

    Oldest first keeps names stable: a new invoice whose name collides with an older one gets the
    `` (2)``, the older one keeps its name in every later download. ``limit`` bounds the archive
    even if rows appear between the count and this query.
    """
    return (
        select(
            Invoice.id.label("invoice_id"),
            Invoice.invoice_number,
            Provider.name.label("provider"),
            Ot.ot_number,
            Client.name.label("client"),
            StoredFile.id.label("document_id"),
            StoredFile.storage_key,
            StoredFile.size,
            StoredFile.content_type,
            StoredFile.created_at,
        )
        .select_from(Invoice)
        .join(StoredFile, Invoice.document_id == StoredFile.id)
        .join(Provider, Invoice.provider_id == Provider.id)
        .outerjoin(Ot, Invoice.ot_id == Ot.id)
        .outerjoin(Client, Ot.client_id == Client.id)
        .where(*conditions)
        .order_by(Invoice.id)
        .limit(limit)
    )


def documents_totals(conditions: Sequence[Condition]) -> Select[Any]:
    """``(documents, bytes)`` the archive would hold, for the limits checked before streaming."""
    return (
        select(func.count(), func.coalesce(func.sum(StoredFile.size), 0))
        .select_from(Invoice)
        .join(StoredFile, Invoice.document_id == StoredFile.id)
        .where(*conditions)
    )


# ---------------------------------------------------------------- concurrency


def install_slots(app: Flask) -> None:
    """Archives have slots of their own (``DOCUMENTS_ZIP_MAX_CONCURRENT``), apart from the exports'."""
    slots = Slots(app.config["DOCUMENTS_ZIP_MAX_CONCURRENT"], "document downloads", "too_many_downloads")
    install(app, SLOTS_KEY, slots)


def zip_slots() -> Slots:
    return slots_for(SLOTS_KEY)


def check_limits(documents: int, size: int, max_files: int, max_mb: int) -> None:
    """404 when there is nothing to send, 422 when the archive would be over a configured limit."""
    if documents == 0:
        raise ApiError(404, "none of the matching invoices has a document", "no_documents")
    if documents > max_files:
        raise ApiError(
            422,
            f"{documents} documents match, more than the {max_files} allowed in one download; narrow the filters",
            "too_many_documents",
            documents=documents,
            limit=max_files,
        )
    if max_mb and size > max_mb * MB:
        raise ApiError(
            422,
            f"the documents add up to {size / MB:.0f} MB, more than the {max_mb} MB allowed in one download; "
            "narrow the filters",
            "documents_too_large",
            bytes=size,
            limit_mb=max_mb,
        )


# ---------------------------------------------------------------- the archive


@dataclass(frozen=True)
class Problem:
    """A document that is not in the archive as recorded: named in ``_MISSING.txt``."""

    entry: str
    invoice_id: int | None
    document_id: int | None
    reason: str


def is_missing(exc: BaseException) -> bool:
    """Whether a storage error means "no such object" (skip it) rather than a failure (abort)."""
    if isinstance(exc, FileNotFoundError):
        return True
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")  # botocore's ClientError, not imported
    return code in MISSING_CODES


class DocumentBundle:
    """One archive being built: rows in, ZIP bytes out, problems noted for ``_MISSING.txt``.

    ``notes`` are problems known before streaming (POSTed invoices without a document).
    :meth:`close` is idempotent and releases the row stream and any storage reader still open.
    """

    def __init__(self, storage: Storage, rows: RowStream, notes: Iterable[Problem] = ()) -> None:
        self.storage = storage
        self.rows = rows
        self.problems: list[Problem] = list(notes)
        self.documents = 0
        self.bytes_read = 0
        self._reader: ObjectReader | None = None
        self._zip = stream_zip(
            self._members(),
            chunk_size=ZIP_CHUNK_SIZE,
            get_compressobj=lambda: zlib.compressobj(level=STORED_LEVEL, wbits=-zlib.MAX_WBITS),
        )

    def chunks(self) -> Generator[bytes, None, None]:
        """The ZIP file, ``ZIP_CHUNK_SIZE`` bytes at a time."""
        return self._zip

    def close(self) -> None:
        self._zip.close()
        self._close_reader()
        self.rows.close()

    def _close_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def _members(self) -> Iterator[MemberFile]:
        names = UniqueNames()
        for chunk in self.rows.chunks():
            for row in chunk:
                ext = extension_for(row.content_type)
                name = names.take(invoice_entry(row.provider, row.invoice_number, row.client, row.ot_number, ext))
                first = self._open(row, name)
                if first is None:
                    continue
                level = STORED_LEVEL if row.content_type in ALREADY_COMPRESSED else TEXT_LEVEL
                modified = row.created_at.replace(tzinfo=dt.UTC)
                yield name, modified, FILE_MODE, ZIP_AUTO(row.size, level=level), self._bytes(row, name, first)
        if self.problems:
            yield MISSING_ENTRY, utcnow().replace(tzinfo=dt.UTC), FILE_MODE, ZIP_32, (self._notice(),)

    def _open(self, row: Any, name: str) -> bytes | None:
        """Open the document and read its first chunk; ``None`` (and a problem noted) if it is missing.

        Reading before the member is declared is what lets a missing document be skipped: once
        stream-zip has written a member's local header, the member cannot be taken back.
        """
        reader = self.storage.open(row.storage_key)
        try:
            first = next(reader, b"")
        except Exception as exc:
            reader.close()
            if not is_missing(exc):
                raise
            log.warning("documents zip: %s is missing from storage (%s)", row.storage_key, name)
            self.problems.append(Problem(name, row.invoice_id, row.document_id, "missing from storage"))
            return None
        self._reader = reader
        return first

    def _bytes(self, row: Any, name: str, first: bytes) -> Iterator[bytes]:
        """The document's chunks; a failed read is retried once from the byte reached."""
        sent = 0
        retried = False
        chunk = first
        try:
            while chunk:
                sent += len(chunk)
                yield chunk
                try:
                    chunk = next(self._reader_now(), b"")
                except Exception:
                    if retried:
                        raise
                    retried = True
                    log.warning("documents zip: read of %s failed at byte %d; retrying once", row.storage_key, sent)
                    self._close_reader()
                    self._reader = self.storage.open(row.storage_key)
                    self._reader.seek(sent)
                    chunk = next(self._reader, b"")
        finally:
            self._close_reader()
            self.bytes_read += sent
        self.documents += 1
        if sent != row.size:
            reason = f"{sent} bytes read, {row.size} recorded: the stored file changed"
            self.problems.append(Problem(name, row.invoice_id, row.document_id, reason))

    def _reader_now(self) -> ObjectReader:
        assert self._reader is not None
        return self._reader

    def _notice(self) -> bytes:
        lines = [
            "Documentos que no están (completos) en este ZIP / Documents not (fully) in this ZIP",
            "",
            *(
                f"{problem.entry}\tfactura/invoice {problem.invoice_id}\tdocumento/document "
                f"{problem.document_id if problem.document_id is not None else '-'}\t{problem.reason}"
                for problem in self.problems
            ),
            "",
        ]
        return "\r\n".join(lines).encode("utf-8")


def open_bundle(
    engine: Engine, storage: Storage, conditions: Sequence[Condition], limit: int, notes: Iterable[Problem] = ()
) -> tuple[DocumentBundle, bytes]:
    """Start the archive and build its first chunk; on any failure everything is released and it raises."""
    rows = RowStream(engine, documents_select(conditions, limit), ROWS_PER_FETCH)
    bundle = DocumentBundle(storage, rows, notes)
    try:
        first = next(bundle.chunks(), b"")
    except BaseException:
        bundle.close()
        raise
    return bundle, first


# ---------------------------------------------------------------- HTTP


def zip_response(conditions: Sequence[Condition], notes: Sequence[Problem] = ()) -> Response:
    """Check, start and return the streamed archive of the invoices matching ``conditions``."""
    config = current_app.config
    slot = zip_slots().acquire()
    try:
        documents, size = db.session.execute(documents_totals(conditions)).one()
        db.session.commit()  # end the read transaction: the archive reads through its own connection
        check_limits(documents, size, config["DOCUMENTS_ZIP_MAX_FILES"], config["DOCUMENTS_ZIP_MAX_MB"])
        bundle, first = open_bundle(
            db.engine, get_storage(current_app), conditions, config["DOCUMENTS_ZIP_MAX_FILES"], notes
        )
    except BaseException:
        slot.release()
        raise
    response = Response(_logged(first, bundle, slot), content_type=CONTENT_TYPE, direct_passthrough=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    response.headers["Content-Disposition"] = f'attachment; filename="documentos-facturas-{stamp}.zip"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a buffering proxy would hold the whole archive
    response.headers["X-Document-Count"] = str(documents)
    response.call_on_close(bundle.close)
    response.call_on_close(slot.release)
    return response


def _logged(first: bytes, bundle: DocumentBundle, slot: Slot) -> Iterator[bytes]:
    """The first chunk (already built), then the rest; when it ends, release everything and log how it went."""
    started = time.perf_counter()
    sent = 0
    finished = False
    try:
        sent += len(first)
        yield first
        for piece in bundle.chunks():
            sent += len(piece)
            yield piece
        finished = True
    finally:
        bundle.close()
        slot.release()
        log.info(
            "documents zip %s",
            "finished" if finished else "aborted",
            extra={
                "documents": bundle.documents,
                "problems": len(bundle.problems),
                "bytes_read": bundle.bytes_read,
                "bytes": sent,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )


def selected_invoices(payload: object, max_files: int) -> tuple[list[Condition], list[Problem]]:
    """``{"ids": [...]}`` -> the condition selecting them, plus notes for those without a document.

    Ids that do not exist are a 404 naming them (a typo must not shrink the archive silently); the
    number of ids is bounded like the archive itself.
    """
    ids = payload["ids"] if isinstance(payload, dict) and set(payload) == {"ids"} else None
    if not isinstance(ids, list) or not ids:
        raise ApiError(400, 'expected a JSON body {"ids": [<invoice id>, ...]} with at least one id', "invalid_body")
    if not all(type(value) is int and 1 <= value <= 2**62 for value in ids):
        raise ApiError(400, "ids: every id must be a positive integer", "invalid_body")
    unique = list(dict.fromkeys(ids))
    if len(unique) > max_files:
        raise ApiError(
            422,
            f"{len(unique)} invoices asked for, more than the {max_files} allowed in one download",
            "too_many_documents",
            documents=len(unique),
            limit=max_files,
        )
    found = dict(db.session.execute(select(Invoice.id, Invoice.document_id).where(Invoice.id.in_(unique))).all())
    db.session.commit()
    unknown = [value for value in unique if value not in found]
    if unknown:
        raise ApiError(404, f"no invoice with id {', '.join(map(str, unknown[:20]))}", "invoice_not_found", ids=unknown)
    notes = [
        Problem("-", value, None, "la factura no tiene documento / no document")
        for value in unique
        if found[value] is None
    ]
    return [Invoice.id.in_(unique)], notes


def json_body_limit(max_files: int) -> int:
    """Bytes a ``{"ids": [...]}`` body of ``max_files`` ids can need (20 digits, a comma and a space each)."""
    return 1024 + 22 * max_files
