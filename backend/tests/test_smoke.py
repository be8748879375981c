def test_list_invoices(client, auth, seeded):
    response = client.get("/api/invoices?limit=5", headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert len(body["items"]) == 5
    assert body["next"]
