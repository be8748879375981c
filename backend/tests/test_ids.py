"""Ids and cursors beyond 64 bits are a 404/400 on both databases, never a 500 (SQLite cannot bind them)."""

import io

import pytest

from app.pagination import encode_cursor

HUGE = str(2**64 + 5)


@pytest.mark.parametrize(
    "path",
    [f"/api/invoices/{HUGE}", f"/api/ots/{HUGE}", f"/api/uploads/{HUGE}", f"/api/uploads/{HUGE}/content"],
)
def test_ids_beyond_64_bits_are_404(client, auth, path):
    response = client.get(path, headers=auth)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/invoices", "/api/ots"])
def test_cursor_beyond_64_bits_is_400(client, auth, path):
    response = client.get(f"{path}?cursor={encode_cursor(2**64 + 5)}", headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == "cursor"


def test_filter_id_beyond_64_bits_is_400(client, auth):
    response = client.get(f"/api/invoices?ot_id={HUGE}", headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == "ot_id"


def test_upload_invoice_id_beyond_64_bits_is_400(client, auth):
    data = {"file": (io.BytesIO(b"%PDF-1.7\nhello"), "a.pdf"), "invoice_id": HUGE}
    response = client.post("/api/uploads", data=data, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == "invoice_id"
