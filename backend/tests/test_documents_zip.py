"""The documents ZIP and the inline preview, through the Flask app on both databases.

Documents enter through the real upload endpoint and leave through the real routes; the archive is
read back by Python's zipfile and by Info-ZIP's ``unzip -t``. Storage is wrapped (not replaced) by
a recorder that notes every open, read and close, which is how streaming is proven without timing.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import socket
import subprocess
import time
import unicodedata
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, update

from app.extensions import db
from app.models import Client, Invoice, Ot, Provider, StoredFile
from app.uploads.bundles import MISSING_ENTRY, ZIP_CHUNK_SIZE, zip_slots
from app.uploads.storage import EXTENSION_KEY, S3_PART_SIZE, get_storage
from app.uploads.zip_names import MAX_COMPONENT_BYTES, UniqueNames, clean_component, invoice_entry
from tests.helpers.servers import run_gunicorn
from tests.test_uploads_s3 import s3_app, s3_endpoint  # noqa: F401  (fixtures: moto's server, an S3-backed app)

ZIP = "/api/invoices/documents.zip"
PDF_HEAD = b"%PDF-1.7\n"
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


def pdf_bytes(size: int, tag: int | str = "") -> bytes:
    head = PDF_HEAD + f"% invoice {tag}\n".encode()
    return (head + os.urandom(max(size - len(head), 0)))[:size]


# ---------------------------------------------------------------- data


def make_invoice(app, number: str, provider: str = "Maersk", client: str | None = "Café Andina", ot: str | None = None):
    """An invoice (and its provider, client, OT when named): the fields a ZIP entry name uses."""
    with app.app_context():
        provider_row = db.session.scalars(select(Provider).where(Provider.name == provider)).first()
        if provider_row is None:
            provider_row = Provider(name=provider, nit="0614-010101-101-1", type="naviera")
            db.session.add(provider_row)
        ot_row = None
        if ot is not None:
            ot_row = db.session.scalars(select(Ot).where(Ot.ot_number == ot)).first()
            if ot_row is None:
                client_row = db.session.scalars(select(Client).where(Client.name == client)).first()
                if client_row is None:
                    client_row = Client(name=client)
                    db.session.add(client_row)
                ot_row = Ot(ot_number=ot, client=client_row, containers=[])
                db.session.add(ot_row)
        invoice = Invoice(
            invoice_number=number,
            provider=provider_row,
            ot=ot_row,
            cost_type="OTRO",
            amount=Decimal("10.00"),
            issue_date=dt.date(2026, 11, 1),
        )
        db.session.add(invoice)
        db.session.commit()
        return invoice.id


def attach(client, auth, invoice_id: int, data: bytes, name: str = "doc.pdf") -> dict:
    """Upload ``data`` through the API as ``invoice_id``'s document."""
    response = client.post(
        f"/api/uploads?invoice_id={invoice_id}", data={"file": (io.BytesIO(data), name)}, headers=auth
    )
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def documented(app, client, auth, count: int, size: int = 3000, **names) -> dict[int, bytes]:
    """``count`` invoices with a PDF each; returns invoice id -> the document's bytes."""
    out = {}
    for n in range(count):
        invoice_id = make_invoice(app, f"F-{n:04d}", ot=names.get("ot", f"25OT{n % 3:04d}"))
        out[invoice_id] = pdf_bytes(size, invoice_id)
        attach(client, auth, invoice_id, out[invoice_id])
    return out


def download(client, auth, path: str = ZIP, json: object = None):
    """GET ``path``, or POST ``json`` to it; the response, asserted 200."""
    response = client.get(path, headers=auth) if json is None else client.post(path, json=json, headers=auth)
    assert response.status_code == 200, response.get_data()[:500]
    return response


