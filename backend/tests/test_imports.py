"""OT import guards: hostile and broken workbooks are refused before any row is read; nothing is left behind.

The team-workbook rules (headers, dates, conflicts, sources) are in ``test_imports_team.py``.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from app.extensions import db
from app.imports.spreadsheets import xlsx_rows
from app.models import Client, Ot

HEADER = ["ot_number", "client", "carrier", "master_bl", "containers", "vessel", "eta", "status"]


@pytest.fixture
def client_name(seeded) -> str:
    with seeded.app_context():
        return db.session.scalar(select(Client.name).order_by(Client.id).limit(1))


def snapshot(app) -> list[tuple]:
    """Every OT as a tuple: what "nothing changed" is compared against."""
    with app.app_context():
        rows = db.session.execute(select(Ot.ot_number, Ot.client_id, Ot.status, Ot.vessel, Ot.eta).order_by(Ot.id))
        result = [tuple(row) for row in rows]
        db.session.commit()
        return result


def ot(app, number: str) -> Ot | None:
    with app.app_context():
        found = db.session.execute(select(Ot).where(Ot.ot_number == number)).scalar_one_or_none()
        db.session.expunge_all()
        return found


def temp_files(app) -> list[Path]:
    temp = Path(app.config["STORAGE_DIR"]) / "tmp"
    return list(temp.iterdir()) if temp.exists() else []


def post_file(client, auth, path: Path, query: str = ""):
    with open(path, "rb") as file:
        return client.post(f"/api/ots/import{query}", data={"file": (file, path.name)}, headers=auth)


def write_xlsx(path: Path, rows: list[list]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def write_csv(path: Path, lines: list[str], delimiter: str = ",", bom: bool = False) -> Path:
    text = "\r\n".join(delimiter.join(line.split("|")) for line in lines) + "\r\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="OTs" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)


def sheet_xml(rows: list[list[str]], dimension: str | None = None, prolog: str = "") -> str:
    """A worksheet with inline strings, written by hand so tests control every byte (dimension, DTD)."""
    cells = []
    for r, row in enumerate(rows, start=1):
        values = "".join(
            f'<c r="{get_column_letter(c)}{r}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
            for c, value in enumerate(row, start=1)
        )
        cells.append(f'<row r="{r}">{values}</row>')
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'{prolog}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData>{''.join(cells)}</sheetData></worksheet>"
    )


def write_raw_xlsx(path: Path, sheet: str, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def test_wrong_declared_dimensions_are_ignored(seeded, client, auth, client_name, tmp_path):
    """A bogus <dimension> neither inflates three rows into a million nor hides rows past it."""
    rows = [["ot_number", "client"]] + [[f"OT-DIM-{n}", client_name] for n in range(3)]
    huge = write_raw_xlsx(tmp_path / "huge.xlsx", sheet_xml(rows, dimension="A1:XFD1048576"))
    assert [len(row) for _, row in xlsx_rows(huge)] == [2, 2, 2, 2], "4 rows of 2 cells, not 1,048,576 x 16,384"
    assert post_file(client, auth, huge).get_json()["created"] == 3

    rows = [["ot_number", "client"]] + [[f"OT-DIM-{n}", client_name] for n in range(3, 7)]
    small = write_raw_xlsx(tmp_path / "small.xlsx", sheet_xml(rows, dimension="A1:A2"))
    assert post_file(client, auth, small).get_json()["created"] == 4


def test_reader_values_match_openpyxl_normal_mode(tmp_path):
    """The compact shared-strings table changes memory, not values (rich text, escapes, repeats)."""
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    path = tmp_path / "values.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Roldán & Cía.", "  spaced  ", "a_x005F_x0041_b", 12345, 2.5, dt.datetime(2026, 5, 1), None])
    sheet.append([CellRichText([TextBlock(InlineFont(b=True), "bold"), " plain"]), "", "Roldán & Cía.", "ñ" * 300])
    workbook.save(path)

    def trimmed(rows):  # normal mode pads every row to the widest one; read_only does not
        return [tuple(row[: max((i + 1 for i, v in enumerate(row) if v is not None), default=0)]) for row in rows]

    expected = trimmed(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    assert trimmed(row for _, row in xlsx_rows(path)) == expected
    assert expected[1][0] == "bold plain"


def _assert_rejected(app, response, fragment: str, before: list[tuple]) -> None:
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "unreadable_spreadsheet"
    assert fragment in error["message"]
    assert snapshot(app) == before
    assert temp_files(app) == []


def test_xml_entity_bomb_is_refused(seeded, client, auth, tmp_path):
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
        + "]>"
    )
    sheet = sheet_xml([["ot_number", "client"], ["&lol9;", "x"]], prolog=laughs).replace("&amp;lol9;", "&lol9;")
    before = snapshot(seeded)
    response = post_file(client, auth, write_raw_xlsx(tmp_path / "laughs.xlsx", sheet))
    _assert_rejected(seeded, response, "EntitiesForbidden", before)


def test_zip_bomb_is_refused_before_parsing(seeded, client, auth, tmp_path):
    path = tmp_path / "bomb.xlsx"
    write_raw_xlsx(path, sheet_xml([["ot_number", "client"]]))
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive, archive.open("xl/media/zeros.bin", "w") as entry:
        for _ in range(64):
            entry.write(bytes(1024 * 1024))
    assert path.stat().st_size < 200_000, "64 MB of zeros compress to a tiny file"
    before = snapshot(seeded)
    _assert_rejected(seeded, post_file(client, auth, path), "compression ratio", before)


def test_archive_with_too_many_entries_is_refused(seeded, client, auth, tmp_path):
    extra = {f"xl/junk/{n}.xml": b"" for n in range(1500)}
    path = write_raw_xlsx(tmp_path / "entries.xlsx", sheet_xml([["ot_number", "client"]]), extra)
    _assert_rejected(seeded, post_file(client, auth, path), "1505 entries", snapshot(seeded))


def test_malformed_xlsx_is_a_clear_400(seeded, client, auth, client_name, tmp_path):
    path = tmp_path / "broken.xlsx"
    write_raw_xlsx(path, "<worksheet><sheetData><row><c>unclosed")
    _assert_rejected(seeded, post_file(client, auth, path), "no element found", snapshot(seeded))


def test_truncated_xlsx_is_not_taken_for_a_workbook(seeded, client, auth, client_name, tmp_path):
    """Half a zip has no directory: nothing says it is a workbook (415, as for any other non-workbook zip)."""
    path = tmp_path / "broken.xlsx"
    rows = [["ot_number", "client"]] + [[f"OT-T-{n}", client_name] for n in range(2000)]
    write_raw_xlsx(path, sheet_xml(rows))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = snapshot(seeded)
    response = post_file(client, auth, path)
    assert response.status_code == 415, response.get_json()
    assert "directory cannot be read" in response.get_json()["error"]["message"]
    assert snapshot(seeded) == before
    assert temp_files(seeded) == []


def test_import_accepts_only_spreadsheets(seeded, client, auth, tmp_path):
    pdf = tmp_path / "ots.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(1000))
    response = post_file(client, auth, pdf)
    assert response.status_code == 415
    assert temp_files(seeded) == []


def test_import_requires_a_token(client):
    response = client.post("/api/ots/import", data={"file": (io.BytesIO(b"a,b\n"), "x.csv")})
    assert response.status_code == 401


@pytest.mark.parametrize("word", ["on", "yes", "TRUE"])
def test_dry_run_takes_the_same_words_as_the_environment(seeded, client, auth, client_name, tmp_path, word):
    path = write_csv(tmp_path / "ots.csv", ["ot_number|client", f"OT-WORD-1|{client_name}"])
    before = snapshot(seeded)
    response = post_file(client, auth, path, f"?dry_run={word}")
    assert response.status_code == 200
    assert response.get_json()["dry_run"] is True
    assert snapshot(seeded) == before


def test_dry_run_with_an_unknown_word_is_a_400_naming_it(seeded, client, auth, client_name, tmp_path):
    path = write_csv(tmp_path / "ots.csv", ["ot_number|client", f"OT-WORD-2|{client_name}"])
    response = post_file(client, auth, path, "?dry_run=maybe")
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == "dry_run"


# ---------------------------------------------------------------- workbooks with several sheets


def write_sheets(path: Path, sheets: dict[str, list[list]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def three_sheets(tmp_path: Path, client_name: str) -> Path:
    return write_sheets(
        tmp_path / "book.xlsx",
        {
            "Notas": [["nota"], ["not OTs at all"]],
            "OTs": [["ot_number", "client"], ["OT-SHEET-1", client_name], ["OT-SHEET-2", client_name]],
            "Resumen": [["total"], [2]],
        },
    )


def test_several_sheets_the_teams_by_name_else_the_largest_with_a_warning(seeded, client, auth, client_name, tmp_path):
    """Never the first sheet silently: the team's sheet by its name, else the largest, saying so."""
    named = post_file(client, auth, three_sheets(tmp_path, client_name), "?dry_run=1").get_json()
    assert (named["files"][0]["sheet"], named["created"], named["warnings"]) == ("OTs", 2, [])
    unnamed = write_sheets(
        tmp_path / "hojas.xlsx",
        {
            "Notas": [["nota"], ["not OTs at all"]],
            "Hoja2": [["ot_number", "client"]] + [[f"OT-H-{n}", client_name] for n in range(3)],
            "Resumen": [["total"], [3]],
        },
    )
    before = snapshot(seeded)
    body = post_file(client, auth, unnamed, "?dry_run=1").get_json()
    assert body["files"][0]["sheet"] == "Hoja2" and body["created"] == 3
    (warning,) = body["warnings"]
    assert "largest" in warning["message"] and "Notas, Resumen" in warning["message"]
    assert "sheet=" in warning["message"]
    assert snapshot(seeded) == before
    assert temp_files(seeded) == []


