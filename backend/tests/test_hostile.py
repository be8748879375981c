"""Hostile requests against a real gunicorn, one table: for each, the status, a JSON error body, the same
worker still alive and serving, and nothing stored or half-written (files under STORAGE_DIR, rows in the
database, counted before and after). Raw sockets, because HTTP clients refuse to send most of these.

Add a case here whenever a hostile input is found: the table is what keeps it found.
"""

from __future__ import annotations

import contextlib
import io
import socket
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
import requests
from sqlalchemy import func, select

from app import create_app
from app.auth import create_token
from app.extensions import db
from app.models import Invoice, Ot, StoredFile
from app.pagination import encode_cursor
from ops.process_memory import process_tree
from tests.helpers.raw_http import RawResponse, read_response
from tests.helpers.servers import run_gunicorn

pytestmark = pytest.mark.gunicorn
HUGE = str(2**70)
LIMIT_MB = 1


@dataclass(frozen=True)
class Case:
    name: str
    request: Callable[[str], bytes]  # token -> the raw bytes sent
    status: int
    code: str
    half_close: bool = False  # shut our sending side after the bytes (a client that stops mid-body and leaves)


def get(path: str, auth: bool = True, headers: str = "") -> Callable[[str], bytes]:
    def build(token: str) -> bytes:
        bearer = f"Authorization: Bearer {token}\r\n" if auth else ""
        return f"GET {path} HTTP/1.1\r\nHost: x\r\n{bearer}{headers}\r\n".encode()

    return build


def post(path: str, body: bytes, content_type: str = "application/octet-stream", **options) -> Callable[[str], bytes]:
    def build(token: str) -> bytes:
        length = options.get("declared", len(body))
        framing = "Transfer-Encoding: chunked" if options.get("chunked") else f"Content-Length: {length}"
        head = (
            f"{options.get('method', 'POST')} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: {content_type}\r\n{framing}\r\n\r\n"
        )
        return head.encode() + body

    return build