def read_zip(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        return {info.filename: archive.read(info) for info in archive.infolist()}


def unzip_test(body: bytes, tmp_path: Path) -> str:
    """``unzip -t`` on the archive: Info-ZIP's own reading of every header, CRC and the directory."""
    unzip = shutil.which("unzip")
    if unzip is None:
        pytest.skip("unzip is not installed (.ci/run installs it)")
    path = tmp_path / "documents.zip"
    path.write_bytes(body)
    result = subprocess.run([unzip, "-t", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors detected" in result.stdout
    return result.stdout


def invoice_of(data: bytes) -> int:
    """The invoice id :func:`pdf_bytes` wrote into a document."""
    return int(data.split(b"% invoice ", 1)[1].split(b"\n", 1)[0])


# ---------------------------------------------------------------- storage recorder


class Recorder:
    """Wraps the app's real storage; logs ``("open"|"read"|"close", key)`` in order, and can fail reads."""

    def __init__(self, storage) -> None:
        self.storage = storage
        self.events: list[tuple[str, str]] = []
        self.fail_reads: dict[str, list[int]] = {}  # key -> read numbers (per open) that raise

    def begin(self):
        return self.storage.begin()

    def delete(self, key: str) -> None:
        self.storage.delete(key)

    def open(self, key: str):
        self.events.append(("open", key))
        return RecordedReader(self, key, self.storage.open(key), self.fail_reads.get(key, []))

    def opened(self) -> int:
        return sum(1 for kind, _ in self.events if kind == "open")


class RecordedReader:
    def __init__(self, recorder: Recorder, key: str, reader, fail_at: list[int]) -> None:
        self.recorder, self.key, self.reader, self.fail_at, self.reads = recorder, key, reader, fail_at, 0

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        self.reads += 1
        if self.fail_at and self.reads == self.fail_at[0]:
            self.fail_at.pop(0)
            raise ConnectionResetError("connection reset by peer (injected)")
        chunk = next(self.reader)
        self.recorder.events.append(("read", self.key))
        return chunk

    def seekable(self) -> bool:
        return True

    def seek(self, position: int) -> int:
        return self.reader.seek(position)

    def tell(self) -> int:
        return self.reader.tell()

    def close(self) -> None:
        self.recorder.events.append(("close", self.key))
        self.reader.close()


@pytest.fixture
def recorder(app) -> Recorder:
    with app.app_context():
        wrapped = Recorder(get_storage(app))
    app.extensions[EXTENSION_KEY] = wrapped
    return wrapped


# ---------------------------------------------------------------- names


def test_clean_component_neutralises_hostile_names():
    cases = {
        "../../etc/passwd": "-..-etc-passwd",
        "..": "SIN NOMBRE",
        "...": "SIN NOMBRE",
        "a\\b/c": "a-b-c",
        'x<y>z:"q"|w?*': "x-y-z--q--w--",
        "CON": "_CON",
        "con.pdf": "_con.pdf",
        "Lpt1 ": "_Lpt1",
        "COM¹": "_COM¹",
        "CONSOLIDADORA": "CONSOLIDADORA",
        "nul\x00byte\x1fhere": "nulbytehere",
        "fact\u202eftp.exe": "factftp.exe",  # a bidi override would display the extension reversed
        "  many \t\n spaces  ": "many spaces",
        "trailing dots...": "trailing dots",
        ".hidden": "hidden",
        "": "SIN NOMBRE",
        None: "SIN NOMBRE",
    }
    for raw, expected in cases.items():
        assert clean_component(raw, 60) == expected, raw
    nfd = unicodedata.normalize("NFD", "Roldán Ñandú")
    assert clean_component(nfd, 60) == "Roldán Ñandú" and clean_component(nfd, 60) != nfd
    long = "Distribuidora " + "ñ" * 500
    cut = clean_component(long, 1000)
    assert len(cut.encode()) <= MAX_COMPONENT_BYTES and cut.startswith("Distribuidora ñ")
    assert len(clean_component("x" * 500, 60)) == 60


def test_entry_names_are_the_teams_and_unique_ignoring_case():
    entry = invoice_entry("Maersk", "F-001/2025", "Café Andina S.A.", "25OT1327", "pdf")
    assert entry == "Café Andina S.A/25OT1327/FACTURA Maersk F-001-2025 Café Andina S.A. 25OT1327.pdf"
    assert invoice_entry("MSC", "77", None, None, "png") == "SIN OT/FACTURA MSC 77.png"
    names = UniqueNames()
    assert names.take("A/B/x.pdf") == "A/B/x.pdf"
    assert names.take("A/B/x.pdf") == "A/B/x (2).pdf"
    assert names.take("a/b/X.PDF") == "a/b/X (3).PDF"
    assert names.take(unicodedata.normalize("NFD", "A/B/é.pdf")) == unicodedata.normalize("NFD", "A/B/é.pdf")
    assert names.take("A/B/é.pdf") == "A/B/é (2).pdf", "NFC and NFD spellings are one name"


# ---------------------------------------------------------------- the archive


def test_zip_round_trip_through_zipfile_and_unzip(app, client, auth, tmp_path):
    chunk = app.config["UPLOAD_CHUNK_SIZE"]
    sizes = [1, chunk - 1, chunk, chunk + 1, 3 * ZIP_CHUNK_SIZE + 17, 1_500_000]
    expected = {}
    for n, size in enumerate(sizes):
        invoice_id = make_invoice(app, f"N{n}", ot="25OT1327", client="Café Andina")
        data = pdf_bytes(max(size, 40), invoice_id)
        attach(client, auth, invoice_id, data)
        expected[f"Café Andina/25OT1327/FACTURA Maersk N{n} Café Andina 25OT1327.pdf"] = data
    png = make_invoice(app, "IMG-1", provider="Transportes Sánchez", ot=None)
    png_data = PNG_HEAD + os.urandom(5000)
    attach(client, auth, png, png_data, "photo.png")
    expected["SIN OT/FACTURA Transportes Sánchez IMG-1.png"] = png_data
    csv_invoice = make_invoice(app, "CSV-1", ot="25OT9999", client="Textiles Roldán")
    csv_data = "contenedor,peso\n" + "MSCU1234567,1000\n" * 2000
    attach(client, auth, csv_invoice, csv_data.encode(), "detalle.csv")
    expected["Textiles Roldán/25OT9999/FACTURA Maersk CSV-1 Textiles Roldán 25OT9999.csv"] = csv_data.encode()

    response = download(client, auth)
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="documentos-facturas-')
    assert response.headers["X-Document-Count"] == str(len(expected))
    assert "Content-Length" not in response.headers
    body = response.get_data()
    assert read_zip(body) == expected
    listing = unzip_test(body, tmp_path)
    assert listing.count("OK") == len(expected)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    for name, info in infos.items():
        assert info.flag_bits & 0x800, "names are flagged UTF-8"
        if name.endswith(".pdf") or name.endswith(".png"):
            assert info.compress_size <= info.file_size + info.file_size // 1000 + 64, "stored, not recompressed"
    assert infos[next(n for n in infos if n.endswith(".csv"))].compress_size < len(csv_data) // 5, "text is deflated"


def test_hostile_names_are_safe_to_extract_and_unique(app, client, auth, tmp_path):
    hostile = [
        ("../../etc/passwd", "..\\..\\boot.ini", "CON", "../OT"),
        ("AUX", "NUL", "Cliente/Con/Barras", "25OT/1"),
        ("Proveedor " + "Ñ" * 190, "9" * 64, "Ñandú 🚢 " * 24, "25OT0001"),  # the columns' full widths
        ("maersk", "dup", "Cliente", "25OT0002"),
        ("MAERSK", "DUP", "cliente", "25OT0002"),
    ]
    for provider, number, client_name, ot in hostile:
        invoice_id = make_invoice(app, number, provider=provider, client=client_name, ot=ot)
        attach(client, auth, invoice_id, pdf_bytes(500, invoice_id))
    body = download(client, auth).get_data()
    entries = read_zip(body)
    assert len(entries) == len(hostile)
    for name in entries:
        parts = name.split("/")
        assert len(parts) == 3 and "\\" not in name and len(name) <= 250
        for part in parts:
            assert part not in ("", ".", "..") and not part.startswith(".") and not part.endswith((" ", "."))
            assert part.split(".")[0].upper() not in ("CON", "AUX", "NUL", "PRN")
            assert len(part.encode()) <= 255
    assert len({name.casefold() for name in entries}) == len(entries), "unique on a case-insensitive disk"
    assert any(name.endswith(" (2).pdf") for name in entries)
    target = tmp_path / "out"
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        archive.extractall(target)
    extracted = [path for path in target.rglob("*") if path.is_file()]
    assert len(extracted) == len(hostile)
    assert all(path.resolve().is_relative_to(target.resolve()) for path in extracted)
    unzip_test(body, tmp_path)


def list_ids(client, auth, query: str) -> list[int]:
    ids, cursor = [], None
    while True:
        page = client.get(f"/api/invoices?{query}&limit=500" + (f"&cursor={cursor}" if cursor else ""), headers=auth)
        assert page.status_code == 200, page.get_json()
        ids += [item["id"] for item in page.get_json()["items"]]
        if not (cursor := page.get_json()["next"]):
            return ids


@pytest.mark.parametrize(
    "query",
    ["billing_status=pending", "q=Maersk", "q=OT0003", "issue_date_from=2026-03-01&amount_min=1000"],
)
def test_filters_select_the_same_invoices_as_the_list(client, auth, seeded, query):
    with seeded.app_context():
        ids = db.session.scalars(select(Invoice.id).order_by(Invoice.id)).all()
    with_document = set(ids[::4])  # every 4th invoice has a document
    for invoice_id in with_document:
        attach(client, auth, invoice_id, pdf_bytes(800, invoice_id))
    expected = set(list_ids(client, auth, query)) & with_document
    assert expected, "the filter should match documented invoices"
    response = download(client, auth, f"{ZIP}?{query}")
    entries = read_zip(response.get_data())
    assert sorted(invoice_of(data) for data in entries.values()) == sorted(expected)
    assert response.headers["X-Document-Count"] == str(len(expected))


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("billing_status=lost", "billing_status"), ("limit=5", "limit"), ("colour=red", "colour")],
)
def test_bad_filters_are_a_json_400(client, auth, app, query, parameter):
    response = client.get(f"{ZIP}?{query}", headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == parameter


def test_no_document_is_a_404_not_an_empty_zip(client, auth, app):
    make_invoice(app, "NO-DOC", ot="25OT0001")
    for response in (client.get(ZIP, headers=auth), client.post(ZIP, json={"ids": [1]}, headers=auth)):
        assert response.status_code == 404
    response = client.get(ZIP, headers=auth)
    assert response.get_json()["error"]["code"] == "no_documents"


def test_post_ids_selects_those_invoices_and_notes_the_ones_without_document(client, auth, app):
    docs = documented(app, client, auth, 5)
    chosen = sorted(docs)[1:4]
    bare = make_invoice(app, "BARE", ot="25OT0001")
    response = client.post(ZIP, json={"ids": [*chosen, chosen[0], bare]}, headers=auth)
    assert response.status_code == 200, response.get_json()
    entries = read_zip(response.get_data())
    notice = entries.pop(MISSING_ENTRY).decode()
    assert sorted(invoice_of(data) for data in entries.values()) == chosen
    assert f"factura/invoice {bare}\t" in notice and "no document" in notice


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"ids": []}, 400, "invalid_body"),
        ({"ids": ["1"]}, 400, "invalid_body"),
        ({"ids": [True]}, 400, "invalid_body"),
        ({"ids": [0]}, 400, "invalid_body"),
        ({"ids": [1], "extra": 1}, 400, "invalid_body"),
        ([1, 2], 400, "invalid_body"),
        ({"ids": [10**9]}, 404, "invoice_not_found"),
    ],
)
def test_post_rejects_bad_bodies(client, auth, app, body, status, code):
    documented(app, client, auth, 1)
    response = client.post(ZIP, json=body, headers=auth)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_post_refuses_query_parameters_and_non_json(client, auth, app):
    docs = documented(app, client, auth, 1)
    response = client.post(f"{ZIP}?billing_status=pending", json={"ids": list(docs)}, headers=auth)
    assert response.status_code == 400 and response.get_json()["error"]["parameter"] == "billing_status"
    response = client.post(ZIP, data="ids=1", headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_body"


def test_limits_are_422_before_any_byte(client, auth, app):
    docs = documented(app, client, auth, 4, size=300_000)
    app.config["DOCUMENTS_ZIP_MAX_FILES"] = 3
    response = client.get(ZIP, headers=auth)
    assert response.status_code == 422
    assert response.get_json()["error"] | {"message": ""} == {
        "code": "too_many_documents",
        "message": "",
        "documents": 4,
        "limit": 3,
    }
    assert client.post(ZIP, json={"ids": sorted(docs)}, headers=auth).status_code == 422
    assert download(client, auth, json={"ids": sorted(docs)[:3]}).status_code == 200
    too_long = client.post(ZIP, data="[" + "1," * 5000 + "1]", headers={**auth, "Content-Type": "application/json"})
    assert too_long.status_code == 413, "the JSON body is bounded by the same limit"
    app.config["DOCUMENTS_ZIP_MAX_FILES"] = 10
    app.config["DOCUMENTS_ZIP_MAX_MB"] = 1
    response = client.get(ZIP, headers=auth)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "documents_too_large"


def test_concurrency_limit_is_429_and_the_slot_comes_back(client, auth, app):
    documented(app, client, auth, 2, size=200_000)
    held = [client.get(ZIP, headers=auth, buffered=False) for _ in range(2)]
    assert [response.status_code for response in held] == [200, 200]  # DOCUMENTS_ZIP_MAX_CONCURRENT defaults to 2
    refused = client.get(ZIP, headers=auth)
    assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
    assert refused.get_json()["error"]["code"] == "too_many_downloads"
    assert client.get("/api/invoices/export?format=csv", headers=auth).status_code == 200, "exports have their own"
    for response in held:
        response.close()
    with app.app_context():
        slots = zip_slots()
    taken = [slots.acquire() for _ in range(slots.limit)]
    for slot in taken:
        slot.release()
    download(client, auth)


def test_needs_a_token(client, app):
    documented_id = make_invoice(app, "X", ot="25OT0001")
    for response in (
        client.get(ZIP),
        client.post(ZIP, json={"ids": [documented_id]}),
        client.get("/api/uploads/1/preview"),
        client.get(ZIP, headers={"Authorization": "Bearer nxo_wrong"}),
    ):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"


# ---------------------------------------------------------------- storage trouble


def test_a_document_missing_from_storage_is_listed_not_silently_dropped(app, client, auth, tmp_path):
    docs = documented(app, client, auth, 4)
    gone = sorted(docs)[1]
    with app.app_context():
        document = db.session.get(Invoice, gone).document
        key, document_id = document.storage_key, document.id
    (Path(app.config["STORAGE_DIR"]) / key).unlink()
    body = download(client, auth).get_data()
    entries = read_zip(body)
    notice = entries.pop(MISSING_ENTRY).decode()
    assert sorted(invoice_of(data) for data in entries.values()) == sorted(set(docs) - {gone})
    assert f"factura/invoice {gone}\tdocumento/document {document_id}\tmissing from storage" in notice
    assert list(read_zip(body))[-1] == MISSING_ENTRY, "the notice comes last"
    unzip_test(body, tmp_path)


def test_a_document_shorter_than_its_record_is_kept_and_listed(app, client, auth):
    docs = documented(app, client, auth, 2, size=10_000)
    short = sorted(docs)[0]
    with app.app_context():
        key = db.session.get(Invoice, short).document.storage_key
    path = Path(app.config["STORAGE_DIR"]) / key
    path.write_bytes(path.read_bytes()[:4000])
    entries = read_zip(download(client, auth).get_data())
    assert "4000 bytes read, 10000 recorded" in entries.pop(MISSING_ENTRY).decode()
    assert sorted(len(data) for data in entries.values()) == [4000, 10_000]


def test_a_failed_read_is_retried_from_where_it_stopped(app, client, auth, recorder):
    chunk = app.config["UPLOAD_CHUNK_SIZE"]
    docs = documented(app, client, auth, 2, size=5 * chunk + 99)
    flaky = sorted(docs)[0]
    with app.app_context():
        key = db.session.get(Invoice, flaky).document.storage_key
    recorder.fail_reads[key] = [3]  # the third read of the first open fails
    entries = read_zip(download(client, auth).get_data())
    assert MISSING_ENTRY not in entries
    assert sorted(entries.values()) == sorted(docs.values()), "the bytes are whole, none repeated or lost"
    assert [event for event in recorder.events if event == ("open", key)] == [("open", key)] * 2


def test_a_read_failing_twice_aborts_the_download_rather_than_end_it_cleanly(app, client, auth, recorder):
    chunk = app.config["UPLOAD_CHUNK_SIZE"]
    docs = documented(app, client, auth, 2, size=40 * chunk)
    with app.app_context():
        key = db.session.get(Invoice, sorted(docs)[1]).document.storage_key
        pool = db.engine.pool
    recorder.fail_reads[key] = [3, 2]  # and again right after the retry
    response = client.get(ZIP, headers=auth, buffered=False)
    assert response.status_code == 200
    received = bytearray()
    with pytest.raises(ConnectionResetError):
        for piece in response.response:
            received += piece
    response.close()
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(bytes(received)))
    assert pool.checkedout() == 0
    assert recorder.events[-1][0] == "close"