def test_sheet_parameter_picks_the_sheet(seeded, client, auth, client_name, tmp_path):
    response = post_file(client, auth, three_sheets(tmp_path, client_name), "?sheet=2")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 2
    assert ot(seeded, "OT-SHEET-1") is not None


@pytest.mark.parametrize("sheet", ["4", "0", "abc", "-1"])
def test_a_bad_sheet_parameter_is_400(seeded, client, auth, client_name, tmp_path, sheet):
    before = snapshot(seeded)
    response = post_file(client, auth, three_sheets(tmp_path, client_name), f"?sheet={sheet}")
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert (error["code"], error["parameter"]) == ("invalid_parameter", "sheet")
    assert snapshot(seeded) == before
    assert temp_files(seeded) == []


def test_one_sheet_needs_no_choice_and_csv_accepts_sheet_1(seeded, client, auth, client_name, tmp_path):
    single = write_xlsx(tmp_path / "one.xlsx", [["ot_number", "client"], ["OT-ONE-1", client_name]])
    assert post_file(client, auth, single).status_code == 200
    csv_file = write_csv(tmp_path / "one.csv", ["ot_number,client", f"OT-ONE-2,{client_name}"])
    assert post_file(client, auth, csv_file, "?sheet=2").status_code == 400
    assert post_file(client, auth, csv_file, "?sheet=1").status_code == 200


def test_cli_takes_sheet_and_names_the_sheets_when_it_is_wrong(seeded, runner, client_name, tmp_path):
    path = three_sheets(tmp_path, client_name)
    refused = runner.invoke(args=["import", "ots", str(path), "--sheet", "7"])
    assert refused.exit_code != 0
    assert "Notas, OTs, Resumen" in refused.output
    done = runner.invoke(args=["import", "ots", str(path), "--sheet", "2"])
    assert done.exit_code == 0, done.output
    assert "created 2" in done.output
