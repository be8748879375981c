"""Bearer tokens on /api/: 401 without or with a bad token, 403 on the wrong role."""

from app.auth import hash_token
from app.extensions import db
from app.models import ApiToken
from tests.helpers.bodies import BodyStream


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


def _checkouts_per_call(app, client, path, headers=None):
    """Pool checkouts one request makes, and how many connections it leaves checked out."""
    from sqlalchemy import event

    client.get(path, headers=headers)  # warm: the first call may touch the token's last_used_at
    with app.app_context():
        engine = db.engine
    checkouts = []
    listener = lambda *args: checkouts.append(1)  # noqa: E731
    event.listen(engine, "checkout", listener)
    try:
        response = client.get(path, headers=headers)
    finally:
        event.remove(engine, "checkout", listener)
    assert response.status_code == 200, response.get_data(as_text=True)
    return len(checkouts), engine.pool.checkedout()


def test_a_small_call_checks_out_one_connection(app, client, auth, seeded):
    """The caller's look-up and the view share one connection (one pre-ping), handed back at teardown."""
    newest = client.get("/api/invoices?limit=1", headers=auth).get_json()["items"][0]["id"]
    for path in ("/api/invoices?limit=5", "/api/invoices?limit=5&q=FV3", "/api/ots?limit=5", f"/api/invoices/{newest}"):
        assert _checkouts_per_call(app, client, path, auth) == (1, 0), path


def test_a_signed_in_call_checks_out_one_connection(app):
    from web_helpers import signed_in

    client = signed_in(app, "operativo")
    assert _checkouts_per_call(app, client, "/api/invoices?limit=5") == (1, 0)


class _WatchedBody(BodyStream):
    """A request body that records how many pooled connections are checked out at each read."""

    def __init__(self, data: bytes, pool) -> None:
        super().__init__(data)
        self.pool, self.held = pool, []

    def readinto(self, buffer) -> int:
        self.held.append(self.pool.checkedout())
        return super().readinto(buffer)


def _held_while_the_body_is_read(app, client, headers):
    with app.app_context():
        pool = db.engine.pool
    data = b"%PDF-1.7\n" + bytes(range(256)) * 8000
    body = _WatchedBody(data, pool)
    response = client.post(
        "/api/uploads?filename=watched.pdf",
        input_stream=body,
        headers={**headers, "Content-Type": "application/octet-stream"},
        environ_overrides={"CONTENT_LENGTH": str(len(data))},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert len(body.held) > 1
    return max(body.held)


def test_an_upload_holds_no_connection_while_its_body_is_read(app, client, auth):
    """A request with a body hands the caller's look-up connection back: it may read for minutes."""
    client.get("/api/invoices?limit=1", headers=auth)  # the token's last_used_at is now fresh: no write below
    assert _held_while_the_body_is_read(app, client, auth) == 0


def test_a_signed_in_upload_holds_no_connection_while_its_body_is_read(app):
    from web_helpers import signed_in

    client = signed_in(app, "jefe_operaciones")
    headers = {"X-CSRFToken": client.get("/api/session").get_json()["csrf_token"]}
    assert _held_while_the_body_is_read(app, client, headers) == 0
