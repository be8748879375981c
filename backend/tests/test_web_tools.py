"""The documents, intake, OT import and operator pages through the test client: roles, CSRF, forms without JavaScript.

Every test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (the ``app`` fixture). The
real-browser side (scripts, progress, the chart) is test_web_browser.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time

import pytest
import werkzeug.formparser
from sqlalchemy import func, select

from app.extensions import db
from app.imports.sample_workbook import write_sample_workbook
from app.imports.staging import STAGING_MAX_AGE, staging_root, sweep
from app.intake.samples import dte_bytes, text_pdf
from app.models import Invoice, Ot, Provider, StoredFile
from tests.web_helpers import BROWSER, TOKEN, signed_in, text

PAGES = {"/documents": "operativo", "/invoices/intake": "jefe_operaciones", "/imports": "jefe_operaciones",
         "/operator": "admin"}
ROLES = ("operativo", "finanzas", "jefe_operaciones", "admin")


def token_of(client, path: str) -> str:
    match = TOKEN.search(text(client.get(path, headers=BROWSER)))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def pdf(marker: str) -> bytes:
    return text_pdf([f"documento {marker}"])


@pytest.fixture
def forbid_form_parsing(monkeypatch):
    """Call it once signed in: from then on, Werkzeug parsing (and spooling) a form body fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("Werkzeug's form parser ran on a streamed form")

    return lambda: monkeypatch.setattr(werkzeug.formparser.FormDataParser, "parse", forbidden)


@pytest.mark.parametrize("path", sorted(PAGES))
@pytest.mark.parametrize("role", ROLES)
def test_each_page_is_open_from_its_role_up_and_a_403_page_below(app, path, role):
    client = signed_in(app, role)
    response = client.get(path, headers=BROWSER)
    allowed = ROLES.index(role) >= ROLES.index(PAGES[path])
    assert response.status_code == (200 if allowed else 403)
    assert response.mimetype == "text/html"


def test_signed_out_pages_go_to_login(client):
    for path in PAGES:
        response = client.get(path, headers=BROWSER)
        assert response.status_code == 303 and response.headers["Location"].startswith("/login?next=")


def test_pages_are_spanish_by_default_and_english_on_request(app):
    spanish = signed_in(app, "admin", language="es")
    assert "Documentos guardados" in text(spanish.get("/documents", headers=BROWSER))
    assert "Ver la vista previa" in text(spanish.get("/imports", headers=BROWSER))
    assert "Chequeo de memoria" in text(spanish.get("/operator", headers=BROWSER))
    page = text(spanish.get("/invoices/intake", headers=BROWSER))
    assert "Ingresar" in page and '"needs_review": "Requiere revisi' in page  # the script's strings too
    english = signed_in(app, "jefe_operaciones", language="en")
    assert "Stored documents" in text(english.get("/documents", headers=BROWSER))


def test_documents_without_javascript_store_each_file_and_show_duplicates(app, forbid_form_parsing):
    client = signed_in(app, "jefe_operaciones")
    files = [pdf("uno"), pdf("dos")]
    forbid_form_parsing()
    form = {"csrf_token": token_of(client, "/documents"),
            "file": [(io.BytesIO(data), f"doc{n}.pdf") for n, data in enumerate(files)]}
    page = text(client.post("/documents", data=form, headers=BROWSER))
    assert page.count('data-result="stored"') == 2
    for data in files:
        assert hashlib.sha256(data).hexdigest() in page
    form["file"] = [(io.BytesIO(data), f"again{n}.pdf") for n, data in enumerate(files)]
    again = text(client.post("/documents", data=form, headers=BROWSER))
    assert again.count('data-result="duplicate"') == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StoredFile)) == 2


def test_documents_form_skips_a_refused_file_and_stores_the_next(app):
    client = signed_in(app, "jefe_operaciones")
    form = {"csrf_token": token_of(client, "/documents"),
            "file": [(io.BytesIO(b"MZ\x90\x00 not a document"), "setup.exe"), (io.BytesIO(pdf("tres")), "ok.pdf")]}
    page = text(client.post("/documents", data=form, headers=BROWSER))
    assert 'data-result="error"' in page and 'data-result="stored"' in page


