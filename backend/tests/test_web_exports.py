"""The web export menu: the column picker (GET, no JavaScript), the background offer, "your exports" (Redis db 8)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from app.exports.jobs import QUEUE_NAME
from app.extensions import db
from app.models import ExportJob, Invoice
from tests.web_helpers import csrf, make_user, sign_in, signed_in, text

REDIS_URL = "redis://127.0.0.1:6379/8"  # this suite's database number; emptied before and after


@pytest.fixture
def redis8() -> Iterator[Redis]:
    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except RedisError as exc:
        pytest.skip(f"background exports need Redis at {REDIS_URL}: {exc}")
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


def picker(page: str) -> str:
    match = re.search(r'<form method="get" action="/exports/choose" class="picker">(.*?)</form>', page, re.S)
    assert match, "no column picker on the page"
    return match.group(1)


def fields(form: str, kind: str) -> list[tuple[str, str]]:
    return re.findall(rf'<input type="{kind}" name="([^"]+)" value="([^"]*)"', form)


def test_the_picker_carries_the_filter_and_every_column_and_its_download_has_columns_in_export_order(seeded):
    client = signed_in(seeded, "operativo")
    form = picker(text(client.get("/invoices?provision_status=pending&q=")))
    assert ("resource", "invoices") in fields(form, "hidden")
    assert ("provision_status", "pending") in fields(form, "hidden")
    assert "q" not in dict(fields(form, "hidden"))  # an empty box is no filter
    ticked = [value for name, value in fields(form, "checkbox") if name == "columns"]
    assert ticked[:3] == ["id", "invoice_number", "ot_number"] and "created_at" in ticked
    assert "Invoice number" in form and "Export in the background" not in form

    query = "resource=invoices&lang=en&provision_status=pending&columns=amount&columns=invoice_number&columns=id"
    response = client.get(f"/exports/choose?{query}&format=csv&mode=download")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert urlsplit(location).path == "/api/invoices/export"
    assert "columns=id,invoice_number,amount" in location
    assert dict(parse_qsl(urlsplit(location).query)) == {
        "lang": "en",
        "provision_status": "pending",
        "format": "csv",
        "columns": "id,invoice_number,amount",
    }
    rows = list(csv.reader(io.StringIO(client.get(location).get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["ID", "Invoice number", "Amount (USD)"]
    with seeded.app_context():
        pending = db.session.scalar(select(func.count()).where(Invoice.provision_status == "pending"))
    assert len(rows) - 1 == pending > 0


def test_the_ot_picker_lists_the_ot_columns_and_an_unknown_column_is_the_api_400(seeded):
    client = signed_in(seeded, "operativo", language="es")
    form = picker(text(client.get("/ots")))
    assert ("resource", "ots") in fields(form, "hidden") and ("lang", "es") in fields(form, "hidden")
    assert [value for name, value in fields(form, "checkbox")][:2] == ["operativo", "ot_number"]
    assert "Número OT" in form  # the file's own headings, in the page's language
    response = client.get("/exports/choose?resource=ots&format=csv&columns=ot_number&columns=bogus")
    assert response.headers["Location"].endswith("columns=ot_number,bogus")
    refused = client.get(response.headers["Location"])
    assert refused.status_code == 400 and "bogus" in text(refused)
    assert client.get("/exports/choose?resource=users").status_code == 404


def test_the_background_offer_needs_redis_and_a_count_above_the_setting(seeded):
    client = signed_in(seeded, "operativo")
    offer = "Export in the background"
    seeded.config["EXPORT_BACKGROUND_ROWS"] = 100  # 300 seeded invoices
    assert offer not in text(client.get("/invoices"))  # no REDIS_URL: no queue to offer
    seeded.config["REDIS_URL"] = REDIS_URL
    assert offer in text(client.get("/invoices"))
    with seeded.app_context():
        pending = db.session.scalar(select(func.count()).where(Invoice.provision_status == "pending"))
    seeded.config["EXPORT_BACKGROUND_ROWS"] = pending
    assert offer not in text(client.get("/invoices?provision_status=pending"))  # exactly the setting: streamed
    assert offer in text(client.get("/invoices"))
    seeded.config["EXPORT_BACKGROUND_ROWS"] = 29
    assert offer in text(client.get("/ots"))  # 30 seeded OTs
    seeded.config["EXPORT_BACKGROUND_ROWS"] = 30
    assert offer not in text(client.get("/ots"))


def _start(client, query: str) -> tuple[str, list[tuple[str, str]]]:
    """The confirmation page's POST form: its CSRF token and its hidden fields."""
    page = text(client.get(f"/exports/choose?{query}&mode=background"))
    form = re.search(r'<form method="post" action="/exports">(.*?)</form>', page, re.S)
    assert form, page
    hidden = fields(form.group(1), "hidden")
    return dict(hidden)["csrf_token"], hidden