def test_an_error_before_the_first_byte_is_json_and_releases_everything(app, client, auth, recorder):
    docs = documented(app, client, auth, 2)
    with app.app_context():
        key = db.session.get(Invoice, sorted(docs)[0]).document.storage_key
        pool = db.engine.pool
        db.session.remove()
    recorder.fail_reads[key] = [1, 1]
    response = client.get(ZIP, headers=auth)
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_server_error"
    assert pool.checkedout() == 0
    recorder.fail_reads.clear()
    with app.app_context():
        slots = zip_slots()
    taken = [slots.acquire() for _ in range(slots.limit)]  # the slot came back
    for slot in taken:
        slot.release()


def test_zip64_members_are_readable(app, client, auth, tmp_path):
    """A document recorded as over 4 GiB is framed as Zip64 (its real bytes are small: noted as changed)."""
    docs = documented(app, client, auth, 2)
    big = sorted(docs)[0]
    with app.app_context():
        document_id = db.session.get(Invoice, big).document_id
        db.session.execute(update(StoredFile).where(StoredFile.id == document_id).values(size=5 * 2**30))
        db.session.commit()
    body = download(client, auth).get_data()
    entries = read_zip(body)
    assert "5368709120 recorded" in entries.pop(MISSING_ENTRY).decode()
    assert sorted(entries.values()) == sorted(docs.values())
    assert b"PK\x06\x06" in body[-200:], "a Zip64 end of central directory"
    unzip_test(body, tmp_path)