def test_streamed_forms_refuse_a_missing_or_wrong_csrf_token_and_store_nothing(app):
    client = signed_in(app, "admin")
    for token in (None, "forged"):
        for path in ("/documents", "/invoices/intake", "/imports"):
            form = {"file": (io.BytesIO(pdf("x")), "x.pdf")}
            if token:
                form["csrf_token"] = token
            response = client.post(path, data=form, headers=BROWSER)
            assert response.status_code == 400, path
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StoredFile)) == 0
        assert not staging_root(app.config["STORAGE_DIR"]).exists() or not any(
            staging_root(app.config["STORAGE_DIR"]).iterdir()
        )


def test_the_csrf_header_works_for_the_pages_scripts(app):
    client = signed_in(app, "jefe_operaciones")
    token = token_of(client, "/documents")
    response = client.post("/documents", data={"file": (io.BytesIO(pdf("h")), "h.pdf")},
                           headers={**BROWSER, "X-CSRFToken": token})
    assert response.status_code == 200 and 'data-result="stored"' in text(response)


def test_an_operativo_cannot_post_any_form_even_with_a_valid_token(app):
    client = signed_in(app, "operativo")
    token = token_of(client, "/documents")
    for path in ("/documents", "/invoices/intake", "/imports"):
        response = client.post(path, data={"csrf_token": token, "file": (io.BytesIO(pdf("o")), "o.pdf")},
                               headers=BROWSER)
        assert response.status_code == 403, path
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StoredFile)) == 0


def test_documents_list_pages_by_keyset_like_the_api(app, auth):
    with app.app_context():
        for n in range(30):
            db.session.add(StoredFile(sha256=f"{n:064x}", original_filename=f"f{n:02d}.pdf",
                                      content_type="application/pdf", size=n, storage_key=f"k{n}"))
        db.session.commit()
    client = signed_in(app, "operativo")
    first = text(client.get("/documents", headers=BROWSER))
    assert first.count("data-document-id=") == 25 and "f29.pdf" in first and "f04.pdf" not in first
    older = re.search(r'href="(/documents\?cursor=[^"]+)" rel="next"', first).group(1)
    second = text(client.get(older.replace("&amp;", "&"), headers=BROWSER))
    assert second.count("data-document-id=") == 5 and "f00.pdf" in second
    api = app.test_client().get("/api/uploads?limit=25", headers=auth).get_json()
    assert [item["filename"] for item in api["items"]][:2] == ["f29.pdf", "f28.pdf"] and api["next"]
    assert app.test_client().get("/api/uploads?page=2", headers=auth).status_code == 400


def test_intake_without_javascript_creates_and_matches(seeded, forbid_form_parsing):
    client = signed_in(seeded, "jefe_operaciones")
    forbid_form_parsing()
    with seeded.app_context():
        ot, carrier = db.session.execute(
            select(Ot, Provider).join(Provider, Ot.carrier_id == Provider.id).order_by(Ot.id.desc()).limit(1)
        ).one()
        ot_number, carrier_id, nit = ot.ot_number, carrier.id, carrier.nit
    document = dte_bytes(control="DTE-01-M001P001-000000000000777", nit=nit, observations=f"OT {ot_number}")
    form = {"csrf_token": token_of(client, "/invoices/intake"), "provider_id": str(carrier_id), "cost_type": "flete",
            "file": (io.BytesIO(document), "dte.json")}
    response = client.post("/invoices/intake", data=form, headers=BROWSER)
    page = text(response)
    assert response.status_code == 200 and 'data-result="created"' in page and ot_number in page
    assert f'<option value="{carrier_id}" selected>' in page  # the choices stay chosen
    with seeded.app_context():
        number = "DTE-01-M001P001-000000000000777"
        invoice = db.session.scalars(select(Invoice).where(Invoice.invoice_number == number)).one()
        assert invoice.cost_type == "FLETE" and invoice.ot.ot_number == ot_number


