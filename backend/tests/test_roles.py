"""Every role against every /api/ endpoint, from one table; the table must name every routed endpoint."""

from __future__ import annotations

import pytest

from app.auth import create_token
from app.models import ROLES

# (method, path, lowest role that passes). Ids that do not exist are fine: the role is checked first.
ENDPOINTS = [
    ("GET", "/api/session", "operativo"),
    ("GET", "/api/invoices", "operativo"),
    ("GET", "/api/invoices/999999", "operativo"),
    ("GET", "/api/ots", "operativo"),
    ("GET", "/api/ots/999999", "operativo"),
    ("GET", "/api/invoices/export", "operativo"),
    ("GET", "/api/ots/export", "operativo"),
    ("GET", "/api/invoices/documents.zip", "operativo"),
    ("POST", "/api/exports", "operativo"),
    ("GET", "/api/exports", "operativo"),
    ("GET", "/api/exports/0123456789abcdef0123456789abcdef", "operativo"),
    ("GET", "/api/exports/0123456789abcdef0123456789abcdef/download", "operativo"),
    ("POST", "/api/exports/0123456789abcdef0123456789abcdef/retry", "operativo"),
    ("DELETE", "/api/exports/0123456789abcdef0123456789abcdef", "operativo"),
    ("POST", "/api/invoices/documents.zip", "operativo"),
    ("GET", "/api/uploads", "operativo"),
    ("GET", "/api/uploads/999999", "operativo"),
    ("GET", "/api/uploads/999999/content", "operativo"),
    ("GET", "/api/uploads/999999/preview", "operativo"),
    ("GET", "/api/tokens", "operativo"),
    ("POST", "/api/tokens", "operativo"),
    ("DELETE", "/api/tokens/999999", "operativo"),
    ("POST", "/api/uploads", "jefe_operaciones"),
    ("POST", "/api/ots/import", "jefe_operaciones"),
    ("POST", "/api/invoices/intake", "jefe_operaciones"),
    ("POST", "/api/invoices/999999/assign", "jefe_operaciones"),
    ("POST", "/api/invoices/999999/unassign", "jefe_operaciones"),
    ("PUT", "/api/invoices/999999/document", "jefe_operaciones"),
    ("DELETE", "/api/invoices/999999/document", "jefe_operaciones"),
    ("POST", "/api/invoices/999999/transitions", "finanzas"),
    ("PATCH", "/api/invoices/999999", "finanzas"),
    ("PATCH", "/api/ots/999999", "finanzas"),
    ("POST", "/api/invoices", "jefe_operaciones"),
    ("DELETE", "/api/invoices/999999", "jefe_operaciones"),
    ("GET", "/api/invoices/999999/history", "operativo"),
    ("POST", "/api/ots", "jefe_operaciones"),
    ("DELETE", "/api/ots/999999", "jefe_operaciones"),
    ("GET", "/api/ots/999999/history", "operativo"),
    ("GET", "/api/clients", "operativo"),
    ("GET", "/api/clients/999999", "operativo"),
    ("GET", "/api/clients/999999/history", "operativo"),
    ("POST", "/api/clients", "jefe_operaciones"),
    ("PATCH", "/api/clients/999999", "jefe_operaciones"),
    ("DELETE", "/api/clients/999999", "jefe_operaciones"),
    ("GET", "/api/providers", "operativo"),
    ("GET", "/api/providers/999999", "operativo"),
    ("GET", "/api/providers/999999/history", "operativo"),
    ("POST", "/api/providers", "jefe_operaciones"),
    ("PATCH", "/api/providers/999999", "jefe_operaciones"),
    ("DELETE", "/api/providers/999999", "jefe_operaciones"),
    ("GET", "/api/cost-types", "operativo"),
    ("GET", "/api/cost-types/999999", "operativo"),
    ("GET", "/api/cost-types/999999/history", "operativo"),
    ("POST", "/api/cost-types", "admin"),
    ("PATCH", "/api/cost-types/999999", "admin"),
    ("DELETE", "/api/cost-types/999999", "admin"),
    ("GET", "/api/extraction-patterns", "admin"),
    ("POST", "/api/extraction-patterns", "admin"),
    ("PATCH", "/api/extraction-patterns/999999", "admin"),
    ("DELETE", "/api/extraction-patterns/999999", "admin"),
    ("POST", "/api/extraction-patterns/test", "admin"),
    ("GET", "/api/monitoring/memory", "admin"),
]


@pytest.fixture
def role_tokens(app) -> dict[str, str]:
    with app.app_context():
        return {role: create_token(f"role-{role}", role) for role in ROLES}


@pytest.mark.parametrize(("method", "path", "needed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_each_role_against_each_endpoint(client, role_tokens, method, path, needed):
    for role in ROLES:
        headers = {"Authorization": f"Bearer {role_tokens[role]}"}
        response = client.open(path, method=method, headers=headers, json=None)
        allowed = ROLES.index(role) >= ROLES.index(needed)
        if allowed:  # a 403 that is not about the role (a service token has no tokens of its own) is fine
            body = response.get_json(silent=True) or {}
            assert response.status_code != 401, (role, body)
            assert "required_role" not in body.get("error", {}), (role, body)
        else:
            assert response.status_code == 403, (role, response.status_code)
            assert response.get_json()["error"]["required_role"] == needed


def test_the_table_names_every_api_endpoint(app):
    routed = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and not rule.rule.startswith("/api/testing")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    listed = {
        (method, app.url_map.bind("").match(path, method=method, return_rule=True)[0].rule)
        for method, path, _ in ENDPOINTS
    }
    assert routed == listed, f"add to ENDPOINTS: {sorted(routed - listed)}"


def test_former_user_tokens_became_jefe_operaciones(database_url, tmp_path):
    """The migration's data step: ``user`` -> ``jefe_operaciones``, ``admin`` stays."""
    import os

    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db

    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite run shows the data step; the PostgreSQL one runs in test_migrations")
    url = f"sqlite:///{tmp_path / 'roles.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "k"})
    with app.app_context():
        upgrade(revision="5b7e2c91d0aa")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES"
                    " ('a', 'admin', 'h1', '2026-01-01'), ('u', 'user', 'h2', '2026-01-01')"
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            roles = dict(conn.execute(text("SELECT name, role FROM api_tokens")).all())
        db.engine.dispose()
    assert roles == {"a": "admin", "u": "jefe_operaciones"}
    assert os.path.exists(tmp_path / "roles.db")
