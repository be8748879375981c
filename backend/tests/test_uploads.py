"""Document uploads through the Flask app: one-pass hashing, dedupe, limits, sniffing, downloads, races."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from pathlib import Path

import pytest
import werkzeug.formparser
from flask import Request
from sqlalchemy import create_engine, delete, func, insert, select
from werkzeug.test import EnvironBuilder

from app.extensions import db
from app.models import Invoice, StoredFile, utcnow
from app.uploads import documents, streaming
from app.uploads.storage import LocalPending, key_for
from tests.helpers.bodies import BodyStream

PDF_HEAD = b"%PDF-1.7\n"
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


def pdf_bytes(size: int) -> bytes:
    return (PDF_HEAD + os.urandom(size))[:size]


def multipart(data: bytes, name: str = "doc.pdf", content_type: str = "application/pdf", **fields: str) -> dict:
    return {"file": (io.BytesIO(data), name, content_type), **fields}


def stored_files(app) -> list[Path]:
    """Every file under STORAGE_DIR (temp files included): what an upload left on disk."""
    root = Path(app.config["STORAGE_DIR"])
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def row_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(StoredFile))


def assert_nothing_left(app) -> None:
    assert stored_files(app) == []
    assert row_count(app) == 0


@pytest.fixture
def chunk(app) -> int:
    return app.config["UPLOAD_READ_SIZE"]


@pytest.mark.parametrize("size_in_chunks", ["one byte", "one chunk", "chunk plus one", "several MB"])
@pytest.mark.parametrize("shape", ["multipart", "raw"])
def test_stored_bytes_and_hash_equal_the_source(app, client, auth, chunk, size_in_chunks, shape):
    size = {"one byte": 1, "one chunk": chunk, "chunk plus one": chunk + 1, "several MB": 3 * 1024 * 1024 + 17}
    data = b"," if size[size_in_chunks] == 1 else pdf_bytes(size[size_in_chunks])
    if shape == "multipart":
        response = client.post("/api/uploads", data=multipart(data), headers=auth)
    else:
        headers = {**auth, "Content-Type": "application/octet-stream", "X-Filename": "doc.pdf"}
        response = client.post("/api/uploads", data=data, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    sha256 = hashlib.sha256(data).hexdigest()
    assert body["sha256"] == sha256
    assert body["size"] == len(data)
    assert body["duplicate"] is False
    assert body["content_type"] == ("text/csv" if len(data) == 1 else "application/pdf")
    on_disk = Path(app.config["STORAGE_DIR"]) / key_for(sha256)
    assert stored_files(app) == [on_disk], "one final file, no temp file left"
    assert on_disk.read_bytes() == data
    download = client.get(body["content_url"], headers=auth)
    assert download.status_code == 200
    assert download.data == data


def test_empty_file_is_rejected_and_leaves_nothing(app, client, auth):
    response = client.post("/api/uploads", data=multipart(b""), headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "empty_upload"
    assert_nothing_left(app)


def test_body_goes_to_storage_in_chunks_without_werkzeug_form_parsing(app, client, auth, monkeypatch):
    """Structural proof of streaming: storage sees many read-sized writes; Werkzeug's parser never runs.

    A 64 KiB read size keeps 40 reads under the default size limit."""
    chunk = app.config["UPLOAD_READ_SIZE"] = 64 * 1024
    writes: list[int] = []
    real_write = LocalPending.write

    def spy(self, data):
        writes.append(len(data))
        real_write(self, data)

    def forbidden(*args, **kwargs):
        raise AssertionError("Werkzeug's form parser (and its spooling) must not run on upload routes")

    monkeypatch.setattr(LocalPending, "write", spy)
    monkeypatch.setattr(werkzeug.formparser.FormDataParser, "parse", forbidden)
    data = pdf_bytes(40 * chunk + 5)
    assert client.post("/api/uploads", data=multipart(data), headers=auth).status_code == 201
    assert sum(writes) == len(data)
    # one read, plus at most a held-back partial boundary ("\r\n--" + the test client's ~60-byte boundary)
    assert max(writes) <= chunk + 100
    assert len(writes) >= 40


def test_duplicate_returns_first_record_and_keeps_one_copy(app, client, auth):
    data = pdf_bytes(20_000)
    first = client.post("/api/uploads", data=multipart(data, "first.pdf"), headers=auth)
    second = client.post("/api/uploads", data=multipart(data, "second.pdf"), headers=auth)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.get_json() == {**first.get_json(), "duplicate": True}
    assert second.get_json()["filename"] == "first.pdf"
    assert len(stored_files(app)) == 1
    assert row_count(app) == 1


CHUNKED = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}


def test_limit_exceeded_mid_stream_leaves_nothing(app, client, auth):
    app.config["MAX_UPLOAD_MB"] = 1
    response = client.post("/api/uploads", data=multipart(pdf_bytes(1024 * 1024 + 1)), headers=auth)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "upload_too_large"
    assert_nothing_left(app)
    exactly = client.post("/api/uploads", data=multipart(pdf_bytes(1024 * 1024)), headers=auth)
    assert exactly.status_code == 201, "the limit is inclusive"


def test_limit_holds_without_content_length(app, client, auth):
    """Chunked transfer encoding (gunicorn terminates the input): no Content-Length, the bytes are counted."""
    app.config["MAX_UPLOAD_MB"] = 1
    headers = {**auth, "Content-Type": "application/octet-stream"}
    response = client.post(
        "/api/uploads",
        input_stream=(body := BodyStream(pdf_bytes(3 * 1024 * 1024))),
        headers=headers,
        environ_overrides=CHUNKED,
    )
    assert response.status_code == 413
    read_size = app.config["UPLOAD_READ_SIZE"]
    assert body.data.tell() <= 1024 * 1024 + read_size, "reading stopped within one read of crossing the limit"
    assert_nothing_left(app)


def test_declared_length_over_limit_is_rejected_before_reading(app, client, auth):
    app.config["MAX_UPLOAD_MB"] = 1
    response = client.post(
        "/api/uploads",
        input_stream=BodyStream(None),
        headers={**auth, "Content-Type": "application/octet-stream"},
        environ_overrides={"CONTENT_LENGTH": str(50 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert_nothing_left(app)


@pytest.mark.parametrize("shape", ["multipart", "raw"])
def test_client_abort_leaves_nothing(app, client, auth, shape):
    data = pdf_bytes(300_000)
    if shape == "raw":
        body, content_type = data, "application/octet-stream"
    else:
        body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n' + data + b"\r\n--b--\r\n"
        content_type = "multipart/form-data; boundary=b"
    response = client.post(
        "/api/uploads",
        input_stream=BodyStream(body[:200_000]),
        headers={**auth, "Content-Type": content_type},
        environ_overrides={"CONTENT_LENGTH": str(len(body))},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "upload_incomplete"
    assert_nothing_left(app)


@pytest.mark.parametrize(
    ("data", "claimed_name", "claimed_type"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00" + os.urandom(5000), "invoice.pdf", "application/pdf"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "data.xml", "application/xml"),
        (b"just some words and no delimiters at all\n", "notes.csv", "text/csv"),
        (b"PK\x03\x04" + os.urandom(6000), "book.xlsx", "application/vnd.ms-excel"),
    ],
    ids=["exe-as-pdf", "html-as-xml", "plain-text-as-csv", "zip-as-xlsx"],
)
def test_spoofed_content_type_is_rejected(app, client, auth, data, claimed_name, claimed_type):
    response = client.post("/api/uploads", data=multipart(data, claimed_name, claimed_type), headers=auth)
    assert response.status_code == 415, response.get_json()
    assert response.get_json()["error"]["code"] == "unsupported_type"
    assert_nothing_left(app)


def test_type_comes_from_the_bytes_not_the_claim(client, auth):
    png = PNG_HEAD + os.urandom(2000)
    response = client.post("/api/uploads", data=multipart(png, "scan.pdf", "application/pdf"), headers=auth)
    assert response.status_code == 201
    assert response.get_json()["content_type"] == "image/png"
    assert response.get_json()["filename"] == "scan.png", "the extension follows the bytes too"


@pytest.mark.parametrize(
    ("raw_name", "shown"),
    [("../../../../etc/passwd.pdf", "passwd.pdf"), ("..\\..\\boot.ini", "boot.pdf"), ("..", "upload.pdf")],
)
def test_traversal_filename_is_harmless(app, client, auth, tmp_path, raw_name, shown):
    data = pdf_bytes(5000)
    response = client.post("/api/uploads", data=multipart(data, raw_name), headers=auth)
    assert response.status_code == 201
    body = response.get_json()
    assert body["filename"] == shown
    assert stored_files(app) == [Path(app.config["STORAGE_DIR"]) / key_for(body["sha256"])]
    assert not (tmp_path.parent / "etc").exists()
    disposition = client.get(body["content_url"], headers=auth).headers["Content-Disposition"]
    assert disposition == f'attachment; filename="{shown}"'


def test_download_headers_ranges_and_etag(client, auth):
    data = pdf_bytes(100_000)
    body = client.post("/api/uploads", data=multipart(data, "Factura Nº 7.pdf"), headers=auth).get_json()
    url = body["content_url"]

    full = client.get(url, headers=auth)
    assert full.status_code == 200
    assert full.headers["ETag"] == f'"{body["sha256"]}"'
    assert full.headers["X-Content-Type-Options"] == "nosniff"
    assert full.headers["Accept-Ranges"] == "bytes"
    assert full.headers["Content-Disposition"] == (
        "attachment; filename=\"Factura_No_7.pdf\"; filename*=UTF-8''Factura%20N%C2%BA%207.pdf"
    )

    part = client.get(url, headers={**auth, "Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    assert part.data == data[1000:2000]
    tail = client.get(url, headers={**auth, "Range": "bytes=-10"})
    assert tail.status_code == 206
    assert tail.data == data[-10:]
    assert client.get(url, headers={**auth, "Range": "bytes=200000-"}).status_code == 416
    assert client.get(url, headers={**auth, "If-None-Match": full.headers["ETag"]}).status_code == 304
    stale = client.get(url, headers={**auth, "Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200
    assert stale.data == data


def test_metadata_and_missing_document(client, auth):
    body = client.post("/api/uploads", data=multipart(pdf_bytes(3000)), headers=auth).get_json()
    meta = client.get(f"/api/uploads/{body['id']}", headers=auth)
    assert meta.status_code == 200
    assert meta.get_json() == {key: value for key, value in body.items() if key != "duplicate"}
    assert client.get("/api/uploads/999999", headers=auth).status_code == 404
    assert client.get("/api/uploads/999999/content", headers=auth).status_code == 404
    assert client.get(f"/api/uploads/{body['id']}").status_code == 401


def test_attach_to_invoice_by_field_and_query(app, seeded, client, auth):
    with app.app_context():
        invoice_ids = list(db.session.scalars(select(Invoice.id).order_by(Invoice.id).limit(2)))
    data = pdf_bytes(4000)
    by_field = client.post("/api/uploads", data=multipart(data, invoice_id=str(invoice_ids[0])), headers=auth)
    assert by_field.status_code == 201
    by_query = client.post(f"/api/uploads?invoice_id={invoice_ids[1]}", data=multipart(data), headers=auth)
    assert by_query.status_code == 200, "same bytes: duplicate, still attached"
    with app.app_context():
        attached = db.session.scalars(select(Invoice.document_id).where(Invoice.id.in_(invoice_ids))).all()
    assert attached == [by_field.get_json()["id"]] * 2


def test_unknown_invoice_is_rejected_and_leaves_nothing(app, client, auth):
    response = client.post("/api/uploads", data=multipart(pdf_bytes(4000), invoice_id="424242"), headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == "invoice_id"
    assert_nothing_left(app)


NO_FILE_PART = b'--x\r\nContent-Disposition: form-data; name="other"\r\n\r\nv\r\n--x--\r\n'
FILE_PART = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n%PDF-'


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(NO_FILE_PART, "boundary=x"), (b"no boundary anywhere" * 5000, "boundary=x"), (FILE_PART, "")],
    ids=["no-file-part", "boundary-never-found", "boundary-missing"],
)
def test_malformed_multipart_is_a_clear_400(app, client, auth, body, content_type):
    response = client.post(
        "/api/uploads", data=body, headers={**auth, "Content-Type": f"multipart/form-data; {content_type}".strip()}
    )
    assert response.status_code == 400
    expected = "no_file_field" if body is NO_FILE_PART else "malformed_upload"
    assert response.get_json()["error"]["code"] == expected
    assert_nothing_left(app)


# In the file: a CRLF and dashes that start the boundary without finishing it, and at its very end a
# prefix of the closing delimiter; the decoder must hold these back across reads and then hand them on.
SPLIT_DATA = PDF_HEAD + os.urandom(2000) + b"\r\n--boundary4x\r" + os.urandom(2000) + b"\r\n--bound"
SPLIT_BODY = (
    b'--boundary42\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
    b'--boundary42\r\nContent-Disposition: form-data; name="file"; filename="a/b.pdf"\r\n'
    b"Content-Type: application/pdf\r\n\r\n" + SPLIT_DATA + b"\r\n--boundary42--\r\n"
)


def test_every_read_size_gives_the_same_file_and_fields():
    """Part headers, boundaries and the bytes held back around them split at every offset of the body.

    The body is read in ``UPLOAD_READ_SIZE`` pieces (1 MiB by default, see ``streaming.py``), so where a
    read ends within the framing depends on the client; sizes 1 to 199 put a read's end at every
    position of the headers and of each boundary.
    """
    for read_size in [*range(1, 200), 4096, len(SPLIT_BODY) - 1, 1024 * 1024]:
        environ = EnvironBuilder(
            method="POST", data=SPLIT_BODY, content_type="multipart/form-data; boundary=boundary42"
        ).get_environ()
        upload = streaming.open_upload(Request(environ), limit=1024 * 1024, read_size=read_size)
        assert b"".join(upload.chunks) == SPLIT_DATA, read_size
        assert (upload.filename, upload.fields) == ("b.pdf", {"note": "hello"}), read_size


@contextlib.contextmanager
def other_connection(app):
    """A second connection, as another request's would be; committed when the block ends."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def test_unique_violation_race_returns_the_existing_record(app, client, auth, monkeypatch):
    """Another upload of the same bytes commits between our dedupe check and our insert."""
    data = pdf_bytes(6000)
    sha256 = hashlib.sha256(data).hexdigest()
    real_lookup = documents._by_sha256
    calls = []

    def lookup_then_lose_the_race(value):
        found = real_lookup(value)
        if not calls:
            with other_connection(app) as conn:
                conn.execute(
                    insert(StoredFile.__table__).values(
                        sha256=sha256,
                        original_filename="winner.pdf",
                        content_type="application/pdf",
                        size=len(data),
                        storage_key=key_for(sha256),
                        created_at=utcnow(),
                    )
                )
        calls.append(value)
        return found

    monkeypatch.setattr(documents, "_by_sha256", lookup_then_lose_the_race)
    response = client.post("/api/uploads", data=multipart(data, "loser.pdf"), headers=auth)
    assert response.status_code == 200
    assert response.get_json()["duplicate"] is True
    assert response.get_json()["filename"] == "winner.pdf"
    assert row_count(app) == 1
    assert stored_files(app) == [Path(app.config["STORAGE_DIR"]) / key_for(sha256)], "the winner's key stays"