def test_a_background_export_is_queued_by_the_api_function_and_listed_only_for_its_owner(seeded, redis8):
    seeded.config["REDIS_URL"] = REDIS_URL
    client = signed_in(seeded, "operativo")  # exports are reads: the lowest role may start one
    query = "resource=invoices&lang=en&format=csv&billing_status=pending&columns=id&columns=amount"
    token, hidden = _start(client, query)
    assert ("columns", "id,amount") in hidden and ("billing_status", "pending") in hidden
    response = client.post("/exports", data=MultiDict(hidden))
    assert response.status_code == 303 and response.headers["Location"] == "/exports"
    with seeded.app_context():
        job = db.session.scalars(select(ExportJob)).one()
        assert job.owner == "operativo@plg.sv" and job.status == "queued" and job.format == "csv"
        assert job.request == {
            "resource": "invoices",
            "args": [["lang", "en"], ["format", "csv"], ["billing_status", "pending"], ["columns", "id,amount"]],
        }
        job_id = job.id
    assert redis8.llen(f"rq:queue:{QUEUE_NAME}") == 1  # on the RQ queue, for the worker
    page = text(client.get("/exports", follow_redirects=True))
    assert job_id in page and "Queued" in page and "Cancel" in page
    assert client.get(f"/api/exports/{job_id}").get_json()["status"] == "queued"  # what the page's script polls

    other = seeded.test_client()
    make_user(seeded, "finanzas")
    sign_in(other, "finanzas@plg.sv")
    assert job_id not in text(other.get("/exports"))
    refused = other.post(f"/exports/{job_id}/cancel", data={"csrf_token": csrf(other, "/exports")})
    assert refused.status_code == 303
    assert "no such export job" in text(other.get("/exports"))

    assert client.post(f"/exports/{job_id}/cancel", data={"csrf_token": token}).status_code == 303
    with seeded.app_context():
        assert db.session.get(ExportJob, job_id).status == "cancelled"
    assert "Cancelled" in text(client.get("/exports"))


def test_starting_without_the_csrf_token_is_refused_and_queues_nothing(seeded, redis8):
    seeded.config["REDIS_URL"] = REDIS_URL
    client = signed_in(seeded, "operativo")
    _, hidden = _start(client, "resource=ots&format=xlsx")
    forged = [(name, value) for name, value in hidden if name != "csrf_token"]
    assert client.post("/exports", data=MultiDict(forged)).status_code == 400
    with seeded.app_context():
        assert db.session.scalar(select(func.count()).select_from(ExportJob)) == 0
    assert redis8.llen(f"rq:queue:{QUEUE_NAME}") == 0


def test_without_redis_the_start_is_explained_on_the_page_not_queued(seeded):
    client = signed_in(seeded, "operativo")
    _, hidden = _start(client, "resource=invoices&format=csv")
    page = text(client.post("/exports", data=MultiDict(hidden), follow_redirects=True))
    assert "REDIS_URL" in page and "No background export yet" in page
    with seeded.app_context():
        assert db.session.scalar(select(func.count()).select_from(ExportJob)) == 0


def test_your_exports_is_in_spanish_for_a_spanish_account(seeded):
    client = signed_in(seeded, "operativo", language="es")
    page = text(client.get("/exports"))
    assert "Sus exportaciones" in page and "Aún no hay exportaciones en segundo plano" in page
    assert "/assets/js/exports.mjs" in page