def test_intake_with_an_unknown_cost_type_keeps_the_choices_and_says_why(seeded):
    client = signed_in(seeded, "jefe_operaciones")
    form = {"csrf_token": token_of(client, "/invoices/intake"), "cost_type": "NOPE",
            "file": (io.BytesIO(dte_bytes()), "dte.json")}
    response = client.post("/invoices/intake", data=form, headers=BROWSER)
    assert response.status_code == 400 and "cost_type: expected one of" in text(response)
    with seeded.app_context():
        assert db.session.scalar(select(func.count()).select_from(StoredFile)) == 0


def _conflicting_workbooks(app, directory):
    """Two sample workbooks; the second's first row is the first's first OT with another client."""
    import openpyxl

    with app.app_context():
        first = write_sample_workbook(directory, "Ana Martínez", rows=4, seed=1)
        second = write_sample_workbook(directory, "Carlos Hernández", rows=4, seed=2)
        ot = db.session.scalars(select(Ot).where(Ot.operativo == "Ana Martínez").order_by(Ot.id)).first()
        other = db.session.scalars(select(Ot).where(Ot.client_id != ot.client_id)).first().client.name
        ot_number, client_name = ot.ot_number, ot.client.name
    book = openpyxl.load_workbook(second)
    book["IMPORT 2025"].cell(row=4, column=1, value=ot_number)
    book["IMPORT 2025"].cell(row=4, column=2, value=other.upper())
    book.save(second)
    return [first, second], ot_number, client_name, other


def _stage(client, paths):
    form = {"csrf_token": token_of(client, "/imports"),
            "file": [(io.BytesIO(path.read_bytes()), path.name) for path in paths]}
    return client.post("/imports", data=form, headers=BROWSER)


def test_import_preview_writes_nothing_and_confirm_applies_the_decisions(seeded, tmp_path, monkeypatch):
    paths, ot_number, old_client, new_client = _conflicting_workbooks(seeded, tmp_path)
    client = signed_in(seeded, "jefe_operaciones")
    with seeded.app_context():
        before = db.session.scalar(select(func.count()).select_from(Ot))
    with monkeypatch.context() as patch:
        patch.setattr(werkzeug.formparser.FormDataParser, "parse", lambda *a, **k: pytest.fail("form parsed"))
        staged = _stage(client, paths)
    assert staged.status_code == 303
    preview_url = staged.headers["Location"]
    preview = text(client.get(preview_url, headers=BROWSER))
    assert f'data-conflict="{ot_number}/client"' in preview and f'data-conflict="{ot_number}/operativo"' in preview
    assert "REPORTE IMPORT 2025 ANA MARTÍNEZ.xlsx" in preview
    with seeded.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ot)) == before

    forged = client.post(preview_url, data={"action": "confirm"}, headers=BROWSER)
    assert forged.status_code == 400, "the confirmation is a form like any other: no CSRF token, no import"
    token = TOKEN.search(preview).group(1)
    partial = client.post(preview_url, data={"csrf_token": token, "action": "confirm",
                                             f"decision:{ot_number}/client": "new"}, headers=BROWSER)
    assert partial.status_code == 409
    kept = text(partial)
    assert "need a decision" in kept
    assert re.search(rf'name="decision:{ot_number}/client" value="new" checked', kept), "the choice made is kept"
    with seeded.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ot)) == before

    ids = re.findall(r'data-conflict="([^"]+)"', preview)  # the sample's new rows clash between the files too
    decisions = {f"decision:{id_}": "new" if id_ == f"{ot_number}/client" else "keep" for id_ in ids}
    done = client.post(preview_url, data={"csrf_token": token, "action": "confirm", **decisions}, headers=BROWSER)
    assert done.status_code == 200 and 'id="import-done"' in text(done)
    with seeded.app_context():
        ot = db.session.scalars(select(Ot).where(Ot.ot_number == ot_number)).one()
        assert ot.client.name == new_client != old_client and ot.operativo == "Ana Martínez"
        assert db.session.scalar(select(func.count()).select_from(Ot)) > before
    assert client.get(preview_url, headers=BROWSER).status_code == 404, "the staging is gone once imported"


