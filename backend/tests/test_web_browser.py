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