# ---------------------------------------------------------------- streaming


def test_bytes_leave_before_the_last_document_is_read(app, client, auth, recorder):
    docs = documented(app, client, auth, 6, size=3 * ZIP_CHUNK_SIZE)
    response = client.get(ZIP, headers=auth, buffered=False)
    assert response.status_code == 200
    assert not isinstance(response.response, (bytes, list)), "the body is an iterator, not a buffer"
    opened_at_piece, sizes = [], []
    for piece in response.response:
        opened_at_piece.append(recorder.opened())
        sizes.append(len(piece))
    response.close()
    assert opened_at_piece[0] == 1, "the first piece left when only the first document had been opened"
    assert opened_at_piece.index(len(docs)) >= len(docs), "most of the archive left before the last open"
    assert max(sizes) <= ZIP_CHUNK_SIZE, "pieces are bounded, whatever the documents' size"
    assert sum(sizes) > len(docs) * 3 * ZIP_CHUNK_SIZE
    opens = [key for kind, key in recorder.events if kind == "open"]
    closes = [key for kind, key in recorder.events if kind == "close"]
    assert sorted(opens) == sorted(closes), "every reader was closed"


def test_disconnect_mid_stream_returns_the_connection_and_closes_the_reader(app, client, auth, recorder):
    app.config["DOCUMENTS_ZIP_MAX_FILES"] = 2000
    documented(app, client, auth, 3, size=4 * ZIP_CHUNK_SIZE)
    with app.app_context():
        pool = db.engine.pool
        db.session.remove()
        assert pool.checkedout() == 0
    response = client.get(ZIP, headers=auth, buffered=False)
    pieces = iter(response.response)
    next(pieces)
    next(pieces)
    assert pool.checkedout() == 1, "the archive reads its rows through one connection while it streams"
    response.close()  # what the WSGI server does when the client goes away
    assert pool.checkedout() == 0
    assert recorder.events[-1][0] == "close", "the document being read was closed"
    download(client, auth)  # and the slot is free


