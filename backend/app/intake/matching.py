"""Which OT an invoice belongs to, from the references read in its document, and how sure we are.

Levels, strongest first (the old matcher promised all four; only the first ever worked):

==============  ==========  ===================================================================
method          confidence  rule
==============  ==========  ===================================================================
``ot_number``   0.95        an OT number read in the document exists
``mbl_container`` 0.90      one OT has both a master BL and a container read in the document
``master_bl``   0.75        an OT's master BL was read
``container``   0.60        an OT's container was read (below 0.70: the invoice needs review)
==============  ==========  ===================================================================

A level that points at several OTs still assigns the first (in the document's order) but sends the
invoice to review, naming the others: a person decides, the matcher does not guess silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import String, cast, func, or_, select

from app.extensions import db
from app.models import Ot

REVIEW_BELOW = Decimal("0.70")
CONFIDENCE = {
    "ot_number": Decimal("0.95"),
    "mbl_container": Decimal("0.90"),
    "master_bl": Decimal("0.75"),
    "container": Decimal("0.60"),
}
MAX_CANDIDATES = 20  # references per kind looked up; a document listing more is not one shipment


@dataclass
class Match:
    ot: Ot | None
    method: str
    confidence: Decimal | None
    reasons: list[str] = field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return self.ot is None or self.confidence is None or self.confidence < REVIEW_BELOW or bool(self.reasons)

    def as_json(self) -> dict[str, object] | None:
        if self.ot is None:
            return None
        return {
            "ot_id": self.ot.id,
            "ot_number": self.ot.ot_number,
            "method": self.method,
            "confidence": str(self.confidence),
        }


def match_ot(references: dict[str, list[str]]) -> Match:
    """The best level the references reach; ``unassigned`` (review) when none does."""
    ot_numbers = references.get("ot_numbers", [])[:MAX_CANDIDATES]
    bls = references.get("master_bls", [])[:MAX_CANDIDATES]
    containers = references.get("containers", [])[:MAX_CANDIDATES]

    by_number = _ots_by_number(ot_numbers)
    if by_number:
        return _chosen(by_number, "ot_number")
    by_bl = _ots_by_bl(bls)
    by_container = _ots_by_container(containers)
    both = [ot for ot in by_bl if ot.id in {other.id for other in by_container}]
    if both:
        return _chosen(both, "mbl_container")
    if by_bl:
        return _chosen(by_bl, "master_bl")
    if by_container:
        return _chosen(by_container, "container")
    reason = "no OT matched the references read" if any((ot_numbers, bls, containers)) else "no OT reference read"
    return Match(None, "unassigned", None, [reason])


def _chosen(ots: Sequence[Ot], method: str) -> Match:
    match = Match(ots[0], method, CONFIDENCE[method])
    if len(ots) > 1:
        others = ", ".join(ot.ot_number for ot in ots[1:])
        match.reasons.append(f"{method}: several OTs match; chose {ots[0].ot_number}, also {others}")
    if match.confidence is not None and match.confidence < REVIEW_BELOW:
        match.reasons.append(f"{method} match (confidence {match.confidence}) is below {REVIEW_BELOW}")
    return match


def _ots_by_number(numbers: list[str]) -> list[Ot]:
    if not numbers:
        return []
    found = {ot.ot_number: ot for ot in db.session.scalars(select(Ot).where(Ot.ot_number.in_(numbers)))}
    return _in_order(found.get(number) for number in numbers)


def _ots_by_bl(bls: list[str]) -> list[Ot]:
    """OTs whose master BL, written with or without spaces and dashes, is one of ``bls`` (normalised)."""
    if not bls:
        return []
    compact = func.upper(func.replace(func.replace(Ot.master_bl, "-", ""), " ", ""))
    rows = db.session.scalars(select(Ot).where(compact.in_(bls)).order_by(Ot.id)).all()
    order = {bl: index for index, bl in enumerate(bls)}
    return sorted(rows, key=lambda ot: order.get("".join((ot.master_bl or "").upper().replace("-", "").split()), 0))


def _ots_by_container(containers: list[str]) -> list[Ot]:
    """OTs holding one of ``containers``. The JSON list is searched as text (same on SQLite and
    PostgreSQL: stored numbers are normalised), then checked exactly in Python."""
    if not containers:
        return []
    text = cast(Ot.containers, String)
    rows = db.session.scalars(
        select(Ot).where(or_(*(text.like(f'%"{code}"%') for code in containers))).order_by(Ot.id)
    ).all()
    wanted = set(containers)
    hits = [ot for ot in rows if wanted & set(ot.containers or [])]
    first = {code: index for index, code in enumerate(containers)}
    return sorted(hits, key=lambda ot: min(first.get(code, len(first)) for code in ot.containers if code in wanted))


def _in_order(ots: Iterable[Ot | None]) -> list[Ot]:
    seen: dict[int, Ot] = {}
    for ot in ots:
        if ot is not None and ot.id not in seen:
            seen[ot.id] = ot
    return list(seen.values())