def test_database_error_after_the_move_removes_the_file(app, seeded, client, auth, monkeypatch):
    """The invoice disappears before the commit: no row, no file, and a JSON 500."""
    with app.app_context():
        invoice_id = db.session.scalar(select(Invoice.id).limit(1))
    real_lookup = documents._by_sha256
    calls = []

    def lookup_then_delete_invoice(value):
        if not calls:
            with other_connection(app) as conn:
                conn.execute(delete(Invoice.__table__).where(Invoice.id == invoice_id))
        calls.append(value)
        return real_lookup(value)

    monkeypatch.setattr(documents, "_by_sha256", lookup_then_delete_invoice)
    response = client.post(f"/api/uploads?invoice_id={invoice_id}", data=multipart(pdf_bytes(7000)), headers=auth)
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_server_error"
    assert_nothing_left(app)


@pytest.mark.parametrize("path", ["/api/uploads", "/api/ots/import"])
def test_form_urlencoded_post_is_400_no_file_field(app, client, auth, path):
    response = client.post(path, data={"file": "not a file", "invoice_id": "1"}, headers=auth)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "no_file_field"
    assert "no file field" in error["message"]
    assert_nothing_left(app)


def test_an_upload_takes_a_turn_every_mib_and_does_not_count_itself(client, auth, monkeypatch):
    """A body already in the socket buffer never makes a read wait: the receive loop yields the worker
    (``Turns.take``, a gevent sleep in a worker) after each MiB, and only pauses longer while *other*
    requests are in the worker: the upload's own request is left out of the count."""
    from app.exports import turns
    from app.uploads import streaming

    taken: list[int] = []
    slept: list[float] = []
    real_take = turns.Turns.take

    def spy(self):
        taken.append(turns.InFlight.others)
        real_take(self)

    monkeypatch.setattr(turns.Turns, "take", spy)
    monkeypatch.setattr(turns.time, "sleep", slept.append)
    monkeypatch.setattr(turns.InFlight, "others", 0)
    size = 5 * streaming.TURN_BYTES + 1000
    response = client.post(
        "/api/uploads?filename=turns.pdf",
        input_stream=BodyStream(pdf_bytes(size)),
        headers={**auth, "Content-Type": "application/octet-stream"},
        environ_overrides={"CONTENT_LENGTH": str(size)},
    )
    assert response.status_code == 201, response.get_json()
    assert len(taken) == 5
    assert taken == [1] * 5, "the upload itself is the one request in flight"
    assert slept == [0.0] * 5, "alone in the worker, a turn is a zero sleep"
