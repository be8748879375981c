"""``flask intake sample DIR``: a DTE JSON and a PDF for an OT of the demo data, to try the intake with."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.intake.samples import dte_document, invoice_pdf
from app.models import Ot, Provider


@click.group("intake")
def intake_group() -> None:
    """Supplier invoices in."""


@intake_group.command("sample")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@with_appcontext
def sample_command(directory: Path) -> None:
    """Write dte-<OT>.json (naming the OT number) and factura-<OT>.pdf (naming its MBL and a container).

    Both come from the OT's shipping line in the demo data, so taking them in shows two matching
    levels: the OT number (0.95) and MBL plus container (0.90).
    """
    found = db.session.execute(
        select(Ot, Provider)
        .join(Provider, Ot.carrier_id == Provider.id)
        .where(Ot.master_bl.is_not(None))
        .order_by(Ot.id.desc())
        .limit(1)
    ).first()
    if found is None:
        raise click.ClickException("no OT with a shipping line and an MBL: run `flask seed` first")
    ot, carrier = found
    directory.mkdir(parents=True, exist_ok=True)
    today = dt.date.today()
    stamp = today.strftime("%Y%m%d")
    dte = dte_document(
        control=f"DTE-01-M001P001-{stamp}{ot.id:07d}",
        issued=today.isoformat(),
        total=1130.00,
        nit=carrier.nit,
        name=carrier.name,
        observations=f"Flete maritimo OT {ot.ot_number}",
    )
    json_path = directory / f"dte-{ot.ot_number}.json"
    json_path.write_text(json.dumps(dte, ensure_ascii=False, indent=2), encoding="utf-8")
    pdf_path = directory / f"factura-{ot.ot_number}.pdf"
    pdf_path.write_bytes(
        invoice_pdf(
            number=f"CN-{stamp}-{ot.id}",
            issued=today.strftime("%d/%m/%Y"),
            total="245.60",
            provider=carrier.name,
            nit=carrier.nit,
            master_bl=ot.master_bl or "",
            containers=ot.containers[:1],
        )
    )
    click.echo(json_path)
    click.echo(pdf_path)
