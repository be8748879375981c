"""Extraction patterns as data: admin CRUD, validation, the time-bounded test call, and the value readers."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from flask import Flask

from app.extensions import db
from app.intake.dte import MAX_DEPTH, nesting_depth
from app.intake.patterns import default_patterns
from app.intake.values import normalise_nit, parse_amount, parse_date
from app.models import Provider

URL = "/api/extraction-patterns"


@pytest.fixture
def provider_id(app: Flask) -> int:
    with app.app_context():
        provider = Provider(name="Naviera Demo", nit="0614-150390-101-2", type="naviera", credit_days=30)
        db.session.add(provider)
        db.session.commit()
        return provider.id


def test_crud_round_trip(client, auth, provider_id) -> None:
    created = client.post(
        URL,
        json={"provider_id": provider_id, "field": "invoice_number", "pattern": r"Doc#(\w+)", "priority": 5},
        headers=auth,
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["provider_id"] == provider_id and body["priority"] == 5 and body["active"] is True
    generic = client.post(URL, json={"field": "total", "pattern": r"Monto: (\S+)"}, headers=auth).get_json()
    assert generic["provider_id"] is None and generic["priority"] == 100
    listed = client.get(URL, headers=auth).get_json()["items"]
    assert [item["id"] for item in listed] == [body["id"], generic["id"]]  # provider's first, as they are tried
    assert [i["id"] for i in client.get(f"{URL}?provider_id=null", headers=auth).get_json()["items"]] == [generic["id"]]
    patched = client.patch(f"{URL}/{body['id']}", json={"priority": 1, "active": False}, headers=auth)
    assert patched.status_code == 200 and patched.get_json()["active"] is False
    assert client.delete(f"{URL}/{body['id']}", headers=auth).status_code == 204
    assert client.patch(f"{URL}/{body['id']}", json={"priority": 1}, headers=auth).status_code == 404
    assert client.delete(f"{URL}/{body['id']}", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"field": "invoice_number", "pattern": "(unclosed"}, 422, "invalid_pattern"),
        ({"field": "colour", "pattern": "x"}, 400, "invalid_body"),
        ({"field": "total", "pattern": "x", "priority": "high"}, 400, "invalid_body"),
        ({"field": "total", "pattern": "x", "priority": 1.5}, 400, "invalid_body"),
        ({"field": "total", "pattern": ""}, 422, "invalid_pattern"),
        ({"field": "total", "pattern": "x" * 1001}, 422, "invalid_pattern"),
        ({"field": "total", "pattern": "x", "provider_id": 999999}, 422, "unknown_provider"),
        ({"field": "total", "pattern": "x", "active": "yes"}, 400, "invalid_body"),
        ({"field": "total", "pattern": "x", "extra": 1}, 400, "invalid_body"),
        ({"pattern": "x"}, 400, "invalid_body"),
    ],
)
def test_create_validates(client, auth, provider_id, payload, status, code) -> None:
    answer = client.post(URL, json=payload, headers=auth)
    assert answer.status_code == status and answer.get_json()["error"]["code"] == code


def test_patterns_need_an_admin(client, user_token) -> None:
    headers = {"Authorization": f"Bearer {user_token}"}
    assert client.get(URL, headers=headers).status_code == 403
    assert client.post(URL, json={"field": "total", "pattern": "x"}, headers=headers).status_code == 403
    assert client.post(f"{URL}/test", json={"pattern": "x", "text": "x"}, headers=headers).status_code == 403


def test_the_test_call_returns_matches_and_normalised_values(client, auth) -> None:
    text = "Contenedores: MSCU 123456-7, tghu7654321"
    answer = client.post(
        f"{URL}/test",
        json={"pattern": r"(?i)([a-z]{4}\s?\d{6}-?\d)", "text": text, "field": "containers"},
        headers=auth,
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["count"] == 2
    assert [m["normalised"] for m in body["matches"]] == [["MSCU1234567"], ["TGHU7654321"]]
    assert body["matches"][0]["start"] == 14


def test_a_catastrophic_pattern_answers_422_pattern_timeout_quickly(app, client, auth) -> None:
    start = time.monotonic()
    answer = client.post(f"{URL}/test", json={"pattern": r"(a+)+$", "text": "a" * 5000 + "b"}, headers=auth)
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "pattern_timeout"
    assert time.monotonic() - start < 5 * app.config["INTAKE_PATTERN_TIMEOUT_MS"] / 1000 + 1
    # The worker is fine afterwards.
    assert client.post(f"{URL}/test", json={"pattern": "b", "text": "ab"}, headers=auth).status_code == 200


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"pattern": "(", "text": "x"}, "invalid_pattern"),
        ({"pattern": "x"}, "invalid_body"),
        ({"pattern": "x", "text": 5}, "invalid_body"),
        ({"pattern": "x", "text": "x", "field": "nope"}, "invalid_body"),
    ],
)
def test_the_test_call_validates(client, auth, payload, code) -> None:
    assert client.post(f"{URL}/test", json=payload, headers=auth).get_json()["error"]["code"] == code


def test_the_defaults_compile_and_cover_every_field() -> None:
    assert {p.field for p in default_patterns()} == {
        "invoice_number",
        "issue_date",
        "total",
        "master_bl",
        "containers",
        "ot_numbers",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("US$ 1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1234", "1234.00"),
        ("12,50", "12.50"),
        ("1,234", "1234.00"),
        (Decimal("9" * 30), None),
        ("-5", None),
        (True, None),
        ([1], None),
        ("abc", None),
        (10.1, "10.10"),
    ],
)
def test_amounts(raw, expected) -> None:
    value = parse_amount(raw)
    assert (str(value) if value is not None else None) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("15/03/2026", dt.date(2026, 3, 15)),
        ("2026-03-15", dt.date(2026, 3, 15)),
        ("03/15/2026", dt.date(2026, 3, 15)),
        ("15-03-26", dt.date(2026, 3, 15)),
        ("15 de marzo de 2026", dt.date(2026, 3, 15)),
        ("15-MAR-2026", dt.date(2026, 3, 15)),
        ("31/02/2026", None),
        ("mañana", None),
        (20260315, None),
    ],
)
def test_dates(raw, expected) -> None:
    assert parse_date(raw) == expected


def test_nits() -> None:
    assert normalise_nit("0614-150390-101-2") == normalise_nit("06141503901012") == "06141503901012"
    assert normalise_nit("123") is None and normalise_nit(None) is None and normalise_nit({"a": 1}) is None


def test_nesting_depth_ignores_brackets_in_strings_and_is_linear() -> None:
    assert nesting_depth(b'{"a": "[[[[[[[[", "b": [1, {"c": 2}]}') == 3
    start = time.monotonic()
    assert nesting_depth(b"[" * 2_000_000) > MAX_DEPTH
    assert nesting_depth(b'"' + b"[" * 2_000_000 + b'"') == 0
    assert time.monotonic() - start < 2
