"""/health never touches the database; /health/ready reports it."""

from app import create_app


def test_ready_is_503_json_when_database_is_down(tmp_path):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": "postgresql://postgres@127.0.0.1:1/nothing", "STORAGE_DIR": str(tmp_path)}
    )
    client = app.test_client()
    assert client.get("/health").status_code == 200
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"


def test_ready_ok(client):
    assert client.get("/health/ready").get_json() == {"status": "ok", "database": "ok"}
