"""The OT import on the team's own workbooks: headers, dates, several files, sources, conflicts. Both databases."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.imports import team_sheet
from app.models import Client, ClientResolution, History, ImportedFile, Ot, Provider
from app.shipping_codes import split_containers

TEAM_HEADER = [
    "OT",
    "CONSIGNATARIO",
    "NAVIERA",
    "No. Doc Master",
    "HOUSE",
    "Número CNTR",
    "ETA",
    "ATRAQUE",
    "Barco y Viaje",
    "EXPRESS RELEASE",
    "CONTRA ENTREGA",
    "ESTATUS",
    "ALERTA",
]


@pytest.fixture
def names(seeded) -> dict[str, str]:
    with seeded.app_context():
        clients = list(db.session.scalars(select(Client.name).order_by(Client.id).limit(2)))
        carrier = db.session.scalar(select(Provider.name).where(Provider.type == "naviera").limit(1))
    return {"client": clients[0], "other": clients[1], "carrier": carrier}


def workbook(path: Path, rows: list[list], sheet: str = "IMPORT 2025", extra_sheets: dict | None = None) -> Path:
    """A workbook as the team writes it: a merged title row and a blank row above the header."""
    book = openpyxl.Workbook()
    main = book.active
    main.title = sheet
    main.append(["REPORTE DE IMPORTACIONES 2025"])
    main.merge_cells("A1:F1")
    main.append([])
    main.append(TEAM_HEADER)
    for row in rows:
        main.append(row)
    for name, extra_rows in (extra_sheets or {}).items():
        other = book.create_sheet(name)
        for row in extra_rows:
            other.append(row)
    book.save(path)
    return path


def post(client, auth, paths: list[Path], query: str = "", decisions: dict | None = None):
    data: dict = {}
    if decisions is not None:
        data["decisions"] = json.dumps(decisions)
    data["file"] = [(io.BytesIO(path.read_bytes()), path.name) for path in paths]
    return client.post(f"/api/ots/import{query}", data=data, headers=auth)


def get_ot(app, number: str) -> Ot | None:
    with app.app_context():
        found = db.session.execute(select(Ot).where(Ot.ot_number == number)).scalar_one_or_none()
        if found is not None:
            assert found.client is not None  # loaded now: Ot.client_name reads it after expunge_all
        db.session.expunge_all()
        return found


def ot_rows(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            select(Ot.ot_number, Ot.client_id, Ot.status, Ot.vessel, Ot.operativo).order_by(Ot.id)
        )
        return [tuple(row) for row in rows]


def row(ot: str, client: str, **cells) -> list:
    values = dict.fromkeys(TEAM_HEADER)
    values.update({"OT": ot, "CONSIGNATARIO": client})
    for key, value in cells.items():
        values[key] = value
    return [values[name] for name in TEAM_HEADER]


def test_the_team_sheet_is_read_as_the_team_writes_it(seeded, client, auth, names, tmp_path):
    path = workbook(
        tmp_path / "REPORTE IMPORT 2025 ANA MARTÍNEZ.xlsx",
        [
            row(
                "25ot 1001",
                names["client"].upper(),
                NAVIERA=names["carrier"].upper(),
                **{
                    "No. Doc Master": "maeu123456789",
                    "HOUSE": "HBL1, HBL2",
                    "Número CNTR": "mscu 123456-7 / TGHU7654321, MSCU1234567",
                    "ETA": dt.datetime(2025, 3, 14),
                    "ATRAQUE": "16/03/2025",
                    "Barco y Viaje": "MSC GÜLSÜN 245W",
                    "EXPRESS RELEASE": "TELEX",
                    "CONTRA ENTREGA": 45735,
                    "ESTATUS": "En Tránsito",
                    "ALERTA": "ignorada",
                },
            ),
            row("25OT1002", names["client"], ETA="N/A", ATRAQUE="PENDIENTE", ESTATUS="ALGO RARO"),
            [None] * len(TEAM_HEADER),
        ],
    )
    response = post(client, auth, [path])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["rows"], body["created"], body["updated"]) == (2, 2, 0)
    (report,) = body["files"]
    assert (report["sheet"], report["operativo"], report["operation_type"]) == (
        "IMPORT 2025",
        "Ana Martínez",
        "importacion",
    )
    assert report["ignored_columns"] == ["ALERTA"]
    assert [(w["row"], w["column"]) for w in body["warnings"]] == [(5, "status")]
    first = get_ot(seeded, "25OT1001")
    assert first.client_name == names["client"]
    assert first.carrier_id is not None
    assert (first.master_bl, first.house_bls) == ("MAEU123456789", ["HBL1", "HBL2"])
    assert first.containers == ["MSCU1234567", "TGHU7654321"]
    assert (first.eta, first.arrival_date) == (dt.date(2025, 3, 14), dt.date(2025, 3, 16))
    assert (first.express_release_type, first.express_release_date) == ("TELEX", None)
    assert first.cash_on_delivery_date == dt.date(2025, 3, 19)  # Excel serial 45735
    assert (first.status, first.operativo, first.operation_type) == ("transito", "Ana Martínez", "importacion")
    assert first.field_sources["vessel"] == "import"
    second = get_ot(seeded, "25OT1002")
    assert (second.eta, second.arrival_date, second.status) == (None, None, "transito")


def test_several_files_in_one_request_and_the_same_file_twice(seeded, client, auth, names, tmp_path):
    one = workbook(tmp_path / "REPORTE IMPORT 2025 ANA.xlsx", [row("25OT2001", names["client"])])
    two = workbook(tmp_path / "REPORTE IMPORT 2025 JOSE.xlsx", [row("25OT2002", names["other"])])
    copy = tmp_path / "copia.xlsx"
    copy.write_bytes(one.read_bytes())
    response = post(client, auth, [one, two, copy])
    assert response.status_code == 200, response.get_json()
    statuses = [(f["filename"], f["status"]) for f in response.get_json()["files"]]
    assert statuses == [(one.name, "imported"), (two.name, "imported"), ("copia.xlsx", "already_imported")]
    assert get_ot(seeded, "25OT2001").operativo == "Ana" and get_ot(seeded, "25OT2002").operativo == "Jose"
    again = post(client, auth, [two])
    assert again.get_json()["files"][0]["status"] == "already_imported"
    with seeded.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportedFile)) == 2


def test_unchanged_rows_are_skipped_by_their_hash(seeded, client, auth, names, tmp_path):
    rows = [row("25OT3001", names["client"], ESTATUS="PUERTO"), row("25OT3002", names["client"])]
    post(client, auth, [workbook(tmp_path / "a.xlsx", rows)])
    rows[1] = row("25OT3002", names["client"], ESTATUS="CERRADO")
    body = post(client, auth, [workbook(tmp_path / "b.xlsx", [*rows, row("25OT3003", names["client"])])]).get_json()
    assert (body["created"], body["updated"], body["unchanged"]) == (1, 1, 1)
    assert get_ot(seeded, "25OT3002").status == "cerrada"


def test_a_value_entered_by_hand_is_never_overwritten(seeded, client, auth, names, tmp_path):
    post(client, auth, [workbook(tmp_path / "a.xlsx", [row("25OT4001", names["client"], **{"Barco y Viaje": "A 1W"})])])
    with seeded.app_context():
        found = db.session.execute(select(Ot).where(Ot.ot_number == "25OT4001")).scalar_one()
        found.vessel = "CORREGIDO A MANO"
        found.field_sources = {**found.field_sources, "vessel": "manual"}
        db.session.commit()
    later = [row("25OT4001", names["client"], ESTATUS="BODEGA", **{"Barco y Viaje": "B 2W"})]
    body = post(client, auth, [workbook(tmp_path / "b.xlsx", later)]).get_json()
    assert (body["updated"], body["kept_manual"]) == (1, 1)
    updated = get_ot(seeded, "25OT4001")
    assert (updated.vessel, updated.status) == ("CORREGIDO A MANO", "bodega")
    assert updated.field_sources["vessel"] == "manual"


def test_client_conflict_is_asked_then_decided_and_remembered(seeded, client, auth, names, tmp_path):
    post(client, auth, [workbook(tmp_path / "a.xlsx", [row("25OT5001", names["client"])])])
    spelled = "DISTRIBUIDORA NUEVA S.A."
    path = workbook(tmp_path / "b.xlsx", [row("25OT5001", spelled, ESTATUS="PUERTO")])
    before = ot_rows(seeded)

    dry = post(client, auth, [path], "?dry_run=1&create_clients=1")
    assert dry.status_code == 200
    (conflict,) = dry.get_json()["conflicts"]
    assert conflict == {
        "id": "25OT5001/client",
        "ot_number": "25OT5001",
        "field": "client",
        "current": names["client"],
        "new": spelled,
        "file": "b.xlsx",
        "sheet": "IMPORT 2025",
        "row": 4,
    }
    undecided = post(client, auth, [path])
    assert undecided.status_code == 409
    assert undecided.get_json()["error"]["code"] == "import_conflicts"
    assert ot_rows(seeded) == before

    kept = post(client, auth, [path], decisions={"25OT5001/client": "keep"})
    assert kept.status_code == 200, kept.get_json()
    found = get_ot(seeded, "25OT5001")
    assert (found.client_name, found.status) == (names["client"], "puerto")
    with seeded.app_context():
        assert db.session.scalar(select(ClientResolution.normalized_name)) == team_sheet.normalise(spelled)
    # Later imports resolve the spelling by themselves: no conflict, no new client.
    later = post(client, auth, [workbook(tmp_path / "c.xlsx", [row("25OT5002", spelled)])]).get_json()
    assert later["conflicts"] == [] and get_ot(seeded, "25OT5002").client_name == names["client"]


def test_use_new_takes_the_files_client(seeded, client, auth, names, tmp_path):
    post(client, auth, [workbook(tmp_path / "a.xlsx", [row("25OT6001", names["client"])])])
    response = post(client, auth, [workbook(tmp_path / "b.xlsx", [row("25OT6001", names["other"])])],
                    decisions={"25OT6001/client": "new"})  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert get_ot(seeded, "25OT6001").client_name == names["other"]


def test_conflicts_between_files_and_on_the_operativo(seeded, client, auth, names, tmp_path):
    one = workbook(tmp_path / "REPORTE IMPORT 2025 ANA.xlsx", [row("25OT7001", names["client"])])
    two = workbook(tmp_path / "REPORTE IMPORT 2025 JOSE.xlsx", [row("25OT7001", names["other"])])
    body = post(client, auth, [one, two], "?dry_run=1").get_json()
    found = {(c["id"], c["current"], c["new"], c["file"]) for c in body["conflicts"]}
    assert found == {
        ("25OT7001/client", names["client"], names["other"], two.name),
        ("25OT7001/operativo", "Ana", "Jose", two.name),
    }
    decided = post(client, auth, [one, two], decisions={"25OT7001/client": "keep", "25OT7001/operativo": "new"})
    assert decided.status_code == 200, decided.get_json()
    found = get_ot(seeded, "25OT7001")
    assert (found.client_name, found.operativo) == (names["client"], "Jose")


def test_one_bad_file_writes_nothing_and_names_file_sheet_and_row(seeded, client, auth, names, tmp_path):
    good = workbook(tmp_path / "good.xlsx", [row("25OT8001", names["client"])])
    bad = workbook(tmp_path / "bad.xlsx", [row("25OT8002", "NADIE S.A."), row("OT 8003!", names["client"])])
    before = ot_rows(seeded)
    response = post(client, auth, [good, bad])
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert {(e["file"], e["sheet"], e["row"], e["column"]) for e in error["errors"]} == {
        ("bad.xlsx", "IMPORT 2025", 4, "client"),
        ("bad.xlsx", "IMPORT 2025", 5, "ot_number"),
    }
    assert error["created"] == 0
    assert ot_rows(seeded) == before
    with seeded.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportedFile)) == 0


def test_create_clients_makes_the_missing_ones(seeded, client, auth, tmp_path):
    path = workbook(tmp_path / "a.xlsx", [row("25OT9001", "Cliente Nuevo S.A. de C.V.")])
    assert post(client, auth, [path]).status_code == 422
    response = post(client, auth, [path], "?create_clients=1")
    assert response.status_code == 200, response.get_json()
    assert get_ot(seeded, "25OT9001").client_name == "Cliente Nuevo S.A. de C.V."


def test_sheet_by_name_by_parameter_or_the_largest_with_a_warning(seeded, client, auth, names, tmp_path):
    extra = {"Notas": [["nada"]]}
    named = workbook(tmp_path / "a.xlsx", [row("25OT9101", names["client"])], extra_sheets=extra)
    assert post(client, auth, [named]).get_json()["files"][0]["sheet"] == "IMPORT 2025"

    odd = workbook(tmp_path / "b.xlsx", [row("25OT9102", names["client"])], sheet="Hoja1", extra_sheets=extra)
    body = post(client, auth, [odd], "?dry_run=1").get_json()
    assert body["files"][0]["sheet"] == "Hoja1"
    assert "largest" in body["warnings"][0]["message"] and "Notas" in body["warnings"][0]["message"]

    missing = post(client, auth, [odd], "?sheet=Resumen")
    assert missing.status_code == 400
    assert "Hoja1, Notas" in missing.get_json()["error"]["message"]


def test_decisions_must_come_before_the_files_and_be_well_formed(seeded, client, auth, names, tmp_path):
    path = workbook(tmp_path / "a.xlsx", [row("25OT9201", names["client"])])
    late_path = workbook(tmp_path / "late.xlsx", [row("25OT9202", names["client"])])
    late = client.post(
        "/api/ots/import",
        data={"file": (io.BytesIO(path.read_bytes()), path.name), "decisions": "{}"},
        headers=auth,
    )
    # Werkzeug's test client writes fields before files, so send a hand-built body for the late case.
    assert late.status_code == 200
    boundary = "XyZ"
    part = f"--{boundary}\r\nContent-Disposition: form-data; name="
    body = (
        f'{part}"file"; filename="a.xlsx"\r\n\r\n'.encode()
        + path.read_bytes()
        + f'\r\n{part}"decisions"\r\n\r\n{{}}\r\n--{boundary}--\r\n'.encode()
    )
    response = client.post(
        "/api/ots/import",
        data=body.replace(path.read_bytes(), late_path.read_bytes()),
        headers={**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400
    assert "before the files" in response.get_json()["error"]["message"]
    assert get_ot(seeded, "25OT9202") is None, "refused before the commit: nothing imported"
    bad = post(client, auth, [path], decisions={"25OT9201/client": "maybe"})
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "decisions"


def test_unknown_query_parameter_is_refused(seeded, client, auth, names, tmp_path):
    path = workbook(tmp_path / "a.xlsx", [row("25OT9301", names["client"])])
    response = post(client, auth, [path], "?dryrun=1")
    assert response.status_code == 400 and response.get_json()["error"]["parameter"] == "dryrun"


def test_cli_imports_several_files_with_decisions(seeded, runner, names, tmp_path):
    one = workbook(tmp_path / "REPORTE IMPORT 2025 ANA.xlsx", [row("25OT9401", names["client"])])
    assert runner.invoke(args=["import", "ots", str(one)]).exit_code == 0
    two = workbook(tmp_path / "b.xlsx", [row("25OT9401", names["other"]), row("25OT9402", names["other"])])
    dry = runner.invoke(args=["import", "ots", str(two), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert '"id": "25OT9401/client"' in dry.output
    assert "would create 1, would update 1" in dry.output
    failed = runner.invoke(args=["import", "ots", str(two)])
    assert failed.exit_code == 1 and "need a decision" in failed.output
    decisions = tmp_path / "decisions.json"
    decisions.write_text(json.dumps({"25OT9401/client": "new"}))
    done = runner.invoke(args=["import", "ots", str(two), "--decisions", str(decisions)])
    assert done.exit_code == 0, done.output
    assert get_ot(seeded, "25OT9401").client_name == names["other"]


def test_sample_workbook_imports_cleanly(seeded, runner, client, auth, tmp_path):
    result = runner.invoke(args=["import", "sample", str(tmp_path), "--rows", "40", "--operativo", "Ana Martínez"])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path.name == "REPORTE IMPORT 2025 ANA MARTÍNEZ.xlsx"
    body = post(client, auth, [path]).get_json()
    assert body["rows"] == 40 and body["created"] + body["updated"] + body["unchanged"] == 40
    assert body["conflicts"] == []
    assert body["files"][0]["operativo"] == "Ana Martínez"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (dt.datetime(2025, 3, 14, 0, 0), dt.date(2025, 3, 14)),
        ("14/03/2025", dt.date(2025, 3, 14)),
        ("14/03/25", dt.date(2025, 3, 14)),
        ("14-03-2025", dt.date(2025, 3, 14)),
        ("2025-03-14", dt.date(2025, 3, 14)),
        ("14/03/2025 00:00:00", dt.date(2025, 3, 14)),
        (45730, dt.date(2025, 3, 14)),
        (45730.0, dt.date(2025, 3, 14)),
        ("N/A", None),
        ("pendiente", None),
        ("Contra Entrega", None),
        ("", None),
    ],
)
def test_dates_in_the_forms_the_team_writes(raw, expected):
    assert team_sheet.parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["31/02/2025", "mañana", 12, "2025/13/01"])
def test_not_a_date(raw):
    with pytest.raises(team_sheet.NotADate):
        team_sheet.parse_date(raw)


@pytest.mark.parametrize(
    ("raw", "codes", "leftover"),
    [
        ("mscu 123456-7", ["MSCU1234567"], ""),
        ("MSCU1234567/TGHU7654321; mscu1234567", ["MSCU1234567", "TGHU7654321"], ""),
        ("MSCU1234567\nTGHU7654321", ["MSCU1234567", "TGHU7654321"], ""),
        ("POR ASIGNAR", [], "PORASIGNAR"),
        ("MSCU123", [], "MSCU123"),
    ],
)
def test_containers_are_normalised_wherever_they_come_from(raw, codes, leftover):
    assert split_containers(raw) == (codes, leftover)


def test_headers_are_matched_without_accents_case_or_punctuation():
    header = team_sheet.find_header(3, ["O.T.", "Consignatario", "NÚMERO CNTR", "E.T.A.", "Otra cosa"])
    assert header.columns == {"ot_number": 0, "client": 1, "containers": 2, "eta": 3}
    assert header.ignored == ["Otra cosa"]
    assert team_sheet.find_header(1, ["REPORTE DE IMPORTACIONES 2025"]) is None


def test_export_workbooks_are_recognised_by_name_or_columns():
    assert team_sheet.facts_from_filename("REPORTE EXPORT 2025 JOSÉ RAMÍREZ.xlsx") == team_sheet.FileFacts(
        "José Ramírez", "exportacion"
    )
    assert team_sheet.operation_from_columns(["OT", "SHIPPER", "ETD"]) == "exportacion"
    assert team_sheet.operation_from_columns(["OT", "CONSIGNATARIO"]) == "importacion"


def test_every_imported_create_and_update_leaves_history_and_a_dry_run_none(seeded, client, auth, names, tmp_path):
    first = [row("25OT6001", names["client"], **{"Barco y Viaje": "A 1W"})]
    assert post(client, auth, [workbook(tmp_path / "dry.xlsx", first)], query="?dry_run=1").status_code == 200
    with seeded.app_context():
        assert db.session.scalar(select(func.count()).select_from(History)) == 0
    post(client, auth, [workbook(tmp_path / "a.xlsx", first)])
    later = [row("25OT6001", names["client"], **{"Barco y Viaje": "B 2W"})]
    post(client, auth, [workbook(tmp_path / "b.xlsx", later)])
    ot = get_ot(seeded, "25OT6001")
    trail = client.get(f"/api/ots/{ot.id}/history", headers=auth).get_json()["items"]
    assert [item["action"] for item in trail] == ["import:create", "import:update"]
    assert trail[0]["changes"]["ot_number"] == [None, "25OT6001"]
    assert trail[0]["changes"]["vessel"] == [None, "A 1W"]
    assert trail[1]["changes"] == {"vessel": ["A 1W", "B 2W"]}
    assert trail[1]["actor"] == trail[0]["actor"] != "system"


def test_rows_go_through_the_write_apis_rules(seeded, client, auth, names, tmp_path, monkeypatch):
    """The write API's rule decides, not the import's own clean-up: with the import's cut loosened, a vessel
    longer than the API allows is a row error naming file, row and column, and nothing is written."""
    monkeypatch.setitem(team_sheet.TEXT_LIMITS, "vessel", 500)
    rows = [row("25OT6101", names["client"]), row("25OT6102", names["client"], **{"Barco y Viaje": "V" * 130})]
    response = post(client, auth, [workbook(tmp_path / "long.xlsx", rows)])
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["error"]["errors"]
    assert [(e["file"], e["row"], e["column"], e["message"]) for e in errors] == [
        ("long.xlsx", 5, "vessel", "at most 120 characters")
    ]
    assert get_ot(seeded, "25OT6101") is None
