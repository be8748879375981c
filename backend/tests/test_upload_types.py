"""A stored file's name and content agree: the extension follows the sniffed type; zips that are not plain XLSX
workbooks (an .exe inside, macros, an .xlsm's content type) are refused; downloads are attachments, nosniff."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import openpyxl
import pytest
from xlsxwriter import Workbook

from app.uploads.sniffing import name_for_type

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="{main}"/></Types>'
)
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"


def zip_bytes(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def workbook_entries(main: str = XLSX_MAIN) -> dict[str, bytes]:
    return {
        "[Content_Types].xml": CONTENT_TYPES.format(main=main).encode(),
        "_rels/.rels": b"<Relationships/>",
        "xl/workbook.xml": b"<workbook/>",
        "xl/worksheets/sheet1.xml": b"<worksheet/>",
    }


def upload(client, auth, data: bytes, name: str):
    return client.post("/api/uploads", data={"file": (io.BytesIO(data), name)}, headers=auth)


def assert_refused(app, response, fragment: str) -> None:
    assert response.status_code == 415, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "unsupported_type"
    assert fragment in error["message"]
    assert not [path for path in Path(app.config["STORAGE_DIR"]).rglob("*") if path.is_file()]


@pytest.mark.parametrize(
    ("entries", "fragment"),
    [
        ({**workbook_entries(), "setup.exe": b"MZ" + os.urandom(500)}, "it holds 'setup.exe'"),
        ({**workbook_entries(), "xl/vbaProject.bin": os.urandom(500)}, "vbaProject.bin"),
        (workbook_entries(XLSM_MAIN), "macroEnabled"),
        ({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}, "not an XLSX workbook"),
        ({"readme.txt": b"hello"}, "not an XLSX workbook"),
    ],
    ids=["exe-inside", "vba-project", "xlsm-content-type", "docx", "plain-zip"],
)
@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED], ids=["deflate", "stored"])
def test_zips_that_are_not_plain_workbooks_are_refused(app, client, auth, entries, fragment, method):
    assert_refused(app, upload(client, auth, zip_bytes(entries, method), "book.xlsx"), fragment)


def test_an_xlsm_import_is_refused(app, client, auth):
    data = zip_bytes({**workbook_entries(XLSM_MAIN), "xl/vbaProject.bin": os.urandom(500)})
    response = client.post("/api/ots/import", data={"file": (io.BytesIO(data), "ots.xlsm")}, headers=auth)
    assert_refused(app, response, "macro-enabled")


def test_real_workbooks_are_accepted_whatever_their_size(client, auth, tmp_path):
    """openpyxl and XlsxWriter files, one larger than the kept tail (the directory is still found)."""
    path = tmp_path / "big.xlsx"
    workbook = openpyxl.Workbook()
    for _ in range(3000):
        workbook.active.append([os.urandom(600).hex()])  # incompressible: a file of several MB
    workbook.save(path)
    assert path.stat().st_size > 2 * 1024 * 1024
    small = io.BytesIO()
    with Workbook(small) as book:
        book.add_worksheet("OTs").write(0, 0, "ot_number")
    for data in (path.read_bytes(), small.getvalue()):
        response = upload(client, auth, data, "sheet.xlsx")
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["content_type"].endswith("spreadsheetml.sheet")


@pytest.mark.parametrize(
    ("data", "sent_as", "stored_as"),
    [
        (b"%PDF-1.7\n" + os.urandom(300), "setup.exe", "setup.pdf"),
        (b"a,b,c\n1,2,3\n", "upload", "upload.csv"),
        (b"a;b\n1;2\n", "notes.txt", "notes.csv"),
        (b"\x89PNG\r\n\x1a\n" + os.urandom(300), "scan.PNG", "scan.PNG"),
        (b"\xff\xd8\xff\xe0" + os.urandom(300), "photo.jpeg", "photo.jpeg"),
        (b"%PDF-1.7\n" + os.urandom(301), "Factura No. 12", "Factura No. 12.pdf"),
        (b'{"a": 1}', "data.json.exe", "data.json.json"),
        (b"%PDF-1.7\n" + os.urandom(302), "n" * 255, "n" * 251 + ".pdf"),  # still fits the 255-character column
    ],
)
def test_stored_name_extension_follows_the_sniffed_type(client, auth, data, sent_as, stored_as):
    response = upload(client, auth, data, sent_as)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["filename"] == stored_as
    download = client.get(response.get_json()["content_url"], headers=auth)
    assert download.headers["Content-Disposition"].startswith(f'attachment; filename="{stored_as.replace(" ", "_")}"')
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_download_of_a_row_stored_with_a_mismatched_name_is_fixed_and_attachment(app, client, auth):
    from app.extensions import db
    from app.models import StoredFile

    response = upload(client, auth, b"%PDF-1.7\n" + os.urandom(100), "doc.pdf")
    with app.app_context():
        record = db.session.get(StoredFile, response.get_json()["id"])
        record.original_filename = "invoice.html"  # as an older release could have stored it
        db.session.commit()
    download = client.get(response.get_json()["content_url"], headers=auth)
    assert download.headers["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
    assert download.headers["Content-Type"] == "application/pdf"


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [("a.PDF", "application/pdf", "a.PDF"), (".pdf", "application/pdf", ".pdf"), ("x.", "text/csv", "x..csv")],
)
def test_name_for_type_edges(name, content_type, expected):
    assert name_for_type(name, content_type) == expected
