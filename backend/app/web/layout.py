"""What every page's layout needs: the navigation for the person's role, the languages, the role labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, g, request
from flask_babel import get_locale, gettext

from app.auth import has_role
from app.i18n import LANGUAGES, N_
from app.models import ROLE_LABELS
from app.web.labels import ALL as ALL_LABELS


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # an English msgid, translated by the template
    role: str


# Paths, not endpoints: /documents, /invoices/intake, /imports and /operator are served by pages of their own.
NAV = (
    NavItem("/", N_("Dashboard"), "operativo"),
    NavItem("/ots", N_("OTs"), "operativo"),
    NavItem("/invoices", N_("Invoices"), "operativo"),
    NavItem("/invoices/intake", N_("Invoice intake"), "jefe_operaciones"),
    NavItem("/imports", N_("OT import"), "jefe_operaciones"),
    NavItem("/documents", N_("Documents"), "operativo"),
    NavItem("/clients", N_("Clients"), "operativo"),
    NavItem("/providers", N_("Providers"), "operativo"),
    NavItem("/exports", N_("Your exports"), "operativo"),
    NavItem("/admin/users", N_("Users"), "admin"),
    NavItem("/admin/tokens", N_("Tokens"), "admin"),
    NavItem("/operator", N_("Operator"), "admin"),
)
LANGUAGE_NAMES = {"es": "Español", "en": "English"}


def _current(path: str) -> bool:
    if path == "/":
        return request.path == "/"
    return request.path == path or (request.path.startswith(path + "/") and not _longer_match(path))


def _longer_match(path: str) -> bool:
    """``/invoices/intake`` is its own item: being there does not also mark ``/invoices`` as current."""
    return any(item.path != path and item.path.startswith(path) and request.path.startswith(item.path) for item in NAV)


def label(kind: str, code: str | None) -> str:
    """The page's word for a stored code (``label("provision", "in_review")`` -> "En revisión")."""
    if not code:
        return ""
    return gettext(ALL_LABELS[kind].get(code, code))


def can(role: str) -> bool:
    """Whether the signed-in person has ``role`` or a higher one (the API's rule): which buttons a page shows."""
    principal = g.get("principal")
    return principal is not None and has_role(principal.role, role)


def _layout() -> dict[str, Any]:
    principal = g.get("principal")
    nav = [item for item in NAV if principal is not None and has_role(principal.role, item.role)]
    return {
        "nav": nav,
        "is_current": _current,
        "viewer": principal,
        "can": can,
        "role_labels": ROLE_LABELS,
        "label": label,
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "language": str(get_locale() or "es"),
    }


def install_layout(app: Flask) -> None:
    app.context_processor(_layout)