def test_a_staged_import_belongs_to_whoever_staged_it_and_can_be_discarded(seeded, tmp_path):
    paths, *_ = _conflicting_workbooks(seeded, tmp_path)
    owner = signed_in(seeded, "jefe_operaciones")
    location = _stage(owner, paths).headers["Location"]
    other = signed_in(seeded, "admin")
    assert other.get(location, headers=BROWSER).status_code == 404
    token = token_of(owner, location)
    discarded = owner.post(location, data={"csrf_token": token, "action": "discard"}, headers=BROWSER)
    assert discarded.status_code == 303 and discarded.headers["Location"] == "/imports"
    assert owner.get(location, headers=BROWSER).status_code == 404
    assert owner.get("/imports/..%2F..%2Fetc", headers=BROWSER).status_code == 404


def test_the_script_gets_the_preview_address_as_json_and_errors_as_json(seeded, tmp_path):
    paths, *_ = _conflicting_workbooks(seeded, tmp_path)
    client = signed_in(seeded, "jefe_operaciones")
    token = token_of(client, "/imports")
    form = {"file": [(io.BytesIO(paths[0].read_bytes()), paths[0].name)]}
    answer = client.post("/imports", data=form, headers={"Accept": "application/json", "X-CSRFToken": token})
    assert answer.status_code == 200 and answer.get_json()["location"].startswith("/imports/")
    wrong = client.post("/imports", data={"file": (io.BytesIO(pdf("p")), "p.pdf")},
                        headers={"Accept": "application/json", "X-CSRFToken": token})
    assert wrong.status_code == 415 and wrong.get_json()["error"]["code"] == "unsupported_type"


def test_a_refused_workbook_keeps_the_form_choices(seeded):
    client = signed_in(seeded, "jefe_operaciones")
    form = {"csrf_token": token_of(client, "/imports"), "sheet": "DATOS", "create_clients": "1",
            "file": (io.BytesIO(pdf("p")), "p.pdf")}
    response = client.post("/imports", data=form, headers=BROWSER)
    page = text(response)
    assert response.status_code == 415 and 'value="DATOS"' in page and "checked" in page


def test_an_import_with_row_errors_lists_them_with_file_and_row(seeded, tmp_path):
    csv = b"OT,CONSIGNATARIO\n25OT 12/34,CLIENTE QUE NO EXISTE\n"
    client = signed_in(seeded, "jefe_operaciones")
    form = {"csrf_token": token_of(client, "/imports"), "file": (io.BytesIO(csv), "malo.csv")}
    preview = text(client.get(client.post("/imports", data=form, headers=BROWSER).headers["Location"], headers=BROWSER))
    assert "malo.csv" in preview and 'value="confirm"' not in preview
    assert re.search(r"<td>malo.csv</td><td></td><td class=\"num\">2</td>", preview)


def test_old_stagings_are_swept(app, tmp_path):
    root = staging_root(str(tmp_path))
    (root / "old").mkdir(parents=True)
    (root / "new").mkdir()
    import os

    past = time.time() - STAGING_MAX_AGE - 10
    os.utime(root / "old", (past, past))
    assert sweep(str(tmp_path)) == 1
    assert [p.name for p in root.iterdir()] == ["new"]


def test_operator_page_renders_the_memory_report_and_retirements(app):
    from ops.retirements import append_retirement, retirements_path

    append_retirement(retirements_path(app.config["STORAGE_DIR"]), 4242, "memory", 17, rss_mb=401.5)
    client = signed_in(app, "admin")
    page = text(client.get("/operator", headers=BROWSER))
    assert re.search(r'data-status="(EXCELLENT|GOOD|WARNING|CRITICAL)"', page)
    assert "<td>4242</td><td>over the memory limit</td>" in page
    assert 'id="memory-chart"' in page and "js/operator.js" in page
    blob = re.search(r'<script type="application/json" id="messages">(.*?)</script>', page, re.S)
    messages = json.loads(blob.group(1))
    assert set(messages["statuses"]) == {"EXCELLENT", "GOOD", "WARNING", "CRITICAL", "UNKNOWN"}
