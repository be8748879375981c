"""``columns=`` on the streamed exports, and the time zone of their timestamps and file names.

Runs on SQLite and on PostgreSQL (where the CSV comes from COPY and the XLSX from prepared cells).
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from sqlalchemy import select

from app.exports.queries import EXPORTS
from app.extensions import db
from app.models import Invoice, Provider


def get(client, auth, path, status=200):
    with client.get(path, headers=auth) as response:
        body = response.get_data()
    assert response.status_code == status, body[:300]
    return response, body


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_csv_columns_are_those_asked_for_in_that_order(client, auth, seeded):
    _, body = get(
        client, auth, "/api/invoices/export?format=csv&columns=invoice_number,id,amount&billing_status=pending"
    )
    rows = csv_rows(body)
    assert rows[0] == ["Número Factura", "ID", "Monto (USD)"]
    with seeded.app_context():
        expected = db.session.execute(
            select(Invoice.invoice_number, Invoice.id, Invoice.amount)
            .where(Invoice.billing_status == "pending")
            .order_by(Invoice.id.desc())
        ).all()
    assert rows[1:] == [[number, str(ident), str(amount)] for number, ident, amount in expected]
    assert len(rows) > 2


def test_xlsx_columns_and_english_headings(client, auth, seeded):
    _, body = get(client, auth, "/api/ots/export?format=xlsx&lang=en&columns=status,ot_number")
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    assert [cell.value for cell in sheet[1]] == ["Status", "OT number"]
    assert sheet.max_column == 2 and sheet.max_row == 31
    assert sheet.auto_filter.ref == "A1:B31"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("columns=id,amount,secret_column", "'secret_column'"),
        ("columns=id,id", "more than once"),
        ("columns=id,,amount", "empty column name"),
        ("columns=id&columns=amount", "more than once"),
    ],
)
def test_a_bad_column_list_is_a_400_naming_it(client, auth, seeded, query, words):
    for fmt in ("csv", "xlsx"):
        response, _ = get(client, auth, f"/api/invoices/export?format={fmt}&{query}", status=400)
        error = response.get_json()["error"]
        assert error["parameter"] == "columns" and words in error["message"], error


def test_the_select_fetches_only_the_columns_asked_for():
    definition = EXPORTS["invoices"].localised("es", "UTC").with_columns(["id", "amount"])
    sql = str(definition.select([]).compile()).split(" FROM ")[0]
    assert "invoices.amount" in sql and "invoices.id" in sql
    for absent in ("notes", "clients.name", "vessel", "created_at", "CASE"):
        assert absent not in sql, absent


def test_timestamps_are_written_in_app_timezone_and_the_file_name_says_so(app, client, auth):
    """A row created at 15:00 UTC was created at 09:00 in San Salvador: that is what both files show."""
    with app.app_context():
        provider = Provider(name="P", nit="1", type="otro")
        db.session.add(provider)
        db.session.flush()
        db.session.add(
            Invoice(
                invoice_number="TZ-1",
                provider_id=provider.id,
                cost_type="OTRO",
                amount=1,
                issue_date=dt.date(2026, 11, 27),
                created_at=dt.datetime(2026, 11, 27, 15, 0, 0),
            )
        )
        db.session.commit()
    response, body = get(client, auth, "/api/invoices/export?format=csv&columns=created_at,issue_date")
    assert csv_rows(body)[1] == ["2026-11-27 09:00:00-06:00", "2026-11-27"]  # dates stay as they are
    assert response.headers["Content-Disposition"].endswith('-America-El_Salvador.csv"')
    response, body = get(client, auth, "/api/invoices/export?format=xlsx&columns=created_at")
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    assert abs(sheet["A2"].value - dt.datetime(2026, 11, 27, 9, 0)) < dt.timedelta(milliseconds=1)
    assert sheet["A2"].value.tzinfo is None
    assert response.headers["Content-Disposition"].endswith('-America-El_Salvador.xlsx"')

    app.config["APP_TIMEZONE"] = "Asia/Kolkata"
    _, body = get(client, auth, "/api/invoices/export?format=csv&columns=created_at")
    assert csv_rows(body)[1] == ["2026-11-27 20:30:00+05:30"]


def test_the_cli_takes_columns_too(app, runner, seeded, tmp_path):
    out = tmp_path / "narrow.csv"
    result = runner.invoke(args=["export", "invoices", "--format", "csv", "--columns", "id,amount", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert csv_rows(out.read_bytes())[0] == ["ID", "Monto (USD)"]
    bad = runner.invoke(args=["export", "invoices", "--columns", "id,nope", "-o", str(out)])
    assert bad.exit_code != 0 and "'nope'" in bad.output