def multipart(data: bytes, name: str, field: str = "file") -> tuple[bytes, str]:
    head = f'--b\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n\r\n'.encode()
    return head + data + b"\r\n--b--\r\n", "multipart/form-data; boundary=b"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def workbook(sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """A real workbook plus 64 MB of zeros in a few KB: refused by the zip guard before any parser."""
    buffer = io.BytesIO(workbook({"OTs": [["ot_number", "client"]]}))
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive, archive.open("xl/media/zeros.bin", "w") as f:
        for _ in range(64):
            f.write(bytes(1024 * 1024))
    return buffer.getvalue()


CONTENT_TYPES = (
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/xl/workbook.xml"'
    b' ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/></Types>'
)
XLSM = zip_of({"[Content_Types].xml": CONTENT_TYPES, "xl/workbook.xml": b"<w/>", "xl/vbaProject.bin": b"\0" * 500})
EXE_IN_ZIP = zip_of(
    {"[Content_Types].xml": CONTENT_TYPES.replace(b"ms-excel.sheet.macroEnabled", b"x"), "xl/workbook.xml": b"<w/>",
     "setup.exe": b"MZ" + bytes(500)}
)
PDF = b"%PDF-1.7\n" + bytes(2000)
NO_FILE_PART = b'--b\r\nContent-Disposition: form-data; name="invoice_id"\r\n\r\n1\r\n--b--\r\n'

CASES = [
    # Parameters and paths
    Case("bad-filter-value", get("/api/invoices?provision_status=nope"), 400, "invalid_parameter"),
    Case("unknown-parameter", get("/api/invoices?provison_status=pending"), 400, "invalid_parameter"),
    Case("inverted-range", get("/api/invoices?amount_min=10&amount_max=1"), 400, "invalid_parameter"),
    Case("control-characters", get("/api/invoices?q=%00%01abc"), 400, "invalid_parameter"),
    Case("huge-id", get(f"/api/invoices/{HUGE}"), 404, "not_found"),
    Case("huge-document-id", get(f"/api/uploads/{HUGE}/content"), 404, "not_found"),
    Case("huge-filter-id", get(f"/api/invoices?ot_id={HUGE}"), 400, "invalid_parameter"),
    Case("garbage-cursor", get("/api/invoices?cursor=!!!not-a-cursor"), 400, "invalid_parameter"),
    Case("huge-cursor", get(f"/api/ots?cursor={encode_cursor(2**70)}"), 400, "invalid_parameter"),
    Case("limit-out-of-range", get("/api/invoices?limit=100000"), 400, "invalid_parameter"),
    Case("export-bad-format", get("/api/invoices/export?format=pdf"), 400, "invalid_parameter"),
    Case("export-with-cursor", get("/api/ots/export?cursor=abc"), 400, "invalid_parameter"),
    Case("unknown-path", get("/api/nothing-here"), 404, "not_found"),
    Case("wrong-method", post("/api/invoices/export", b"{}", "application/json"), 405, "method_not_allowed"),
    Case("delete-method", post("/api/uploads/1", b"", method="DELETE"), 405, "method_not_allowed"),
    # Authentication
    Case("missing-token", get("/api/invoices", auth=False), 401, "unauthorized"),
    Case("bad-token", get("/api/invoices", auth=False, headers="Authorization: Bearer nope\r\n"), 401, "unauthorized"),
    Case("basic-auth", get("/api/ots", auth=False, headers="Authorization: Basic YTpi\r\n"), 401, "unauthorized"),
    # Upload bodies
    Case("empty-upload", post("/api/uploads?filename=a.pdf", b""), 400, "empty_upload"),
    Case("declared-oversize", post("/api/uploads?filename=a.pdf", PDF, declared=5 * 1024 * 1024), 413,
         "upload_too_large"),
    Case("chunked-oversize", post("/api/uploads?filename=a.pdf", b"".join(chunk(b"%PDF-" + bytes(65531))
         for _ in range(20)), chunked=True), 413, "upload_too_large"),
    Case("truncated-body", post("/api/uploads?filename=a.pdf", PDF, declared=100_000), 400, "upload_incomplete",
         half_close=True),
    Case("stalled-body", post("/api/uploads?filename=a.pdf", PDF, declared=100_000), 408, "upload_timeout"),
    Case("malformed-chunk-size", post("/api/uploads?filename=a.pdf", chunk(PDF) + b"zz\r\n", chunked=True), 400,
         "malformed_body"),
    Case("form-urlencoded-upload", post("/api/uploads", b"file=x", "application/x-www-form-urlencoded"), 400,
         "no_file_field"),
    Case("multipart-without-file", post("/api/uploads", NO_FILE_PART, "multipart/form-data; boundary=b"), 400,
         "no_file_field"),
    Case("multipart-second-file-field", post("/api/uploads", *multipart(b"1", "x", field="other")), 400,
         "malformed_upload"),
    Case("multipart-no-boundary", post("/api/uploads", PDF, "multipart/form-data"), 400, "malformed_upload"),
    Case("huge-invoice-id", post(f"/api/uploads?filename=a.pdf&invoice_id={HUGE}", PDF), 400, "invalid_parameter"),
    # Content that lies about itself
    Case("exe-named-pdf", post("/api/uploads?filename=invoice.pdf", b"MZ\x90\0" + bytes(5000)), 415,
         "unsupported_type"),
    Case("html-named-xml", post("/api/uploads?filename=a.xml", b"<!DOCTYPE html><html><script>x</script>"), 415,
         "unsupported_type"),
    Case("plain-text-named-csv", post("/api/uploads?filename=a.csv", b"just words\n"), 415, "unsupported_type"),
    Case("xlsm-named-xlsx", post("/api/uploads?filename=a.xlsx", XLSM), 415, "unsupported_type"),
    Case("exe-in-zip-as-xlsx", post("/api/uploads?filename=a.xlsx", EXE_IN_ZIP), 415, "unsupported_type"),
    # Imports
    Case("zip-bomb-import", post("/api/ots/import", *multipart(zip_bomb(), "ots.xlsx")), 400,
         "unreadable_spreadsheet"),
    # Several sheets, none the team's: the largest is read (never the first silently); it has no OT header.
    Case("several-sheets-import", post("/api/ots/import", *multipart(workbook({"A": [["x"]], "B": [["y"]]}), "o.xlsx")),
         422, "invalid_rows"),
    Case("bad-sheet-import", post("/api/ots/import?sheet=9", *multipart(workbook({"A": [["x"]]}), "o.xlsx")), 400,
         "invalid_parameter"),
    Case("xlsm-import", post("/api/ots/import", *multipart(XLSM, "ots.xlsm")), 415, "unsupported_type"),
    Case("pdf-import", post("/api/ots/import", *multipart(PDF, "ots.pdf")), 415, "unsupported_type"),
    Case("bad-dry-run-flag", post("/api/ots/import?dry_run=perhaps", *multipart(PDF, "o.csv")), 400,
         "invalid_parameter"),
    # Requests gunicorn answers itself
    Case("request-line-too-long", get("/api/" + "a" * 9000), 414, "request_uri_too_long"),
    Case("header-too-large", get("/health", headers="X-Big: " + "b" * 9000 + "\r\n"), 431,
         "request_header_fields_too_large"),
    Case("malformed-request-line", lambda token: b"NOT HTTP AT ALL\r\n\r\n", 400, "bad_request"),
    Case("invalid-header-name", get("/health", headers="Bad Header: v\r\n"), 400, "bad_request"),
]


@pytest.fixture(scope="module")
def hostile_server(database_url, tmp_path_factory) -> Iterator[tuple]:
    """One gunicorn (one worker, so "the same worker answers afterwards" is checkable) for the whole table."""
    root = tmp_path_factory.mktemp("hostile")
    storage = root / "storage"
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "STORAGE_DIR": str(storage)})
    with app.app_context():
        token = create_token("hostile", "admin")
    env = {
        "DATABASE_URL": database_url,
        "STORAGE_DIR": str(storage),
        "GUNICORN_WORKERS": "1",
        "MAX_UPLOAD_MB": str(LIMIT_MB),
        "UPLOAD_READ_TIMEOUT": "0.5",
    }
    with run_gunicorn(env, root / "gunicorn.log") as server:
        (worker,) = set(process_tree(server.pid)) - {server.pid}
        yield server, app, token, worker
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def state(app, storage: Path) -> tuple:
    """Everything a request could leave behind: files (temp ones included) and rows."""
    files = sorted(str(p.relative_to(storage)) for p in storage.rglob("*") if p.is_file()) if storage.exists() else []
    with app.app_context():
        rows = tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (StoredFile, Ot, Invoice))
        db.session.commit()
    return files, rows


def send(port: int, raw: bytes, half_close: bool) -> RawResponse:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        with contextlib.suppress(OSError):  # the server answered (and closed) before taking all of it
            sock.sendall(raw)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        return read_response(sock)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_request(hostile_server, case):
    server, app, token, worker = hostile_server
    storage = Path(app.config["STORAGE_DIR"])
    before = state(app, storage)

    response = send(server.port, case.request(token), case.half_close)

    assert response.status == case.status, (case.name, response.status, response.body[:300])
    assert response.headers.get("content-type") == "application/json", (case.name, response.headers)
    error = response.json()["error"]
    assert error["code"] == case.code, (case.name, error)
    assert error["message"], case.name
    assert set(process_tree(server.pid)) - {server.pid} == {worker}, f"{case.name}: the worker died or was replaced"
    assert requests.get(server.url("/health"), timeout=10).status_code == 200
    assert state(app, storage) == before, f"{case.name}: something was stored or half-written"
