"""``make screenshots``: a PNG of each main page, from the browser tests' own site (seeded gunicorn + Chromium).

Run from backend/: ``python -m tests.helpers.screenshots ../docs/screenshots``. The pages show the
demo data of :data:`tests.helpers.browser.SEED`, plus what the script does first: two documents
uploaded, a DTE and a PDF taken in, two workbooks staged for import.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.helpers.browser import Site, launch_chromium, missing_browser, run_site, sign_in

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 780}


def _sample_files(site: Site, directory: Path) -> dict[str, list[Path]]:
    """Documents, intake files and two team workbooks made from the site's demo data."""
    from app.extensions import db
    from app.imports.sample_workbook import write_sample_workbook
    from app.intake.samples import dte_document, invoice_pdf, text_pdf
    from app.models import Ot, Provider

    with site.app().app_context():
        rows = db.session.execute(
            select(Ot, Provider)
            .join(Provider, Ot.carrier_id == Provider.id)
            .where(Ot.master_bl.is_not(None), Ot.containers.is_not(None))
            .order_by(Ot.id.desc())
            .limit(2)
        ).all()
        (dte_ot, dte_carrier), (pdf_ot, pdf_carrier) = rows
        dte = directory / f"dte-{dte_ot.ot_number}.json"
        document = dte_document(control="DTE-01-M001P001-000000000004521", issued="2026-11-20", total=1130.0,
                                nit=dte_carrier.nit, name=dte_carrier.name,
                                observations=f"Flete maritimo OT {dte_ot.ot_number}")
        dte.write_text(json.dumps(document, ensure_ascii=False))
        pdf = directory / f"factura-{pdf_ot.ot_number}.pdf"
        pdf.write_bytes(invoice_pdf(number="F-001-88231", issued="20/11/2026", total="1,250.75",
                                    provider=pdf_carrier.name, nit=pdf_carrier.nit, master_bl=pdf_ot.master_bl,
                                    containers=pdf_ot.containers[:1]))
        workbooks = [
            write_sample_workbook(directory, "Ana Martínez", rows=8, seed=3),
            write_sample_workbook(directory, "Carlos Hernández", rows=8, seed=4),
        ]
    documents = []
    for name in ("BL-MEDU4471203", "Carta-de-porte-0098"):
        path = directory / f"{name}.pdf"
        path.write_bytes(text_pdf([name, "Documento de demostración"]))
        documents.append(path)
    return {"documents": documents, "intake": [pdf, dte], "workbooks": workbooks}


def _shoot(page: Any, out: Path, name: str) -> None:
    page.wait_for_load_state()
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    print(f"{out / name}.png")


def _wait_results(page: Any, selector: str, count: int) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('{selector} .upload-item[data-result]').length >= {count}", timeout=60_000
    )


def take(site: Site, browser: Any, out: Path, work: Path) -> None:
    files = _sample_files(site, work)
    context = browser.new_context(base_url=site.url(), locale="es-SV", viewport=DESKTOP)
    page = context.new_page()
    page.goto(site.url("/login"))
    _shoot(page, out, "login")
    sign_in(page, site, "admin", "/")
    _shoot(page, out, "dashboard")
    page.goto(site.url("/invoices?provision_status=pending"))
    _shoot(page, out, "invoices")
    page.click("table tbody td:first-child a")
    _shoot(page, out, "invoice")
    page.goto(site.url("/ots"))
    _shoot(page, out, "ots")
    page.goto(site.url("/documents"))
    page.wait_for_selector("html[data-documents-ready]")
    page.set_input_files("#document-files", [str(path) for path in files["documents"]])
    _wait_results(page, "#upload-results", 2)
    _shoot(page, out, "documents")
    page.goto(site.url("/invoices/intake"))
    page.wait_for_selector("html[data-intake-ready]")
    page.select_option("#cost_type", "FLETE")
    page.set_input_files("#intake-files", [str(path) for path in files["intake"]])
    _wait_results(page, "#intake-results", 2)
    _shoot(page, out, "intake")
    page.goto(site.url("/imports"))
    page.wait_for_selector("html[data-imports-ready]")
    page.set_input_files("#import-files", [str(path) for path in files["workbooks"]])
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#confirm-form", timeout=60_000)
    _shoot(page, out, "import-preview")
    page.goto(site.url("/operator"))
    time.sleep(9)  # a few 2 s readings on the chart
    _shoot(page, out, "operator")
    context.close()

    phone = browser.new_context(base_url=site.url(), locale="es-SV", viewport=PHONE)
    page = phone.new_page()
    sign_in(page, site, "jefe_operaciones", "/invoices")
    _shoot(page, out, "invoices-360px")
    phone.close()


def take_all(work: Path, out: Path) -> None:
    with run_site(work) as site, launch_chromium() as browser:
        take(site, browser, out, work)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where the PNGs go (docs/screenshots)")
    args = parser.parse_args(argv)
    reason = missing_browser()
    if reason:
        parser.exit(1, f"screenshots need a browser: {reason}\n")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nextops-screenshots-") as work:
        take_all(Path(work), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
