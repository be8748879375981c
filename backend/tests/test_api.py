"""List/detail endpoints: every filter and the keyset cursor, checked against the full data set.

The expected rows are computed in Python from the complete, unfiltered listing, so each filter is
verified independently of the SQL that implements it, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest


def fetch_all(client, auth, path, **params):
    """Follow ``next`` cursors until the end; return all items in order."""
    items, cursor = [], None
    while True:
        query = dict(params, limit=37, **({"cursor": cursor} if cursor else {}))
        response = client.get(path, query_string=query, headers=auth)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        items += body["items"]
        cursor = body["next"]
        if cursor is None:
            return items


@pytest.fixture
def all_invoices(seeded, client, auth):
    return fetch_all(client, auth, "/api/invoices")


@pytest.fixture
def all_ots(seeded, client, auth):
    return fetch_all(client, auth, "/api/ots")


def ids(items):
    return [item["id"] for item in items]


def test_pagination_walks_every_row_once_newest_first(all_invoices):
    assert len(all_invoices) == 300
    assert ids(all_invoices) == sorted(ids(all_invoices), reverse=True)


def test_limit_is_bounded(client, auth, seeded):
    assert len(client.get("/api/invoices?limit=500", headers=auth).get_json()["items"]) == 300
    for bad in ("0", "501", "ten"):
        response = client.get(f"/api/invoices?limit={bad}", headers=auth)
        assert response.status_code == 400
        assert response.get_json()["error"]["parameter"] == "limit"


@pytest.mark.parametrize("cursor", ["garbage", "djE6LTE", "djI6MTA", "!!!"])
def test_forged_cursor_is_400(client, auth, cursor):
    response = client.get("/api/invoices", query_string={"cursor": cursor}, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == "cursor"


def _day(value):
    return dt.date.fromisoformat(value) if value else None


INVOICE_CASES = [
    ("provision_status", "pending", lambda i: i["provision_status"] == "pending"),
    ("provision_status", "pending,provisioned", lambda i: i["provision_status"] in ("pending", "provisioned")),
    ("provision_status", "in_review", lambda i: i["provision_status"] == "in_review"),
    ("billing_status", "billed", lambda i: i["billing_status"] == "billed"),
    ("payment_status", "paid", lambda i: i["payment_status"] == "paid"),
    ("cost_type", "FLETE", lambda i: i["cost_type"] == "FLETE"),
    ("cost_type", "ADUANA,TRANSPORTE", lambda i: i["cost_type"] in ("ADUANA", "TRANSPORTE")),
    ("operativo", "Ana Martínez", lambda i: i["operativo"] == "Ana Martínez"),
    ("assignment_method", "unassigned", lambda i: i["assignment_method"] == "unassigned"),
    ("needs_review", "true", lambda i: i["needs_review"]),
    ("needs_review", "false", lambda i: not i["needs_review"]),
    ("issue_date_from", "2026-06-01", lambda i: _day(i["issue_date"]) >= dt.date(2026, 6, 1)),
    ("issue_date_to", "2026-03-31", lambda i: _day(i["issue_date"]) <= dt.date(2026, 3, 31)),
    ("due_date_from", "2026-10-01", lambda i: _day(i["due_date"]) >= dt.date(2026, 10, 1)),
    (
        "provision_date_to",
        "2026-02-01",
        lambda i: i["provision_date"] and _day(i["provision_date"]) <= dt.date(2026, 2, 1),
    ),
    ("billing_date_from", "2026-09-01", lambda i: i["billing_date"] and _day(i["billing_date"]) >= dt.date(2026, 9, 1)),
    ("created_to", "2026-01-15", lambda i: i["created_at"][:10] <= "2026-01-15"),
    ("amount_min", "10000", lambda i: Decimal(i["amount"]) >= 10000),
    ("amount_max", "500.50", lambda i: Decimal(i["amount"]) <= Decimal("500.50")),
]


@pytest.mark.parametrize(("name", "value", "predicate"), INVOICE_CASES, ids=[f"{c[0]}={c[1]}" for c in INVOICE_CASES])
def test_invoice_filter(client, auth, all_invoices, name, value, predicate):
    expected = [i["id"] for i in all_invoices if predicate(i)]
    assert expected, "the seed must exercise this filter"
    assert ids(fetch_all(client, auth, "/api/invoices", **{name: value})) == expected


def test_invoice_filters_by_relations(client, auth, all_invoices, all_ots):
    sample = next(i for i in all_invoices if i["ot_id"])
    ot = next(o for o in all_ots if o["id"] == sample["ot_id"])
    cases = {
        "provider_id": (sample["provider_id"], lambda i: i["provider_id"] == sample["provider_id"]),
        "provider_nit": (sample["provider_nit"], lambda i: i["provider_nit"] == sample["provider_nit"]),
        "ot_id": (sample["ot_id"], lambda i: i["ot_id"] == sample["ot_id"]),
        "ot_number": (ot["ot_number"], lambda i: i["ot_number"] == ot["ot_number"]),
        "invoice_number": (sample["invoice_number"], lambda i: i["invoice_number"] == sample["invoice_number"]),
    }
    client_ots = {o["id"] for o in all_ots if o["client_id"] == ot["client_id"]}
    cases["client_id"] = (ot["client_id"], lambda i: i["ot_id"] in client_ots)
    for name, (value, predicate) in cases.items():
        expected = [i["id"] for i in all_invoices if predicate(i)]
        assert ids(fetch_all(client, auth, "/api/invoices", **{name: value})) == expected, name


def test_invoice_free_text(client, auth, all_invoices):
    expected = [i["id"] for i in all_invoices if i["notes"] and "demoras" in i["notes"].lower()]
    assert expected
    assert set(expected) <= set(ids(fetch_all(client, auth, "/api/invoices", q="DEMORAS")))
    provider = all_invoices[0]["provider_name"]
    found = fetch_all(client, auth, "/api/invoices", q=provider)
    assert {i["id"] for i in all_invoices if i["provider_name"] == provider} <= set(ids(found))


def _text_match(term, invoice, ots_by_id):
    """What ``q=`` means, in Python: a case-insensitive substring of any searched field."""
    ot = ots_by_id.get(invoice["ot_id"]) or {}
    fields = [invoice["invoice_number"], invoice["provider_nit"], invoice["notes"], invoice["provider_name"]]
    fields += [ot.get("ot_number"), ot.get("master_bl")]
    return any(term.lower() in field.lower() for field in fields if field)


@pytest.mark.parametrize("related_ids_max", [1000, 0])
def test_invoice_free_text_matches_every_searched_field(
    client, auth, all_invoices, all_ots, monkeypatch, related_ids_max
):
    """Exactly the Python answer, whether the related ids are inlined as constants or left as a subquery (max 0)."""
    monkeypatch.setattr("app.filters.RELATED_IDS_MAX", related_ids_max)
    ots_by_id = {ot["id"]: ot for ot in all_ots}
    sample, ot = all_invoices[5], all_ots[3]
    terms = [
        sample["invoice_number"][-6:],
        sample["provider_nit"][:5],
        sample["provider_name"].split()[0].upper(),
        ot["ot_number"].lower(),
        ot["master_bl"][:4],
        ot["master_bl"][-5:],
        "descuento",
        "no-such-text",
    ]
    for term in terms:
        expected = [i["id"] for i in all_invoices if _text_match(term, i, ots_by_id)]
        assert ids(fetch_all(client, auth, "/api/invoices", q=term)) == expected, term


def test_free_text_wildcards_are_literal(client, auth, all_invoices):
    with_percent = [i["id"] for i in all_invoices if "%" in (i["notes"] or "")]
    assert with_percent, "the seed has notes with a literal %"
    assert ids(fetch_all(client, auth, "/api/invoices", q="%")) == with_percent
    assert ids(fetch_all(client, auth, "/api/invoices", q="10%")) == with_percent
    assert fetch_all(client, auth, "/api/invoices", q="_") == []


def test_combined_filters_and(client, auth, all_invoices):
    expected = [i["id"] for i in all_invoices if i["billing_status"] == "pending" and i["needs_review"]]
    assert ids(fetch_all(client, auth, "/api/invoices", billing_status="pending", needs_review="1")) == expected


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("provision_status=lost", "provision_status"),
        ("needs_review=maybe", "needs_review"),
        ("amount_min=NaN", "amount_min"),
        ("amount_min=12abc", "amount_min"),
        ("provider_id=-3", "provider_id"),
        ("provider_id=abc", "provider_id"),
        ("issue_date_from=2026-13-01", "issue_date_from"),
        ("issue_date_from=2026-05-01&issue_date_to=2026-04-01", "issue_date_to"),
        ("amount_min=10&amount_max=5", "amount_max"),
        ("provider_id=1&provider_id=2", "provider_id"),
        ("q=", "q"),
        ("q=a%00b", "q"),
        ("invoice_number=%0A", "invoice_number"),
        ("colour=red", "colour"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(client, auth, query, parameter):
    response = client.get(f"/api/invoices?{query}", headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == parameter


OT_CASES = [
    ("status", "cerrada", lambda o: o["status"] == "cerrada"),
    ("status", "transito,en_rada", lambda o: o["status"] in ("transito", "en_rada")),
    ("operation_type", "exportacion", lambda o: o["operation_type"] == "exportacion"),
    ("provision_status", "provisioned", lambda o: o["provision_status"] == "provisioned"),
    ("billing_status", "billed", lambda o: o["billing_status"] == "billed"),
    ("operativo", "Carlos Hernández", lambda o: o["operativo"] == "Carlos Hernández"),
    ("eta_from", "2026-07-01", lambda o: o["eta"] >= "2026-07-01"),
    ("eta_to", "2026-03-01", lambda o: o["eta"] <= "2026-03-01"),
    ("created_from", "2026-06-01", lambda o: o["created_at"][:10] >= "2026-06-01"),
]


@pytest.mark.parametrize(("name", "value", "predicate"), OT_CASES, ids=[f"{c[0]}={c[1]}" for c in OT_CASES])
def test_ot_filter(client, auth, all_ots, name, value, predicate):
    expected = [o["id"] for o in all_ots if predicate(o)]
    assert expected
    assert ids(fetch_all(client, auth, "/api/ots", **{name: value})) == expected


def test_ot_filters_by_relations_and_text(client, auth, all_ots):
    sample = all_ots[3]
    assert ids(fetch_all(client, auth, "/api/ots", ot_number=sample["ot_number"])) == [sample["id"]]
    assert ids(fetch_all(client, auth, "/api/ots", master_bl=sample["master_bl"])) == [sample["id"]]
    by_client = [o["id"] for o in all_ots if o["client_id"] == sample["client_id"]]
    assert ids(fetch_all(client, auth, "/api/ots", client_id=sample["client_id"])) == by_client
    by_carrier = [o["id"] for o in all_ots if o["carrier_id"] == sample["carrier_id"]]
    assert ids(fetch_all(client, auth, "/api/ots", carrier_id=sample["carrier_id"])) == by_carrier
    container = sample["containers"][0]
    assert sample["id"] in ids(fetch_all(client, auth, "/api/ots", q=container.lower()))


def test_detail_endpoints(client, auth, all_invoices, all_ots):
    invoice = client.get(f"/api/invoices/{all_invoices[5]['id']}", headers=auth).get_json()
    assert invoice == all_invoices[5]
    assert invoice["currency"] == "USD"
    Decimal(invoice["amount"])  # exact decimal string, not a float
    ot = client.get(f"/api/ots/{all_ots[2]['id']}", headers=auth).get_json()
    assert ot == all_ots[2]
    assert isinstance(ot["containers"], list)


def test_every_listed_row_is_its_detail(app, client, auth, seeded):
    """The lists read plain rows (app.api.lists), the details loaded models: the JSON must not differ."""
    from app.extensions import db
    from app.models import Ot

    with app.app_context():
        db.session.scalars(db.select(Ot).limit(1)).one().carrier_id = None
        db.session.commit()
    all_invoices, all_ots = fetch_all(client, auth, "/api/invoices"), fetch_all(client, auth, "/api/ots")
    assert any(item["ot_id"] is None for item in all_invoices), "the seed has unassigned invoices"
    assert any(item["carrier_id"] is None for item in all_ots)
    for item in all_invoices:
        assert client.get(f"/api/invoices/{item['id']}", headers=auth).get_json() == item
    for item in all_ots:
        assert client.get(f"/api/ots/{item['id']}", headers=auth).get_json() == item


def test_lists_build_no_model_objects(app, client, auth, seeded):
    """A list page is plain rows: loading 50 invoices with their OTs and providers as objects cost the CPU."""
    from sqlalchemy import event

    from app.models import Client, Invoice, Ot, Provider

    loaded = []

    def record(target, _context):
        loaded.append(type(target).__name__)

    models = (Invoice, Ot, Provider, Client)
    for model in models:
        event.listen(model, "load", record)
    try:
        for path in ("/api/invoices?limit=50", "/api/invoices?limit=50&q=a", "/api/ots?limit=50"):
            assert len(client.get(path, headers=auth).get_json()["items"]) > 0
    finally:
        for model in models:
            event.remove(model, "load", record)
    assert loaded == []
