"""The dashboard's cards: OTs by status, invoices by provision state with their amounts, the review queue.

The review queue is the first page of ``GET /api/invoices?needs_review=true``: the same filter and
pagination functions, so the card and the list it links to always agree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.filters import invoice_conditions
from app.models import Invoice, Ot
from app.pagination import paginate

CARD_STATES = ("pending", "in_review", "provisioned")
QUEUE_ROWS = 10


def cards() -> dict[str, Any]:
    ots = dict(db.session.execute(select(Ot.status, func.count()).group_by(Ot.status)).all())
    totals = {
        state: (count, amount or Decimal(0))
        for state, count, amount in db.session.execute(
            select(Invoice.provision_status, func.count(), func.sum(Invoice.amount))
            .where(Invoice.provision_status.in_(CARD_STATES))
            .group_by(Invoice.provision_status)
        ).all()
    }
    queue, more = paginate(
        select(Invoice).options(joinedload(Invoice.provider), joinedload(Invoice.ot)),
        Invoice.id,
        None,
        QUEUE_ROWS,
        invoice_conditions({"needs_review": "true"}),
    )
    queue_count = db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.needs_review.is_(True)))
    result = {
        "ot_counts": sorted(ots.items(), key=lambda item: -item[1]),
        "ot_total": sum(ots.values()),
        "invoice_cards": [(state, *totals.get(state, (0, Decimal(0)))) for state in CARD_STATES],
        "queue": queue,
        "queue_more": more is not None,
        "queue_count": queue_count or 0,
    }
    db.session.commit()
    return result
