"""Bearer tokens on /api/: 401 without or with a bad token, 403 on the wrong role."""

from app.auth import hash_token
from app.extensions import db
from app.models import ApiToken


def test_missing_token_is_401_json(client):
    response = client.get("/api/invoices")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_bad_token_is_401(client, admin_token):
    response = client.get("/api/invoices", headers={"Authorization": "Bearer nxo_not-a-token"})
    assert response.status_code == 401
    assert "invalid" in response.get_json()["error"]["message"]


def test_wrong_scheme_is_401(client, admin_token):
    response = client.get("/api/invoices", headers={"Authorization": f"Basic {admin_token}"})
    assert response.status_code == 401


def test_user_token_reads(client, user_token):
    response = client.get("/api/invoices", headers={"Authorization": f"Bearer {user_token}"})
    assert response.status_code == 200


def test_token_is_stored_hashed(app, admin_token):
    with app.app_context():
        stored = db.session.scalars(db.select(ApiToken.token_hash)).all()
    assert admin_token not in stored
    assert hash_token(admin_token) in stored


def test_cli_creates_token_and_replace_revokes(runner, client):
    first = runner.invoke(args=["tokens", "create", "--name", "ops", "--role", "operativo"]).output.strip()
    second = runner.invoke(
        args=["tokens", "create", "--name", "ops", "--role", "operativo", "--replace"]
    ).output.strip()
    assert first.startswith("nxo_") and second.startswith("nxo_") and first != second
    assert client.get("/api/ots", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert client.get("/api/ots", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_cli_rejects_unknown_role(runner):
    result = runner.invoke(args=["tokens", "create", "--name", "x", "--role", "root"])
    assert result.exit_code != 0


def test_health_needs_no_token(client):
    assert client.get("/health").get_json() == {"status": "ok"}
    assert client.get("/health/ready").get_json()["database"] == "ok"
