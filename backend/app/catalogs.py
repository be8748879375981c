"""The cost-type catalog: its default rows and the codes filters accept.

Cost types are rows (admins add them), not constants, so the codes a filter accepts are read from
the table. The defaults are the team's own list; the migration that created the table inserted the
same rows, and ``flask seed`` restores any that are missing.
"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import CostCategory, CostType

COST_CATEGORY_LABELS = {
    "MARITIMO": "Marítimo",
    "TERRESTRE": "Terrestre",
    "ADUANAL": "Aduanal",
    "ALMACENAJE": "Almacenaje",
    "OTRO": "Otro",
}
# code -> (name, category code, linked to the OT's provision and billing)
DEFAULT_COST_TYPES = {
    "FLETE": ("Flete", "MARITIMO", True),
    "CARGOS_NAVIERA": ("Cargos de naviera", "MARITIMO", True),
    "TRANSPORTE": ("Transporte", "TERRESTRE", False),
    "ADUANA": ("Aduana", "ADUANAL", False),
    "ALMACENAJE": ("Almacenaje", "ALMACENAJE", False),
    "DEMORA": ("Demora", "MARITIMO", False),
    "OTRO": ("Otro", "OTRO", False),
}


def cost_type_codes() -> list[str]:
    """The catalog's codes in display order."""
    return list(db.session.scalars(select(CostType.code).order_by(CostType.display_order, CostType.code)))


def ensure_default_cost_types() -> None:
    """Insert the default categories and cost types that are missing (never changes existing rows)."""
    categories = {c.code: c for c in db.session.scalars(select(CostCategory))}
    for code, name in COST_CATEGORY_LABELS.items():
        if code not in categories:
            categories[code] = CostCategory(code=code, name=name)
            db.session.add(categories[code])
    existing = set(db.session.scalars(select(CostType.code)))
    for order, (code, (name, category, linked)) in enumerate(DEFAULT_COST_TYPES.items(), 1):
        if code not in existing:
            db.session.add(
                CostType(code=code, name=name, category=categories[category], linked_to_ot=linked, display_order=order)
            )
    db.session.commit()
