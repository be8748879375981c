"""``POST /api/invoices/intake``: DTE JSON and PDF read, every matching level, duplicates, review, assign.

Documents are synthetic (app/intake/samples.py, tests/helpers/pdfs.py). Every test runs on SQLite and,
with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.intake.samples import dte_bytes
from app.models import Client, ExtractionPattern, Invoice, Ot, Provider, StoredFile
from tests.helpers.pdfs import image_only_pdf, inflating_pdf, many_pages_pdf, text_pdf

NIT = "0614-150390-101-2"


@pytest.fixture
def world(app: Flask) -> dict[str, int]:
    """A naviera (30 credit days) and three OTs whose references overlap on purpose."""
    with app.app_context():
        client = Client(name="Cliente Demo")
        naviera = Provider(name="Naviera Demo", nit=NIT, type="naviera", credit_days=30)
        other = Provider(name="Transportes Demo", nit="0614-010180-102-3", type="transportista", credit_days=0)
        db.session.add_all([client, naviera, other])
        db.session.flush()
        ots = [
            Ot(ot_number="26OT0001", client_id=client.id, master_bl="MEDUAB111111", containers=["MSCU1234567"]),
            Ot(ot_number="26OT0002", client_id=client.id, master_bl="MEDUAB222222", containers=["TGHU7654321"]),
            Ot(ot_number="26OT0003", client_id=client.id, master_bl="MEDUAB333333", containers=["MSCU1234567"]),
        ]
        db.session.add_all(ots)
        db.session.commit()
        return {"naviera": naviera.id, "other": other.id, **{ot.ot_number: ot.id for ot in ots}}


def post(client: FlaskClient, auth: dict[str, str], *files: tuple[bytes, str], query: str = "") -> Any:
    data = {"file": [(io.BytesIO(content), name) for content, name in files]}
    return client.post(f"/api/invoices/intake{query}", data=data, headers=auth, content_type="multipart/form-data")


def one(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    files = response.get_json()["files"]
    assert len(files) == 1
    return files[0]


def invoice(app: Flask, invoice_id: int) -> Invoice:
    with app.app_context():
        row = db.session.get(Invoice, invoice_id)
        db.session.expunge(row)
        return row


# DTE JSON -----------------------------------------------------------------------------------------


def test_dte_creates_the_invoice_matched_by_ot_number(app: Flask, client: FlaskClient, auth, world) -> None:
    body = dte_bytes(observations="Flete OT 26OT0002, contenedor TGHU 765432-1", total=1130.5)
    report = one(post(client, auth, (body, "dte.json"), query="?cost_type=flete"))
    assert report["status"] == "created" and report["kind"] == "dte"
    assert report["read"]["invoice_number"] == "DTE-01-M001P001-000000000000001"
    assert report["read"]["total"] == "1130.50" and report["read"]["issuer_nit"] == "06141503901012"
    assert report["provider"]["id"] == world["naviera"]
    assert report["references"]["ot_numbers"] == ["26OT0002"]
    assert report["references"]["containers"] == ["TGHU7654321"]
    assert report["match"] == {
        "ot_id": world["26OT0002"],
        "ot_number": "26OT0002",
        "method": "ot_number",
        "confidence": "0.95",
    }
    assert report["needs_review"] is False and report["review_reasons"] == []
    row = invoice(app, report["invoice"]["id"])
    assert row.ot_id == world["26OT0002"] and row.assignment_method == "ot_number"
    assert row.match_confidence == Decimal("0.950") and row.needs_review is False
    assert row.amount == Decimal("1130.50") and row.cost_type == "FLETE"
    assert row.issue_date == dt.date(2026, 3, 15) and row.due_date == dt.date(2026, 4, 14)  # + 30 credit days
    assert row.control_number == "DTE-01-M001P001-000000000000001" and row.generation_code
    assert row.document_id == report["document"]["id"]
    assert row.detected_references["ot_numbers"] == ["26OT0002"]


@pytest.mark.parametrize(
    ("references", "method", "confidence", "ot", "review"),
    [
        ({"observations": "OT 26OT0003"}, "ot_number", "0.95", "26OT0003", False),
        ({"observations": "MBL: MEDUAB222222 CNTR TGHU7654321"}, "mbl_container", "0.90", "26OT0002", False),
        # MSCU1234567 is on OTs 1 and 3; with the MBL of 3 the pair decides.
        (
            {"appendix": [{"campo": "bl", "etiqueta": "B/L", "valor": "MEDUAB333333"}], "lines": ["MSCU1234567"]},
            "mbl_container",
            "0.90",
            "26OT0003",
            False,
        ),
        ({"lines": ["Flete según B/L medu-ab111111"]}, "master_bl", "0.75", "26OT0001", False),
        ({"observations": "contenedor TGHU 765432-1"}, "container", "0.60", "26OT0002", True),
    ],
    ids=["ot_number", "mbl_container", "mbl_container_disambiguates", "master_bl", "container"],
)
def test_every_matching_level(client, auth, world, references, method, confidence, ot, review) -> None:
    report = one(post(client, auth, (dte_bytes(**references), "dte.json")))
    assert report["status"] == "created"
    assert report["match"]["method"] == method and report["match"]["confidence"] == confidence
    assert report["match"]["ot_id"] == world[ot]
    assert report["needs_review"] is review
    if review:
        assert any("below 0.70" in reason for reason in report["review_reasons"])


def test_a_container_on_two_ots_matches_the_first_and_asks_for_review(client, auth, world) -> None:
    report = one(post(client, auth, (dte_bytes(observations="CNTR MSCU1234567"), "dte.json")))
    assert report["match"]["method"] == "container" and report["match"]["ot_number"] == "26OT0001"
    assert report["needs_review"] is True
    assert any("several OTs" in reason and "26OT0003" in reason for reason in report["review_reasons"])


def test_no_reference_leaves_the_invoice_unassigned_in_the_review_queue(client, auth, world) -> None:
    report = one(post(client, auth, (dte_bytes(observations="servicio"), "dte.json")))
    assert report["status"] == "created" and report["match"] is None and report["needs_review"] is True
    queue = client.get("/api/invoices?needs_review=true", headers=auth).get_json()["items"]
    assert [item["id"] for item in queue] == [report["invoice"]["id"]]
    assert queue[0]["assignment_method"] == "unassigned" and queue[0]["match_confidence"] is None


def test_nit_is_found_with_or_without_dashes(client, auth, world) -> None:
    report = one(post(client, auth, (dte_bytes(nit="06141503901012", observations="26OT0001"), "a.json")))
    assert report["provider"]["id"] == world["naviera"]


def test_an_unknown_issuer_is_stored_not_created_and_no_provider_is_invented(app, client, auth, world) -> None:
    report = one(post(client, auth, (dte_bytes(nit="0614-999999-999-9", name="Nuevo Proveedor"), "x.json")))
    assert report["status"] == "not_created" and report["invoice"] is None and report["needs_review"] is True
    assert report["document"]["id"] is not None
    assert any("unknown issuer NIT 06149999999999 (Nuevo Proveedor)" in r for r in report["review_reasons"])
    with app.app_context():
        assert db.session.query(Provider).count() == 2
        assert db.session.query(StoredFile).count() == 1 and db.session.query(Invoice).count() == 0


def test_provider_id_overrides_the_nit_and_a_different_issuer_is_flagged(client, auth, world) -> None:
    body = dte_bytes(observations="OT 26OT0001")
    report = one(post(client, auth, (body, "a.json"), query=f"?provider_id={world['other']}"))
    assert report["status"] == "created" and report["provider"]["id"] == world["other"]
    assert report["needs_review"] is True and "is not Transportes Demo's" in report["review_reasons"][0]


def test_a_duplicate_number_is_reported_with_the_existing_invoice_never_stored_twice(app, client, auth, world) -> None:
    first = one(post(client, auth, (dte_bytes(observations="26OT0001"), "a.json")))
    # Same provider and control number, different bytes (another generation code): still a duplicate.
    second = one(post(client, auth, (dte_bytes(observations="26OT0001 reenviado"), "b.json")))
    assert second["status"] == "duplicate" and second["invoice"] is None
    assert second["duplicate_of"]["invoice_id"] == first["invoice"]["id"]
    # The very same file again: the document dedupes by sha256 and the invoice by number.
    third = post(client, auth, (dte_bytes(observations="26OT0001", generation="ABC"), "c.json"))
    again = one(post(client, auth, (dte_bytes(observations="26OT0001", generation="ABC"), "c.json")))
    assert one(third)["status"] == "duplicate" and again["document"]["duplicate"] is True
    with app.app_context():
        assert db.session.query(Invoice).count() == 1


def test_same_generation_code_is_a_duplicate_even_under_another_provider(client, auth, world) -> None:
    first = one(post(client, auth, (dte_bytes(generation="GEN-1", observations="26OT0001"), "a.json")))
    other = dte_bytes(generation="GEN-1", control="DTE-01-X", observations="x")
    second = one(post(client, auth, (other, "b.json"), query=f"?provider_id={world['other']}"))
    assert second["status"] == "duplicate" and second["duplicate_of"]["invoice_id"] == first["invoice"]["id"]


def test_several_files_in_one_request_each_get_a_report(client, auth, world) -> None:
    files = [
        (dte_bytes(control="DTE-01-A", observations="26OT0001"), "a.json"),
        (dte_bytes(control="DTE-01-B", observations="MBL MEDUAB222222"), "b.json"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "photo.png"),
        (text_pdf(["FACTURA No. F-77", "Fecha: 02/03/2026", "Total a pagar: $ 250.00", "OT 26OT0003"]), "c.pdf"),
    ]
    answer = post(client, auth, *files, query=f"?provider_id={world['naviera']}").get_json()
    assert [f["status"] for f in answer["files"]] == ["created", "created", "rejected", "created"]
    assert answer["files"][2]["error"]["code"] == "unsupported_type"
    assert answer["counts"] == {"created": 3, "rejected": 1}


def test_dry_run_reads_and_matches_but_stores_nothing(app, client, auth, world) -> None:
    report = one(post(client, auth, (dte_bytes(observations="26OT0001"), "a.json"), query="?dry_run=1"))
    assert report["status"] == "would_create" and report["match"]["ot_number"] == "26OT0001"
    assert report["document"]["id"] is None
    with app.app_context():
        assert db.session.query(StoredFile).count() == 0 and db.session.query(Invoice).count() == 0


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?bogus=1", "bogus"),
        ("?provider_id=abc", "provider_id"),
        ("?provider_id=999999", "provider_id"),
        ("?cost_type=NOPE", "cost_type"),
        ("?dry_run=maybe", "dry_run"),
        ("?cost_type=FLETE&cost_type=OTRO", "cost_type"),
    ],
)
def test_bad_parameters_are_400_naming_them(client, auth, world, query, parameter) -> None:
    response = post(client, auth, (dte_bytes(), "a.json"), query=query)
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == parameter


def test_intake_needs_a_token(client, world) -> None:
    assert post(client, {}, (dte_bytes(), "a.json")).status_code == 401


# Hostile JSON ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b'{"a": ' * 5000 + b"1" + b"}" * 5000, "nested deeper"),
        (
            b'{"identificacion": {"numeroControl": "X", "fecEmi": "2026-01-01"}, "resumen": {"totalPagar": '
            + b"9" * 50_000
            + b"}}",
            "not found",
        ),
        (b'{"identificacion": {"numeroControl": NaN}}', "not valid JSON"),
        (b'{"identificacion": ', "not valid JSON"),
        (b'{"hello": "world"}', "not a DTE"),
        (b"[1, 2, 3]", "not a DTE"),
        (b'{"identificacion": []}', "not a DTE"),
    ],
    ids=["deep-arrays", "deep-objects", "huge-number", "nan", "truncated", "other-json", "array", "wrong-type"],
)
def test_hostile_json_is_stored_and_reported_never_crashes(client, auth, world, body, reason) -> None:
    report = one(post(client, auth, (body, "x.json"), query=f"?provider_id={world['naviera']}"))
    assert report["status"] == "not_created" and report["needs_review"] is True
    assert report["document"]["id"] is not None
    assert any(reason in r for r in report["review_reasons"]), report["review_reasons"]


def test_wrong_types_and_missing_keys_are_reported_as_missing(client, auth, world) -> None:
    document = json.loads(dte_bytes())
    document["identificacion"]["numeroControl"] = {"x": 1}
    document["identificacion"]["fecEmi"] = 20260101
    document["resumen"] = "mucho"
    del document["emisor"]
    report = one(
        post(client, auth, (json.dumps(document).encode(), "x.json"), query=f"?provider_id={world['naviera']}")
    )
    assert report["status"] == "not_created"
    assert report["read"]["missing"] == [
        "identificacion.numeroControl",
        "identificacion.fecEmi",
        "resumen.totalPagar",
        "emisor.nit",
    ]
    assert any("invoice_number, issue_date, total" in r for r in report["review_reasons"])


def test_a_json_over_the_size_cap_is_stored_not_parsed(app, client, auth, world) -> None:
    app.config["INTAKE_JSON_MAX_KB"] = 1
    report = one(post(client, auth, (dte_bytes(observations="x" * 2000), "big.json")))
    assert report["status"] == "not_created" and "larger than 1 KB" in report["review_reasons"][0]


def test_wrapped_dte_json_and_amount_as_text(client, auth, world) -> None:
    document = {"dteJson": json.loads(dte_bytes(total="1,234.50", observations="26OT0001"))}
    report = one(post(client, auth, (json.dumps(document).encode(), "w.json")))
    assert report["status"] == "created" and report["read"]["total"] == "1234.50"


# PDFs -----------------------------------------------------------------------------------------------


INVOICE_LINES = [
    "NAVIERA DEMO S.A. DE C.V.   NIT: 0614-150390-101-2",
    "FACTURA No. F001-000123",
    "Fecha de emision: 15/03/2026",
    "Sub-total: 900.00",
    "Total a pagar: US$ 1,017.00",
    "Master B/L: MEDUAB222222",
    "Contenedor: TGHU 765432-1",
]


def test_pdf_text_layer_is_read_by_the_default_patterns_and_matched(app, client, auth, world) -> None:
    report = one(post(client, auth, (text_pdf(INVOICE_LINES, ["Página 2"]), "factura.pdf")))
    assert report["status"] == "created" and report["kind"] == "pdf"
    read = report["read"]
    assert read["invoice_number"] == "F001-000123" and read["issue_date"] == "2026-03-15"
    assert read["total"] == "1017.00" and read["pages_read"] == 2
    assert report["provider"]["id"] == world["naviera"]  # found by the NIT printed on the page
    assert report["match"]["method"] == "mbl_container" and report["match"]["ot_number"] == "26OT0002"
    row = invoice(app, report["invoice"]["id"])
    assert row.due_date == dt.date(2026, 4, 14) and row.control_number is None


def test_provider_patterns_come_before_generic_and_defaults(app, client, auth, world) -> None:
    with app.app_context():
        db.session.add_all(
            [
                ExtractionPattern(provider_id=None, field="invoice_number", pattern=r"Ref\. (\S+)", priority=1),
                ExtractionPattern(
                    provider_id=world["naviera"], field="invoice_number", pattern=r"Doc#(\w+)", priority=50
                ),
                ExtractionPattern(provider_id=world["naviera"], field="ot_numbers", pattern=r"Job (\d{4})", priority=1),
                ExtractionPattern(provider_id=world["naviera"], field="total", pattern=r"(", priority=1, active=True),
            ]
        )
        db.session.add(Ot(ot_number="7777", client_id=db.session.query(Client).first().id))
        db.session.commit()
    lines = ["Doc#ABC9", "Ref. GEN-1", "Fecha: 2026-03-01", "Total: 10.00", "Job 7777"]
    report = one(post(client, auth, (text_pdf(lines), "p.pdf"), query=f"?provider_id={world['naviera']}"))
    assert report["read"]["invoice_number"] == "ABC9"  # the provider's pattern, despite a lower priority number
    assert report["match"]["ot_number"] == "7777"
    # The broken pattern (written to the database by hand) is skipped, never fatal.
    assert report["read"]["total"] == "10.00"
    other = one(post(client, auth, (text_pdf(lines), "q.pdf"), query=f"?provider_id={world['other']}"))
    assert other["read"]["invoice_number"] == "GEN-1"  # another provider: the generic pattern


def test_a_pdf_without_text_is_stored_and_flagged_no_ocr(app, client, auth, world) -> None:
    report = one(post(client, auth, (image_only_pdf(), "scan.pdf"), query=f"?provider_id={world['naviera']}"))
    assert report["status"] == "not_created" and report["needs_review"] is True
    assert report["review_reasons"] == ["no text layer (scanned?)"]
    assert report["document"]["id"] is not None


def test_pdf_without_invoice_number_is_not_created_and_says_what_is_missing(client, auth, world) -> None:
    report = one(
        post(
            client,
            auth,
            (text_pdf(["Estado de cuenta", "Total: 5.00 OT 26OT0001"]), "e.pdf"),
            query=f"?provider_id={world['naviera']}",
        )
    )
    assert report["status"] == "not_created"
    assert "not found in the document: invoice_number, issue_date" in report["review_reasons"][0]
    assert report["match"]["ot_number"] == "26OT0001"  # what it would match, for the person reviewing


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: many_pages_pdf(30_000), "unreadable PDF"),  # a flat page tree larger than pypdf's array cap
        (lambda: inflating_pdf(100), "unreadable PDF"),  # 100 MB of inflated spaces
        (lambda: b"%PDF-1.7\n" + bytes(range(256)) * 40, "unreadable PDF"),
        (lambda: text_pdf(INVOICE_LINES)[:300], "unreadable PDF"),
    ],
    ids=["30k-pages", "flate-bomb", "garbage", "truncated"],
)
def test_hostile_pdfs_are_stored_and_reported(client, auth, world, make, reason) -> None:
    report = one(post(client, auth, (make(), "h.pdf"), query=f"?provider_id={world['naviera']}"))
    assert report["status"] == "not_created" and report["needs_review"] is True
    assert report["document"]["id"] is not None
    assert any(reason in r for r in report["review_reasons"]), report["review_reasons"]


def test_many_pages_read_only_up_to_the_cap(app, client, auth, world) -> None:
    app.config["INTAKE_PDF_MAX_PAGES"] = 3
    report = one(post(client, auth, (many_pages_pdf(2000), "long.pdf"), query=f"?provider_id={world['naviera']}"))
    assert report["read"]["pages_read"] == 3 and report["read"]["page_count"] == 2000
    assert "read 3 of 2000 pages" in report["warnings"]


def test_characters_are_capped(app, client, auth, world) -> None:
    app.config["INTAKE_PDF_MAX_CHARS"] = 1000
    lines = ["x" * 90] * 40 + ["FACTURA No. LATE-1"]
    report = one(post(client, auth, (text_pdf(lines), "c.pdf"), query=f"?provider_id={world['naviera']}"))
    assert report["read"]["characters"] <= 1000 and report["read"]["invoice_number"] is None
    assert "text cut at 1000 characters" in report["warnings"]


def test_a_slow_pattern_is_skipped_with_a_warning(app, client, auth, world) -> None:
    with app.app_context():
        db.session.add(ExtractionPattern(provider_id=None, field="master_bl", pattern=r"(a+)+$", priority=1))
        db.session.commit()
    app.config["INTAKE_PATTERN_TIMEOUT_MS"] = 50
    lines = ["a" * 5000 + "!", *INVOICE_LINES]
    report = one(post(client, auth, (text_pdf(lines), "s.pdf"), query=f"?provider_id={world['naviera']}"))
    assert report["status"] == "created"
    assert any("timed out" in warning for warning in report["warnings"]), (report["warnings"], report["read"])


# Assign / unassign ----------------------------------------------------------------------------------


def test_manual_assign_and_unassign(app, client, auth, world) -> None:
    report = one(post(client, auth, (dte_bytes(observations="CNTR TGHU7654321"), "a.json")))
    invoice_id = report["invoice"]["id"]
    assert report["needs_review"] is True
    answer = client.post(f"/api/invoices/{invoice_id}/assign", json={"ot_id": world["26OT0003"]}, headers=auth)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["ot_id"] == world["26OT0003"] and body["assignment_method"] == "manual"
    assert body["match_confidence"] == "1.000" and body["needs_review"] is False
    answer = client.post(f"/api/invoices/{invoice_id}/unassign", headers=auth)
    body = answer.get_json()
    assert answer.status_code == 200 and body["ot_id"] is None and body["assignment_method"] == "unassigned"
    assert body["match_confidence"] is None and body["needs_review"] is True


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"ot_id": "1"}, 400, "invalid_body"),
        ({"ot_id": True}, 400, "invalid_body"),
        ({}, 400, "invalid_body"),
        ({"ot_id": 1, "x": 2}, 400, "invalid_body"),
        ({"ot_id": 999999}, 422, "unknown_ot"),
    ],
)
def test_assign_validates_the_body(client, auth, world, payload, status, code) -> None:
    report = one(post(client, auth, (dte_bytes(observations="26OT0001"), "a.json")))
    answer = client.post(f"/api/invoices/{report['invoice']['id']}/assign", json=payload, headers=auth)
    assert answer.status_code == status and answer.get_json()["error"]["code"] == code


def test_assign_an_unknown_invoice_is_404(client, auth, world) -> None:
    assert (
        client.post("/api/invoices/999999/assign", json={"ot_id": world["26OT0001"]}, headers=auth).status_code == 404
    )
    assert client.post("/api/invoices/999999/unassign", headers=auth).status_code == 404


def test_assign_works_with_a_user_token(client, user_token, auth, world) -> None:
    report = one(post(client, auth, (dte_bytes(observations="26OT0001"), "a.json")))
    headers = {"Authorization": f"Bearer {user_token}"}
    answer = client.post(
        f"/api/invoices/{report['invoice']['id']}/assign", json={"ot_id": world["26OT0002"]}, headers=headers
    )
    assert answer.status_code == 200


def test_sample_documents_from_the_demo_data_are_taken_in_and_matched(seeded, runner, client, auth, tmp_path) -> None:
    """``flask intake sample`` (the README's example): the DTE matches by OT number, the PDF by MBL and container."""
    result = runner.invoke(args=["intake", "sample", str(tmp_path)])
    assert result.exit_code == 0, result.output
    paths = [tmp_path / line for line in (name.split("/")[-1] for name in result.output.split())]
    data = {"file": [(io.BytesIO(path.read_bytes()), path.name) for path in paths]}
    response = client.post("/api/invoices/intake?cost_type=FLETE", data=data, headers=auth)
    assert response.status_code == 200, response.get_json()
    files = response.get_json()["files"]
    assert [f["status"] for f in files] == ["created", "created"]
    assert [(f["match"]["method"], f["match"]["confidence"]) for f in files] == [
        ("ot_number", "0.95"),
        ("mbl_container", "0.90"),
    ]
    assert files[0]["match"]["ot_number"] == files[1]["match"]["ot_number"]
    assert not any(f["needs_review"] for f in files)


def test_a_created_invoice_leaves_a_history_row_with_its_values(app, client, auth, world) -> None:
    report = one(post(client, auth, (dte_bytes(observations="OT 26OT0002"), "dte.json"), query="?cost_type=flete"))
    history = client.get(f"/api/invoices/{report['invoice']['id']}/history", headers=auth).get_json()["items"]
    assert [row["action"] for row in history] == ["intake:create"]
    assert history[0]["changes"]["amount"] == [None, "1130.00"]
    assert history[0]["changes"]["ot_id"] == [None, world["26OT0002"]]


def test_values_the_write_api_would_refuse_are_not_created_and_named(app, client, auth, world) -> None:
    """The intake validates with the write API's rules: a control character in the number is named, not stored."""
    report = one(post(client, auth, (dte_bytes(control="DTE-01-\x07M001"), "dte.json")))
    assert report["status"] == "not_created" and report["needs_review"] is True
    assert "invoice_number: must not contain control characters" in report["review_reasons"], report
    with app.app_context():
        assert db.session.query(Invoice).count() == 0
        assert db.session.query(StoredFile).count() == 1  # the document is kept, as for any file not created
