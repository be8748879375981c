"""While the database cannot be reached: /api/ answers 503 JSON with Retry-After, readiness says so, and no
error path (teardown included) produces anything but JSON. Both kinds of database, made unreachable for
real: SQLite at a path that cannot be opened as a database file, PostgreSQL on a port nobody listens on."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from app import create_app


@pytest.fixture(params=["sqlite", "postgresql"])
def down_app(request, tmp_path):
    if request.param == "sqlite":
        (tmp_path / "db-is-a-directory").mkdir()
        url = f"sqlite:///{tmp_path / 'db-is-a-directory'}"
    else:
        url = "postgresql://postgres@127.0.0.1:1/nothing"  # port 1: connection refused at once
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "STORAGE_DIR": str(tmp_path / "storage")})


def assert_unavailable(response):
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.headers["Retry-After"].isdigit()
    assert response.get_json()["error"]["code"] == "database_unavailable"


@pytest.mark.parametrize(
    "path",
    ["/api/invoices", "/api/ots/1", "/api/uploads/1", "/api/invoices/export?format=csv", "/api/monitoring/memory"],
)
def test_api_is_503_json_with_retry_after(down_app, path):
    response = down_app.test_client().get(path, headers={"Authorization": "Bearer some-token"})
    assert_unavailable(response)


def test_upload_while_down_is_503_and_stores_nothing(down_app, tmp_path):
    response = down_app.test_client().post(
        "/api/uploads?filename=a.pdf", data=b"%PDF-1.7\n", headers={"Authorization": "Bearer t"}
    )
    assert_unavailable(response)
    storage = tmp_path / "storage"
    assert not storage.exists() or not [p for p in storage.rglob("*") if p.is_file()]


def test_readiness_says_database_unavailable(down_app):
    client = down_app.test_client()
    assert client.get("/health").status_code == 200, "liveness never touches the database"
    response = client.get("/health/ready")
    assert_unavailable(response)
    assert response.get_json()["database"] == "error"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RuntimeError("teardown bug"), 500, "internal_server_error"),
        (
            sa_exc.OperationalError("ROLLBACK", {}, Exception("gone"), connection_invalidated=True),
            503,
            "database_unavailable",
        ),
    ],
    ids=["bug", "database-gone"],
)
def test_an_exception_in_teardown_is_json(app, error, status, code):
    @app.teardown_request
    def failing_teardown(_exc):
        raise error

    response = app.test_client().get("/health")
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == code
    assert "teardown bug" not in response.get_data(as_text=True)


def test_a_wrong_statement_on_sqlite_stays_a_500_not_a_503(app):
    """SQLite raises OperationalError for "no such column" as for an unopenable file: only the latter is a 503."""
    from sqlalchemy import text

    from app.extensions import db

    @app.get("/api/broken")
    def broken():
        db.session.execute(text("SELECT no_such_column FROM invoices"))

    with app.app_context():
        from app.auth import create_token

        token = create_token("t", "admin")
    response = app.test_client().get("/api/broken", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_server_error"