# ---------------------------------------------------------------- preview


def test_preview_shows_pdfs_inline_with_ranges_and_a_locked_down_policy(app, client, auth):
    invoice_id = make_invoice(app, "P-1", ot="25OT0001")
    data = pdf_bytes(200_000, invoice_id)
    document = attach(client, auth, invoice_id, data, "Factura Roldán.pdf")
    url = f"/api/uploads/{document['id']}/preview"
    response = client.get(url, headers=auth)
    assert response.status_code == 200 and response.data == data
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith('inline; filename="Factura_Roldan.pdf"')
    assert "filename*=UTF-8''Factura%20Rold%C3%A1n.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert response.headers["Accept-Ranges"] == "bytes"
    part = client.get(url, headers={**auth, "Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.data == data[1000:2000]
    assert part.headers["Content-Disposition"].startswith("inline;")
    cached = client.get(url, headers={**auth, "If-None-Match": f'"{document["sha256"]}"'})
    assert cached.status_code == 304


def test_preview_of_other_types_is_an_attachment_in_a_sandbox(app, client, auth):
    for data, name in ((PNG_HEAD + os.urandom(1000), "foto.png"), (b"<?xml version='1.0'?><a/>", "dte.xml")):
        document = attach(client, auth, make_invoice(app, name, ot="25OT0001"), data, name)
        response = client.get(f"/api/uploads/{document['id']}/preview", headers=auth)
        assert response.status_code == 200 and response.data == data
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/api/uploads/999999/preview", headers=auth).status_code == 404


# ---------------------------------------------------------------- S3 (moto's real HTTP server)


def test_s3_documents_stream_into_the_zip_and_a_missing_key_is_listed(s3_app, client, auth, tmp_path):  # noqa: F811
    docs = {}
    for n, size in enumerate([1000, 200_000, S3_PART_SIZE + 12_345]):  # the last one went up as a multipart upload
        invoice_id = make_invoice(s3_app, f"S3-{n}", ot="25OT0001")
        docs[invoice_id] = pdf_bytes(size, invoice_id)
        attach(client, auth, invoice_id, docs[invoice_id])
    body = download(client, auth).get_data()
    entries = read_zip(body)
    assert sorted(entries.values()) == sorted(docs.values())
    unzip_test(body, tmp_path)

    gone = sorted(docs)[1]
    with s3_app.app_context():
        key = db.session.get(Invoice, gone).document.storage_key
        storage = get_storage(s3_app)
        storage.client.delete_object(Bucket=storage.bucket, Key=key)
    entries = read_zip(download(client, auth).get_data())
    assert f"factura/invoice {gone}\t" in entries.pop(MISSING_ENTRY).decode()
    assert sorted(entries.values()) == sorted(data for invoice_id, data in docs.items() if invoice_id != gone)
    first = sorted(docs)[0]
    document_id = attach(client, auth, first, docs[first])["id"]  # a duplicate: answers with the stored record
    preview = client.get(f"/api/uploads/{document_id}/preview", headers={**auth, "Range": "bytes=10-19"})
    assert preview.status_code == 206 and preview.data == docs[first][10:20]
    assert preview.headers["Content-Disposition"].startswith("inline;")


# ---------------------------------------------------------------- real gunicorn


@pytest.mark.gunicorn
def test_gunicorn_streams_the_zip_and_a_client_that_leaves_frees_the_slot(app, client, auth, server_env, tmp_path):
    docs = documented(app, client, auth, 20, size=2 * 1024 * 1024)  # 40 MB: more than a small-buffered socket holds
    env = {**server_env, "GUNICORN_WORKERS": "1", "DOCUMENTS_ZIP_MAX_CONCURRENT": "1"}
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        url = server.url(ZIP)
        whole = requests.get(url, headers=auth, timeout=60)
        assert whole.status_code == 200 and whole.headers["Transfer-Encoding"] == "chunked"
        assert sorted(read_zip(whole.content).values()) == sorted(docs.values())

        leaving = socket.socket()
        leaving.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # no autotuning to tens of MB
        leaving.connect(("127.0.0.1", server.port))
        leaving.sendall(f"GET {ZIP} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth['Authorization']}\r\n\r\n".encode())
        assert leaving.recv(64 * 1024).startswith(b"HTTP/1.1 200")
        busy = requests.get(url, headers=auth, timeout=10)
        assert busy.status_code == 429, "the one slot is held while the first download is open"
        leaving.close()  # the client goes away mid-download
        statuses = []
        for _ in range(100):  # the worker notices on its next failed write; poll, no timing asserted
            response = requests.get(url, headers=auth, timeout=60)
            statuses.append(response.status_code)
            if response.status_code != 429:
                break
            time.sleep(0.1)
        assert statuses[-1] == 200, f"the slot never came back: {statuses}"
        assert sorted(read_zip(response.content).values()) == sorted(docs.values())
