"""Every error is JSON with a code and a message, never HTML or a traceback."""

import pytest

from app import create_app


def assert_json_error(response, status, code):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_404_outside_api(client):
    assert_json_error(client.get("/nope"), 404, "not_found")


def test_404_inside_api(client, auth):
    assert_json_error(client.get("/api/invoices/999999", headers=auth), 404, "not_found")
    assert_json_error(client.get("/api/ots/999999", headers=auth), 404, "not_found")


def test_405_keeps_allow_header(client, auth):
    response = client.put("/api/invoices", headers=auth)  # POST creates since the write API
    assert_json_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]


def test_400_names_the_parameter(client, auth):
    response = client.get("/api/invoices?issue_date_from=yesterday", headers=auth)
    assert_json_error(response, 400, "invalid_parameter")
    assert response.get_json()["error"]["parameter"] == "issue_date_from"


def test_401_without_token(client):
    assert_json_error(client.get("/api/ots"), 401, "unauthorized")


@pytest.fixture
def crashing_app(database_url, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "STORAGE_DIR": str(tmp_path)})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    return app


def test_500_hides_the_exception(crashing_app):
    response = crashing_app.test_client().get("/boom")
    assert_json_error(response, 500, "internal_server_error")
    assert "secret internals" not in response.get_data(as_text=True)


def test_403_for_wrong_role(database_url, tmp_path):
    from app.auth import create_token, require_role

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "STORAGE_DIR": str(tmp_path)})

    @app.get("/api/admin-only")
    @require_role("admin")
    def admin_only():
        return {"ok": True}

    with app.app_context():
        user, admin = create_token("u", "jefe_operaciones"), create_token("a", "admin")
    client = app.test_client()
    assert_json_error(client.get("/api/admin-only", headers={"Authorization": f"Bearer {user}"}), 403, "forbidden")
    assert client.get("/api/admin-only", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
