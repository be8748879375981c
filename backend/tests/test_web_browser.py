"""Real-browser tests: Debian's Chromium under Playwright against a real gunicorn (fixtures in conftest.py).

One seeded server and one browser serve the whole session; every test has its own browser context,
so its own cookies. Tests that change data use records no other test reads.
"""

from __future__ import annotations

import hashlib
import json
import uuid

import openpyxl
import pytest
from sqlalchemy import select

from app.extensions import db
from app.imports.sample_workbook import write_sample_workbook
from app.intake.samples import dte_bytes, invoice_pdf, text_pdf
from app.models import Invoice, Ot, Provider, StoredFile
from tests.helpers.browser import ACCOUNTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.gunicorn]
RESULT_TIMEOUT = 30_000  # ms: a file's answer on a busy 2-core machine


def results(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(f"{selector} .upload-item", "items => items.map(i => i.dataset.result)")


def test_sign_in_through_the_form_opens_a_session(page, site):
    sign_in(page, site, "jefe_operaciones")
    page.goto(site.url("/api/session"))
    session = json.loads(page.inner_text("body"))
    assert session["via"] == "session"
    assert session["user"]["email"] == ACCOUNTS["jefe_operaciones"].email


def test_two_pdfs_upload_with_progress_are_listed_and_come_back_as_duplicates(page, site, tmp_path):
    marker = uuid.uuid4().hex
    files = []
    for name in ("primera", "segunda"):
        path = tmp_path / f"{name}-{marker[:8]}.pdf"
        path.write_bytes(text_pdf([f"{name} {marker}", "documento de prueba"]))
        files.append(path)
    sign_in(page, site, "jefe_operaciones", "/documents")
    page.goto(site.url("/documents"))
    page.wait_for_selector("html[data-documents-ready]")

    page.set_input_files("#document-files", [str(path) for path in files])
    page.wait_for_function("document.querySelectorAll('#upload-results .upload-item[data-result]').length === 2",
                           timeout=RESULT_TIMEOUT)
    assert results(page, "#upload-results") == ["stored", "stored"]
    bars = page.eval_on_selector_all("#upload-results progress",
                                     "bars => bars.map(b => [b.value, Number(b.dataset.progressEvents || 0)])")
    assert all(value == 1 and events >= 1 for value, events in bars), bars
    status_text = page.inner_text("#upload-results")
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() in status_text

    page.reload()  # the list is the server's, not only what the script added
    listed = page.inner_text("#documents-table tbody")
    assert all(path.name in listed for path in files)

    page.wait_for_selector("html[data-documents-ready]")
    page.set_input_files("#document-files", [str(path) for path in files])
    page.wait_for_function("document.querySelectorAll('#upload-results .upload-item[data-result]').length === 2",
                           timeout=RESULT_TIMEOUT)
    assert results(page, "#upload-results") == ["duplicate", "duplicate"]
    with site.app().app_context():
        hashes = [hashlib.sha256(path.read_bytes()).hexdigest() for path in files]
        stored = db.session.scalars(select(StoredFile).where(StoredFile.sha256.in_(hashes))).all()
        assert len(stored) == 2, "the second upload stored no second copy"


def _intake_files(site, tmp_path):
    """A DTE JSON naming one OT's number and a PDF naming another OT's MBL and container, from their carriers."""
    with site.app().app_context():
        rows = db.session.execute(
            select(Ot, Provider)
            .join(Provider, Ot.carrier_id == Provider.id)
            .where(Ot.master_bl.is_not(None), Ot.containers.is_not(None))
            .order_by(Ot.id.desc())
            .limit(2)
        ).all()
        (dte_ot, dte_carrier), (pdf_ot, pdf_carrier) = rows
        marker = uuid.uuid4().hex[:10].upper()
        dte_path = tmp_path / f"dte-{dte_ot.ot_number}.json"
        dte_path.write_bytes(
            dte_bytes(control=f"DTE-01-M001P001-{marker}", issued="2026-11-20", total=1130.0, nit=dte_carrier.nit,
                      name=dte_carrier.name, observations=f"Flete maritimo OT {dte_ot.ot_number}")
        )
        pdf_path = tmp_path / f"factura-{pdf_ot.ot_number}.pdf"
        pdf_path.write_bytes(
            invoice_pdf(number=f"F-{marker}", issued="20/11/2026", total="1,250.75", provider=pdf_carrier.name,
                        nit=pdf_carrier.nit, master_bl=pdf_ot.master_bl, containers=pdf_ot.containers[:1])
        )
        return (dte_path, dte_ot.ot_number), (pdf_path, pdf_ot.ot_number)


def test_intake_of_a_pdf_and_a_dte_shows_each_matched_to_its_ot(page, site, tmp_path):
    (dte_path, dte_ot), (pdf_path, pdf_ot) = _intake_files(site, tmp_path)
    sign_in(page, site, "jefe_operaciones", "/invoices/intake")
    page.goto(site.url("/invoices/intake"))
    page.wait_for_selector("html[data-intake-ready]")
    page.select_option("#cost_type", "FLETE")
    page.set_input_files("#intake-files", [str(pdf_path), str(dte_path)])
    page.wait_for_function("document.querySelectorAll('#intake-results .upload-item[data-result]').length === 2",
                           timeout=RESULT_TIMEOUT)
    items = page.query_selector_all("#intake-results .upload-item")  # newest first: the DTE, then the PDF
    by_name = {item.query_selector(".upload-name").inner_text(): item for item in items}
    dte_item, pdf_item = by_name[dte_path.name], by_name[pdf_path.name]
    assert dte_item.get_attribute("data-result") == "created"
    assert pdf_item.get_attribute("data-result") == "created"
    assert dte_ot in dte_item.inner_text() and "95 %" in dte_item.inner_text()
    assert pdf_ot in pdf_item.inner_text() and "90 %" in pdf_item.inner_text()
    assert page.get_attribute("a[href='/invoices?needs_review=true']", "href")  # the review queue, one click away
    with site.app().app_context():
        created = db.session.scalars(select(Invoice).join(Invoice.ot).where(Ot.ot_number.in_([dte_ot, pdf_ot]),
                                                                            Invoice.cost_type == "FLETE")).all()
        assert {invoice.ot.ot_number for invoice in created} >= {dte_ot, pdf_ot}

    page.set_input_files("#intake-files", [str(dte_path)])  # the same DTE again: found, not created twice
    page.wait_for_function("document.querySelectorAll('#intake-results .upload-item[data-result]').length === 3",
                           timeout=RESULT_TIMEOUT)
    assert results(page, "#intake-results")[0] == "duplicate"


def _workbooks(site, tmp_path):
    """Ana's workbook, and Carlos's with its first row made one of Ana's OTs: a client and an operativo conflict."""
    with site.app().app_context():
        first = write_sample_workbook(tmp_path, "Ana Martínez", rows=6, seed=3)
        second = write_sample_workbook(tmp_path, "Carlos Hernández", rows=6, seed=4)
        anas = db.session.execute(
            select(Ot.ot_number).where(Ot.operativo == "Ana Martínez").order_by(Ot.id).limit(1)
        ).scalar_one()
        carlos = select(Ot).where(Ot.operativo == "Carlos Hernández").order_by(Ot.id)
        other_client = db.session.execute(carlos).scalars().first().client.name
    book = openpyxl.load_workbook(second)
    sheet = book["IMPORT 2025"]
    sheet.cell(row=4, column=1, value=anas)
    sheet.cell(row=4, column=2, value=other_client.upper())
    book.save(second)
    return first, second, anas, other_client


def test_two_workbooks_with_a_conflict_are_previewed_resolved_and_imported(page, site, tmp_path):
    first, second, ot_number, new_client = _workbooks(site, tmp_path)
    with site.app().app_context():
        before = db.session.execute(select(Ot).where(Ot.ot_number == ot_number)).scalar_one()
        old_client, old_operativo, ot_count = before.client.name, before.operativo, db.session.query(Ot).count()
    sign_in(page, site, "jefe_operaciones", "/imports")
    page.goto(site.url("/imports"))
    page.wait_for_selector("html[data-imports-ready]")
    page.set_input_files("#import-files", [str(first), str(second)])
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#confirm-form", timeout=RESULT_TIMEOUT)
    assert "/imports/" in page.url
    conflicts = page.eval_on_selector_all("#conflicts-table tr[data-conflict]", "t => t.map(r => r.dataset.conflict)")
    assert f"{ot_number}/client" in conflicts and f"{ot_number}/operativo" in conflicts
    with site.app().app_context():
        assert db.session.query(Ot).count() == ot_count, "the preview wrote nothing"

    page.click("button[value=confirm]")  # undecided: the browser refuses to submit (required radios)
    assert "/imports/" in page.url and page.query_selector("#import-done") is None
    for conflict in conflicts:
        choice = "new" if conflict == f"{ot_number}/client" else "keep"
        page.check(f"tr[data-conflict='{conflict}'] input[value={choice}]")
    page.click("button[value=confirm]")
    page.wait_for_selector("#import-done", timeout=RESULT_TIMEOUT)
    with site.app().app_context():
        after = db.session.execute(select(Ot).where(Ot.ot_number == ot_number)).scalar_one()
        assert after.client.name == new_client != old_client
        assert after.operativo == old_operativo
        assert db.session.query(Ot).count() > ot_count


def test_the_operator_chart_draws_points_for_every_worker(page, site):
    sign_in(page, site, "admin", "/operator")
    page.goto(site.url("/operator"))
    page.wait_for_function(
        "(() => { const groups = [...document.querySelectorAll('#memory-chart g[data-role=worker]')];"
        " return groups.length >= 2 && groups.every(g => g.querySelectorAll('circle').length >= 2); })()",
        timeout=RESULT_TIMEOUT,
    )
    charted = set(page.eval_on_selector_all("#memory-chart g[data-role=worker]", "gs => gs.map(g => g.dataset.pid)"))
    listed = set(page.eval_on_selector_all("#workers-table tbody tr", "rows => rows.map(r => r.dataset.pid)"))
    assert charted and charted <= listed
    assert len(charted) == 2, "the site runs two workers"
    assert page.query_selector("#memory-chart g[data-series=total] circle")
    assert page.get_attribute("#memory-status", "data-status") in ("EXCELLENT", "GOOD", "WARNING", "CRITICAL")


def test_an_operativo_sees_no_upload_form_and_a_forged_upload_is_refused(page, site, tmp_path):
    sign_in(page, site, "operativo", "/documents")
    page.goto(site.url("/documents"))
    assert page.query_selector("#upload-form") is None
    assert page.query_selector("#documents-table")
    token = page.evaluate("fetch('/api/session').then(r => r.json()).then(b => b.csrf_token)")
    status = page.evaluate(
        """async (token) => {
            const form = new FormData();
            form.append('csrf_token', token);
            form.append('file', new Blob(['%PDF-1.4 forged'], {type: 'application/pdf'}), 'forged.pdf');
            return (await fetch('/documents', {method: 'POST', body: form})).status;
        }""",
        token,
    )
    assert status == 403
    for path in ("/invoices/intake", "/imports", "/operator"):
        assert page.goto(site.url(path)).status == 403


# Part A's pages (lists, exports, edit forms) in a real browser ------------------------------------

FILTER = ("pending", "provisioned")


def _filtered_numbers(site) -> set[str]:
    with site.app().app_context():
        return set(db.session.scalars(select(Invoice.invoice_number).where(Invoice.provision_status.in_(FILTER))))


def _listed(page) -> list[str]:
    return page.eval_on_selector_all("table tbody td:first-child a", "links => links.map(a => a.textContent.trim())")


def _filter_invoices(page, site):
    sign_in(page, site, "jefe_operaciones", "/invoices")
    page.goto(site.url("/invoices"))
    for state in FILTER:
        page.check(f"input[name=provision_status][value={state}]")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()


def test_sign_in_goes_back_to_the_page_asked_for(page, site):
    sign_in(page, site, "operativo", "/invoices?needs_review=true")
    assert page.url.endswith("/invoices?needs_review=true")
    assert page.is_checked("input[name=needs_review]")


def test_filter_invoices_and_page_through_them(page, site):
    expected = _filtered_numbers(site)
    assert len(expected) > 50, "the seed gives more than one page for this filter"
    _filter_invoices(page, site)
    assert all(f"provision_status={state}" in page.url for state in FILTER)  # the filter is in the URL
    seen = _listed(page)
    first_page = list(seen)
    while page.query_selector("a[rel=next]"):
        page.click("a[rel=next]")
        page.wait_for_load_state()
        assert "cursor=" in page.url and all(f"provision_status={state}" in page.url for state in FILTER)
        seen += _listed(page)
    assert len(seen) == len(set(seen)) and set(seen) == expected
    page.goto(page.url)  # bookmarkable: the same URL gives the same page
    while page.query_selector("a[rel=prev]"):
        page.click("a[rel=prev]")
        page.wait_for_load_state()
    assert _listed(page) == first_page


def test_export_the_filter_as_xlsx_and_csv(page, site, tmp_path):
    import csv

    expected = _filtered_numbers(site)
    _filter_invoices(page, site)
    page.click("details.menu summary")
    with page.expect_download() as xlsx_download:
        page.click("details.menu a[href*='format=xlsx']")
    xlsx_path = tmp_path / xlsx_download.value.suggested_filename
    xlsx_download.value.save_as(xlsx_path)
    sheet = openpyxl.load_workbook(xlsx_path, read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header_index = next(i for i, row in enumerate(rows) if "Número Factura" in row)
    column = rows[header_index].index("Número Factura")
    numbers = [row[column] for row in rows[header_index + 1 :] if row[column]]
    assert len(numbers) == len(expected) and set(numbers) == expected

    with page.expect_download() as csv_download:
        page.click("details.menu a[href*='format=csv']")
    csv_path = tmp_path / csv_download.value.suggested_filename
    csv_download.value.save_as(csv_path)
    with open(csv_path, encoding="utf-8-sig", newline="") as file:
        records = list(csv.DictReader(file))
    assert len(records) == len(expected) and {r["Número Factura"] for r in records} == expected


def test_edit_an_invoice_and_keep_the_input_through_a_concurrent_change(page, site):
    import requests

    from app.auth import create_token

    with site.app().app_context():
        invoice = db.session.scalars(select(Invoice).order_by(Invoice.id.desc())).first()
        invoice_id, token = invoice.id, create_token(f"browser-conflict-{uuid.uuid4().hex[:6]}", "admin")
    sign_in(page, site, "jefe_operaciones", f"/invoices/{invoice_id}/edit")
    page.goto(site.url(f"/invoices/{invoice_id}/edit"))
    mine = f"Revisado en el navegador {uuid.uuid4().hex[:6]}"
    page.fill("#f-notes", mine)

    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    current = api.get(site.url(f"/api/invoices/{invoice_id}"), timeout=30)
    theirs = "Cambiado por otra persona"
    changed = api.patch(site.url(f"/api/invoices/{invoice_id}"), json={"notes": theirs},
                        headers={"If-Match": current.headers["ETag"]}, timeout=30)
    assert changed.status_code == 200

    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    assert page.query_selector(".flash-error[role=alert]"), "the conflict is said"
    assert page.input_value("#f-notes") == mine, "the input is kept"
    assert theirs in page.inner_text(".current-value")
    page.click("form.form button[type=submit]")  # saving again keeps mine, over the newer version
    page.wait_for_load_state()
    assert page.url.endswith(f"/invoices/{invoice_id}")
    with site.app().app_context():
        assert db.session.get(Invoice, invoice_id).notes == mine


def test_an_operativo_sees_no_edit_buttons_and_a_forged_edit_is_refused(page, site):
    with site.app().app_context():
        invoice = db.session.scalars(select(Invoice).order_by(Invoice.id)).first()
        invoice_id, notes = invoice.id, invoice.notes
    sign_in(page, site, "operativo", f"/invoices/{invoice_id}")
    page.goto(site.url(f"/invoices/{invoice_id}"))
    assert page.query_selector(f"a[href='/invoices/{invoice_id}/edit']") is None
    assert page.query_selector("form[action$='/transition']") is None
    page.goto(site.url("/invoices"))
    assert page.query_selector("a[href='/invoices/new']") is None
    token = page.evaluate("fetch('/api/session').then(r => r.json()).then(b => b.csrf_token)")
    status = page.evaluate(
        """async ([id, token]) => {
            const body = new URLSearchParams({csrf_token: token, notes: 'forged', version: '1'});
            return (await fetch(`/invoices/${id}/edit`, {method: 'POST', body})).status;
        }""",
        [invoice_id, token],
    )
    assert status == 403
    with site.app().app_context():
        assert db.session.get(Invoice, invoice_id).notes == notes


def test_spanish_by_default_and_english_from_the_switch(page, site):
    sign_in(page, site, "finanzas", "/documents")
    page.goto(site.url("/documents"))
    assert page.get_attribute("html", "lang") == "es"
    assert "Documentos guardados" in page.inner_text("main")
    page.click(".language-switch button[value=en]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    assert "Stored documents" in page.inner_text("main")
    page.goto(site.url("/"))
    assert page.get_attribute("html", "lang") == "en" and page.inner_text("h1") == "Dashboard"
