"""The write API: validation, 409 on duplicates, ETag/If-Match, finanzas' fields, transitions, history."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth import create_token
from app.extensions import db
from app.models import History, Ot


@pytest.fixture
def as_role(app):
    with app.app_context():
        tokens = {role: create_token(role, role) for role in ("operativo", "finanzas", "jefe_operaciones", "admin")}
    return lambda role: {"Authorization": f"Bearer {tokens[role]}"}


@pytest.fixture
def world(client, as_role):
    jefe = as_role("jefe_operaciones")
    client_id = client.post("/api/clients", json={"name": "Café Izalco S.A."}, headers=jefe).get_json()["id"]
    provider = client.post(
        "/api/providers", json={"name": "Maersk", "nit": "0614-010190-101-1", "type": "naviera"}, headers=jefe
    ).get_json()
    ot = client.post(
        "/api/ots", json={"ot_number": "26OT0001", "client_id": client_id, "master_bl": "MAEU1"}, headers=jefe
    ).get_json()
    invoice = client.post(
        "/api/invoices",
        json={
            "invoice_number": "FE-1",
            "provider_id": provider["id"],
            "cost_type": "FLETE",
            "amount": "1250.50",
            "issue_date": "2026-11-02",
            "ot_id": ot["id"],
        },
        headers=jefe,
    ).get_json()
    return {"client": client_id, "provider": provider["id"], "ot": ot["id"], "invoice": invoice["id"]}


def patch(client, path, body, headers, version):
    return client.patch(path, json=body, headers={**headers, "If-Match": f'"{version}"'})


def test_create_read_and_list_with_filters_and_pages(client, as_role, world):
    ops = as_role("operativo")
    invoice = client.get(f"/api/invoices/{world['invoice']}", headers=ops)
    assert invoice.headers["ETag"] == '"1"' and invoice.get_json()["amount"] == "1250.50"
    assert invoice.get_json()["assignment_method"] == "manual" and invoice.get_json()["applicable_amount"] == "1250.50"
    for n in range(3):
        client.post("/api/clients", json={"name": f"Textiles {n}"}, headers=as_role("jefe_operaciones"))
    page = client.get("/api/clients?q=textiles&limit=2", headers=ops).get_json()
    assert len(page["items"]) == 2 and page["next"]
    rest = client.get(f"/api/clients?q=textiles&limit=2&cursor={page['next']}", headers=ops).get_json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    assert client.get("/api/providers?type=naviera", headers=ops).get_json()["items"][0]["name"] == "Maersk"
    assert client.get("/api/providers?colour=red", headers=ops).status_code == 400
    assert len(client.get("/api/cost-types?active=true", headers=ops).get_json()["items"]) == 7
    detail = client.get(f"/api/clients/{world['client']}", headers=ops)
    assert detail.status_code == 200 and detail.headers["ETag"] == '"1"'


def test_every_validation_error_is_named(client, as_role, world):
    jefe = as_role("jefe_operaciones")
    response = client.post(
        "/api/invoices",
        json={
            "invoice_number": "",
            "provider_id": 999999,
            "cost_type": "NOPE",
            "amount": 12.5,
            "issue_date": "02/11/2026",
            "colour": "red",
        },
        headers=jefe,
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"invoice_number", "provider_id", "cost_type", "amount", "issue_date", "colour"}
    assert "decimal string" in fields["amount"]
    assert (
        client.post("/api/invoices", data="[]", headers={**jefe, "Content-Type": "application/json"}).status_code == 400
    )
    missing = client.post("/api/providers", json={}, headers=jefe).get_json()["error"]["fields"]
    assert set(missing) == {"name", "nit", "type"}
    cents = client.post("/api/invoices", json={"amount": "1.005"}, headers=jefe).get_json()["error"]["fields"]
    assert cents["amount"] == "at most two decimals"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/clients", {"name": "Café Izalco S.A."}, "name"),
        ("/api/providers", {"name": "Otro", "nit": "0614-010190-101-1", "type": "otro"}, "nit"),
        ("/api/cost-types", {"code": "flete", "name": "Flete", "category_id": None}, None),
    ],
)
def test_duplicates_are_409_naming_the_field(client, as_role, world, path, body, field):
    admin = as_role("admin")
    if field is None:
        from app.models import CostCategory

        with client.application.app_context():
            body["category_id"] = db.session.scalars(select(CostCategory.id)).first()
        field = "code"
    response = client.post(path, json=body, headers=admin)
    assert response.status_code == 409 and response.get_json()["error"]["field"] == field


def test_duplicate_ot_number_and_invoice_number_per_provider(client, as_role, world):
    jefe = as_role("jefe_operaciones")
    ot = client.post("/api/ots", json={"ot_number": "26OT0001", "client_id": world["client"]}, headers=jefe)
    assert ot.status_code == 409 and ot.get_json()["error"]["field"] == "ot_number"
    body = {
        "invoice_number": "FE-1",
        "provider_id": world["provider"],
        "cost_type": "FLETE",
        "amount": "1.00",
        "issue_date": "2026-11-02",
    }
    assert client.post("/api/invoices", json=body, headers=jefe).get_json()["error"]["field"] == "invoice_number"


def test_patch_needs_if_match_and_a_current_version(client, as_role, world):
    jefe, path = as_role("jefe_operaciones"), f"/api/clients/{world['client']}"
    missing = client.patch(path, json={"nit": "1"}, headers=jefe)
    assert missing.status_code == 428 and missing.get_json()["error"]["current_version"] == 1
    ok = patch(client, path, {"nit": "0614-1"}, jefe, 1)
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = patch(client, path, {"nit": "0614-2"}, jefe, 1)
    assert stale.status_code == 412 and stale.get_json()["error"]["current_version"] == 2
    assert client.get(path, headers=jefe).get_json()["nit"] == "0614-1"


def test_two_edits_of_the_same_version_exactly_one_wins(app, client, as_role, world):
    """Both read version 1; the UPDATE ... WHERE version = 1 of the second matches nothing: 412."""
    from app.writes.resources import OTS
    from app.writes.routes import _commit

    with app.app_context():
        first = db.session.get(Ot, world["ot"])
        first.vessel = "MSC A"
        from sqlalchemy.orm import Session

        with Session(db.engine) as second:
            row = second.get(Ot, world["ot"])
            row.vessel = "MSC B"
            second.commit()  # the other writer wins first
        with pytest.raises(Exception) as raised:
            _commit(OTS, first)
        assert raised.value.code == 412
    assert client.get(f"/api/ots/{world['ot']}", headers=as_role("operativo")).get_json()["vessel"] == "MSC B"


def test_finanzas_may_change_only_its_fields(client, as_role, world):
    fin, path = as_role("finanzas"), f"/api/invoices/{world['invoice']}"
    refused = patch(client, path, {"notes": "ok", "amount": "1.00", "invoice_number": "X"}, fin, 1)
    assert refused.status_code == 403
    assert set(refused.get_json()["error"]["fields"]) == {"amount", "invoice_number"}
    assert patch(client, path, {"notes": "pagar el viernes"}, fin, 1).status_code == 200
    ot = patch(client, f"/api/ots/{world['ot']}", {"billing_status": "billed", "billing_date": "2026-11-20"}, fin, 1)
    assert ot.status_code == 200 and ot.get_json()["billing_status"] == "billed"
    assert patch(client, f"/api/ots/{world['ot']}", {"vessel": "X"}, fin, 2).status_code == 403
    assert client.post("/api/clients", json={"name": "N"}, headers=fin).status_code == 403
    assert patch(client, f"/api/clients/{world['client']}", {"name": "N"}, as_role("operativo"), 1).status_code == 403


def test_manual_ot_edit_is_marked_manual_and_key_edit_clears_review(app, client, as_role, world):
    jefe = as_role("jefe_operaciones")
    edited = patch(client, f"/api/ots/{world['ot']}", {"vessel": "Ever Given 117E"}, jefe, 1).get_json()
    assert edited["field_sources"]["vessel"] == "manual"
    path = f"/api/invoices/{world['invoice']}"
    client.post(f"{path}/unassign", headers=jefe)
    current = client.get(path, headers=jefe)
    assert current.get_json()["needs_review"] is True
    version = current.get_json()["version"]
    cleared = patch(client, path, {"amount": "1300.00"}, jefe, version).get_json()
    assert cleared["needs_review"] is False and cleared["amount"] == "1300.00"


TRANSITIONS = [
    ("provision", "in_review", 200),
    ("provision", "provisioned", 409),  # pending -> provisioned skips review
    ("provision", "disputed", 409),
    ("provision", "partially_voided", 409),
    ("billing", "billed", 200),
    ("payment", "paid", 200),
    ("provision", "rejected", 200),
    ("provision", "voided", 409),
]


@pytest.mark.parametrize(("kind", "target", "status"), TRANSITIONS)
def test_each_transition_from_pending(client, as_role, world, kind, target, status):
    path = f"/api/invoices/{world['invoice']}/transitions"
    response = client.post(path, json={"kind": kind, "to": target}, headers={**as_role("finanzas"), "If-Match": '"1"'})
    assert response.status_code == status, response.get_json()


def test_the_whole_graph_with_dates_amounts_and_history(client, as_role, world):
    fin, path = as_role("finanzas"), f"/api/invoices/{world['invoice']}"

    def move(kind, to, version, **extra):
        return client.post(
            f"{path}/transitions", json={"kind": kind, "to": to, **extra}, headers={**fin, "If-Match": f'"{version}"'}
        )

    assert move("provision", "in_review", 1).status_code == 200
    done = move("provision", "provisioned", 2, date="2026-11-05").get_json()
    assert done["provision_status"] == "provisioned" and done["provision_date"] == "2026-11-05"
    assert move("provision", "provisioned", 3).status_code == 409
    assert move("billing", "billed", 3).get_json()["billing_date"]
    bad = move("payment", "partial", 4, amount_paid="2000.00")
    assert bad.status_code == 422 and "amount_paid" in bad.get_json()["error"]["fields"]
    partial = move("payment", "partial", 4, amount_paid="250.50").get_json()
    assert partial["payment_status"] == "partial" and partial["amount_paid"] == "250.50"
    paid = move("payment", "paid", 5).get_json()
    assert paid["payment_status"] == "paid" and paid["amount_paid"] == "1250.50" and paid["payment_date"]
    assert move("provision", "voided", 6).get_json()["provision_status"] == "voided"
    assert move("payment", "paid", 6).status_code == 412
    history = client.get(f"{path}/history", headers=as_role("operativo")).get_json()["items"]
    assert [h["action"] for h in history] == [
        "create",
        "transition:provision",
        "transition:provision",
        "transition:billing",
        "transition:payment",
        "transition:payment",
        "transition:provision",
    ]
    assert history[5]["changes"]["amount_paid"] == ["250.50", "1250.50"] and history[5]["actor"] == "token:finanzas"
    assert (
        client.post(
            f"{path}/transitions", json={"kind": "billing", "to": "billed"}, headers=as_role("operativo")
        ).status_code
        == 403
    )


def test_history_is_in_the_same_transaction(app, client, as_role, world, monkeypatch):
    jefe, path = as_role("jefe_operaciones"), f"/api/clients/{world['client']}"
    patch(client, path, {"nit": "1"}, jefe, 1)
    rows = client.get(f"{path}/history", headers=jefe).get_json()["items"]
    assert rows[-1]["changes"] == {"nit": [None, "1"]} and rows[-1]["actor"] == "token:jefe_operaciones"
    from app.writes import routes

    def failing_commit(resource, row):
        db.session.flush()
        raise RuntimeError("the database said no")

    monkeypatch.setattr(routes, "_commit", failing_commit)
    assert patch(client, path, {"nit": "2"}, jefe, 2).status_code == 500
    with app.app_context():
        audit = db.session.scalars(select(History).where(History.resource == "clients")).all()
        assert len(audit) == 2  # create + the first update: the failed one left nothing
    assert client.get(path, headers=jefe).get_json()["nit"] == "1"


def test_delete_refused_while_referenced_then_allowed(client, as_role, world):
    jefe = as_role("jefe_operaciones")
    referenced = client.delete(f"/api/clients/{world['client']}", headers=jefe)
    assert referenced.status_code == 409 and referenced.get_json()["error"]["referenced_by"] == "ots"
    assert client.delete(f"/api/ots/{world['ot']}", headers=jefe).status_code == 409
    assert client.delete(f"/api/invoices/{world['invoice']}", headers=as_role("finanzas")).status_code == 403
    assert client.delete(f"/api/invoices/{world['invoice']}", headers=jefe).status_code == 204
    assert client.delete(f"/api/ots/{world['ot']}", headers=jefe).status_code == 204
    assert client.delete(f"/api/clients/{world['client']}", headers=jefe).status_code == 204
    history = client.get(f"/api/clients/{world['client']}/history", headers=jefe).get_json()["items"]
    assert [h["action"] for h in history] == ["create", "delete"]
    assert client.get(f"/api/clients/{world['client']}", headers=jefe).status_code == 404


def test_assign_and_unassign_bump_the_version_and_leave_history(client, as_role, world):
    jefe, path = as_role("jefe_operaciones"), f"/api/invoices/{world['invoice']}"
    client.post(f"{path}/unassign", headers=jefe)
    client.post(f"{path}/assign", json={"ot_id": world["ot"]}, headers=jefe)
    body = client.get(path, headers=jefe).get_json()
    assert body["version"] == 3 and body["ot_id"] == world["ot"]
    actions = [h["action"] for h in client.get(f"{path}/history", headers=jefe).get_json()["items"]]
    assert actions == ["create", "unassign", "assign"]


def test_ot_and_container_numbers_are_normalised_as_everywhere_else(client, as_role, world) -> None:
    jefe = as_role("jefe_operaciones")
    owner = world["client"]
    typed = {"ot_number": " 26ot 0777 ", "client_id": owner, "containers": ["mscu 123456-7", "MSCU1234567"]}
    created = client.post("/api/ots", json=typed, headers=jefe)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["ot_number"], body["containers"]) == ("26OT0777", ["MSCU1234567"])
    not_a_container = {"ot_number": "26OT0778", "client_id": owner, "containers": ["POR ASIGNAR"]}
    bad = client.post("/api/ots", json=not_a_container, headers=jefe)
    assert bad.status_code == 422 and "containers" in bad.get_json()["error"]["fields"]
    bad = client.post("/api/ots", json={"ot_number": "26OT/0779", "client_id": owner}, headers=jefe)
    assert bad.status_code == 422 and "ot_number" in bad.get_json()["error"]["fields"]


def test_cost_types_filter_by_category_id(client, as_role, world):
    ops = as_role("operativo")
    items = client.get("/api/cost-types", headers=ops).get_json()["items"]
    category = items[0]["category_id"]
    chosen = client.get(f"/api/cost-types?category_id={category}", headers=ops).get_json()["items"]
    assert chosen and {item["category_id"] for item in chosen} == {category}
    assert len(chosen) == sum(1 for item in items if item["category_id"] == category)
    bad = client.get("/api/cost-types?category_id=abc", headers=ops)
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "category_id"


def test_document_attach_and_detach_need_if_match_and_leave_history(client, as_role, world):
    jefe, path = as_role("jefe_operaciones"), f"/api/invoices/{world['invoice']}"
    pdf = {**jefe, "Content-Type": "application/pdf"}
    uploaded = client.post("/api/uploads", data=b"%PDF-1.4\n%%EOF\n", headers=pdf)
    document = uploaded.get_json()["id"]
    assert client.put(f"{path}/document", json={"document_id": document}, headers=jefe).status_code == 428
    attached = client.put(f"{path}/document", json={"document_id": document}, headers={**jefe, "If-Match": '"1"'})
    assert attached.status_code == 200 and attached.get_json()["document_id"] == document
    assert attached.headers["ETag"] == '"2"'
    missing = client.put(f"{path}/document", json={"document_id": 999999}, headers={**jefe, "If-Match": '"2"'})
    assert missing.status_code == 422 and "document_id" in missing.get_json()["error"]["fields"]
    stale = client.delete(f"{path}/document", headers={**jefe, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.get_json()["error"]["current_version"] == 2
    detached = client.delete(f"{path}/document", headers={**jefe, "If-Match": '"2"'})
    assert detached.status_code == 200 and detached.get_json()["document_id"] is None
    assert client.delete(f"{path}/document", headers={**jefe, "If-Match": '"3"'}).status_code == 409
    assert client.get(f"/api/uploads/{document}", headers=jefe).status_code == 200  # the file stays
    history = client.get(f"{path}/history", headers=jefe).get_json()["items"]
    assert [h["action"] for h in history] == ["create", "attach", "detach"]
    assert history[1]["changes"] == {"document_id": [None, document]}


def test_an_upload_naming_an_invoice_attaches_with_history(client, as_role, world):
    jefe, path = as_role("jefe_operaciones"), f"/api/invoices/{world['invoice']}"
    headers = {**jefe, "Content-Type": "application/pdf"}
    first = client.post(f"/api/uploads?invoice_id={world['invoice']}", data=b"%PDF-1.4\n1\n%%EOF\n", headers=headers)
    again = client.post(f"/api/uploads?invoice_id={world['invoice']}", data=b"%PDF-1.4\n2\n%%EOF\n", headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    history = client.get(f"{path}/history", headers=jefe).get_json()["items"]
    assert [h["action"] for h in history] == ["create", "attach", "attach"]
    assert history[2]["changes"] == {"document_id": [first.get_json()["id"], again.get_json()["id"]]}


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_a_transitions_default_date_is_today_in_the_teams_zone(app, client, as_role, world, zone):
    """UTC+14 and UTC-11: at any hour at least one of them is on another date than UTC."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    app.config["APP_TIMEZONE"] = zone
    path = f"/api/invoices/{world['invoice']}/transitions"
    moved = client.post(
        path, json={"kind": "billing", "to": "billed"}, headers={**as_role("finanzas"), "If-Match": '"1"'}
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["billing_date"] == dt.datetime.now(ZoneInfo(zone)).date().isoformat()
