"""Every page, role and form of the web app through the test client (CSRF included), on both databases."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import func, select

from app.auth import create_token
from app.extensions import db
from app.models import ApiToken, Client, History, Invoice, Ot, Provider, User
from tests.web_helpers import PASSWORD, csrf, make_user, sign_in, signed_in, text

ROLES = ("operativo", "finanzas", "jefe_operaciones", "admin")


def ids(app) -> dict[str, int]:
    with app.app_context():
        invoice = db.session.scalars(select(Invoice).order_by(Invoice.id)).first()
        return {
            "invoice": invoice.id,
            "ot": db.session.scalars(select(Ot.id).order_by(Ot.id)).first(),
            "client": db.session.scalars(select(Client.id).order_by(Client.id)).first(),
            "provider": db.session.scalars(select(Provider.id).order_by(Provider.id)).first(),
        }


def hrefs(page: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', page)]


# Pages by role ------------------------------------------------------------------------------------

PAGES = {  # path -> the lowest role that may open it
    "/": "operativo",
    "/invoices": "operativo",
    "/invoices/{invoice}": "operativo",
    "/ots": "operativo",
    "/ots/{ot}": "operativo",
    "/clients": "operativo",
    "/providers": "operativo",
    "/account": "operativo",
    "/exports": "operativo",
    "/invoices/{invoice}/edit": "finanzas",
    "/ots/{ot}/edit": "finanzas",
    "/invoices/new": "jefe_operaciones",
    "/ots/new": "jefe_operaciones",
    "/clients/new": "jefe_operaciones",
    "/clients/{client}/edit": "jefe_operaciones",
    "/providers/new": "jefe_operaciones",
    "/providers/{provider}/edit": "jefe_operaciones",
    "/admin/users": "admin",
    "/admin/tokens": "admin",
}


@pytest.mark.parametrize("role", ROLES)
def test_every_page_for_every_role(seeded, role):
    client = signed_in(seeded, role)
    known = ids(seeded)
    for path, lowest in PAGES.items():
        response = client.get(path.format(**known))
        expected = 200 if ROLES.index(role) >= ROLES.index(lowest) else 403
        assert response.status_code == expected, (path, role, response.status_code)
        assert response.mimetype == "text/html"


def test_every_page_sends_a_signed_out_browser_to_login(seeded):
    client = seeded.test_client()
    for path in PAGES:
        target = path.format(**ids(seeded))
        response = client.get(target)
        assert response.status_code == 303 and response.headers["Location"].startswith("/login?next=")


def test_operativo_sees_no_edit_buttons_and_a_forged_post_is_refused(seeded):
    client = signed_in(seeded, "operativo")
    known = ids(seeded)
    page = text(client.get(f"/invoices/{known['invoice']}"))
    assert "/edit" not in page and "/transition" not in page and "/assign" not in page and 'type="file"' not in page
    assert "/edit" not in text(client.get(f"/ots/{known['ot']}"))
    assert "/new" not in text(client.get("/invoices")) and "/new" not in text(client.get("/clients"))
    token = csrf(client, "/")
    with seeded.app_context():
        before = db.session.get(Invoice, known["invoice"])
        version, status = before.version, before.provision_status
    forged = {"csrf_token": token, "kind": "provision", "to": "in_review", "version": str(version)}
    for path, data in (
        (f"/invoices/{known['invoice']}/transition", forged),
        (f"/invoices/{known['invoice']}/edit", {"csrf_token": token, "notes": "x", "version": str(version)}),
        (f"/invoices/{known['invoice']}/unassign", {"csrf_token": token, "version": str(version)}),
        ("/clients/new", {"csrf_token": token, "name": "Forjado S.A."}),
    ):
        response = client.post(path, data=data)
        assert response.status_code == 403 and response.mimetype == "text/html", path
    with seeded.app_context():
        after = db.session.get(Invoice, known["invoice"])
        assert (after.version, after.provision_status) == (version, status)
        assert db.session.scalar(select(func.count()).select_from(Client).where(Client.name == "Forjado S.A.")) == 0


def test_forms_without_csrf_change_nothing(seeded):
    client = signed_in(seeded, "admin")
    known = ids(seeded)
    with seeded.app_context():
        version = db.session.get(Invoice, known["invoice"]).version
    response = client.post(f"/invoices/{known['invoice']}/edit", data={"notes": "no token", "version": str(version)})
    assert response.status_code == 400
    response = client.post("/clients/new", data={"name": "Sin Token S.A."})
    assert response.status_code == 400
    with seeded.app_context():
        assert db.session.get(Invoice, known["invoice"]).version == version
        assert not db.session.scalar(select(Client.id).where(Client.name == "Sin Token S.A."))


# Invoice list -------------------------------------------------------------------------------------


def api_ids(client, query: str) -> list[int]:
    body = client.get(f"/api/invoices?{query}").get_json()
    return [item["id"] for item in body["items"]]


def page_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'href="/invoices/(\d+)"', page)]


def test_invoice_list_shows_the_api_filter_and_pages_both_ways(seeded):
    client = signed_in(seeded, "operativo")
    query = "provision_status=pending&provision_status=in_review"
    first = text(client.get(f"/invoices?{query}&q=&issue_date_from="))  # empty boxes are ignored
    assert page_ids(first) == api_ids(client, "provision_status=pending,in_review&limit=50")
    older = next(href for href in hrefs(first) if "cursor=" in href)
    second = text(client.get(older))
    cursor = dict(parse_qsl(urlsplit(older).query))["cursor"]
    assert page_ids(second) == api_ids(client, f"provision_status=pending,in_review&limit=50&cursor={cursor}")
    newer = next(href for href in hrefs(second) if "before=" in href)
    assert page_ids(text(client.get(newer))) == page_ids(first)
    assert 'value="pending" checked' in first and 'value="in_review" checked' in first


def test_invoice_tabs_count_each_state_for_the_rest_of_the_filter(seeded):
    client = signed_in(seeded, "operativo")
    page = text(client.get("/invoices?cost_type=FLETE"))
    with seeded.app_context():
        for state in ("pending", "provisioned"):
            expected = db.session.scalar(
                select(func.count())
                .select_from(Invoice)
                .where(Invoice.cost_type == "FLETE", Invoice.provision_status == state)
            )
            link = f'href="/invoices?cost_type=FLETE&amp;provision_status={state}"'
            assert re.search(re.escape(link) + r"[^(]*\(" + re.escape(f"{expected:,}") + r"\)", page), state


def test_counts_above_the_cap_are_shown_as_about(seeded, monkeypatch):
    from app.web import lists

    monkeypatch.setattr(lists, "COUNT_CAP", 5)
    page = text(signed_in(seeded, "operativo").get("/invoices"))
    assert "(about " in page


def test_a_bad_filter_is_explained_on_the_page(seeded):
    response = signed_in(seeded, "operativo").get("/invoices?issue_date_from=2026-13-01")
    assert response.status_code == 200
    assert "This filter cannot be used" in text(response) and "issue_date_from" in text(response)
    assert not page_ids(text(response))


def test_export_links_carry_exactly_the_filter_and_work_with_the_session(seeded):
    client = signed_in(seeded, "operativo")
    page = text(client.get("/invoices?provision_status=pending&needs_review=true&cursor=djE6MTAw"))
    exports = [href for href in hrefs(page) if href.startswith("/api/")]
    assert "/api/invoices/export?provision_status=pending&needs_review=true&format=xlsx&lang=en" in exports
    assert "/api/invoices/export?provision_status=pending&needs_review=true&format=csv&lang=en" in exports
    assert "/api/invoices/documents.zip?provision_status=pending&needs_review=true" in exports
    csv = client.get("/api/invoices/export?provision_status=pending&needs_review=true&format=csv&lang=en")
    assert csv.status_code == 200
    lines = [line for line in csv.get_data(as_text=True).splitlines() if line.strip()]
    with seeded.app_context():
        expected = db.session.scalar(
            select(func.count())
            .select_from(Invoice)
            .where(Invoice.provision_status == "pending", Invoice.needs_review.is_(True))
        )
    assert len(lines) - 1 == expected


# OT list ------------------------------------------------------------------------------------------


def test_ot_list_takes_a_pasted_list_of_numbers_mbls_and_containers(seeded):
    with seeded.app_context():
        ots = db.session.scalars(select(Ot).where(Ot.master_bl.is_not(None)).order_by(Ot.id).limit(3)).all()
        with_container = db.session.scalars(select(Ot).order_by(Ot.id.desc())).first()
        with_container.containers = ["MSCU1234567"]
        db.session.commit()
        wanted = {ots[0].ot_number, ots[1].ot_number, with_container.ot_number}
        pasted = f"{ots[0].ot_number.lower()}\n{ots[1].master_bl}\r\nMSCU 123456-7, NADA000"
    client = signed_in(seeded, "operativo")
    page = text(client.get("/ots", query_string={"refs": pasted}))
    shown = set(re.findall(r'href="/ots/\d+">([^<]+)</a>', page))
    assert shown == wanted
    api = client.get("/api/ots", query_string={"refs": pasted}).get_json()
    assert {item["ot_number"] for item in api["items"]} == wanted
    assert client.get("/api/ots", query_string={"refs": " \n "}).status_code == 400


# Invoice detail -----------------------------------------------------------------------------------


def invoice_state(app, invoice_id: int) -> Invoice:
    with app.app_context():
        row = db.session.get(Invoice, invoice_id)
        db.session.expunge(row)
        return row


def pending_invoice(app) -> int:
    with app.app_context():
        return db.session.scalars(
            select(Invoice.id).where(Invoice.provision_status == "pending").order_by(Invoice.id)
        ).first()


def test_transition_buttons_move_the_state_with_history(seeded):
    client = signed_in(seeded, "finanzas")
    invoice_id = pending_invoice(seeded)
    page = text(client.get(f"/invoices/{invoice_id}"))
    assert 'name="to" value="in_review"' in page and 'name="to" value="provisioned"' not in page
    before = invoice_state(seeded, invoice_id)
    data = {"csrf_token": csrf(client, "/"), "kind": "provision", "to": "in_review", "version": before.version}
    response = client.post(f"/invoices/{invoice_id}/transition", data=data)
    assert response.status_code == 303 and response.headers["Location"] == f"/invoices/{invoice_id}"
    after = invoice_state(seeded, invoice_id)
    assert after.provision_status == "in_review" and after.version == before.version + 1
    stale = client.post(f"/invoices/{invoice_id}/transition", data={**data, "to": "provisioned"})
    assert stale.status_code == 303
    assert "changed since you read it" in text(client.get(f"/invoices/{invoice_id}"))
    assert invoice_state(seeded, invoice_id).provision_status == "in_review"
    with seeded.app_context():
        actions = db.session.scalars(select(History.action).where(History.record_id == invoice_id)).all()
    assert "transition:provision" in actions


def test_assign_and_unassign_the_ot_by_number(seeded):
    client = signed_in(seeded, "jefe_operaciones")
    invoice_id = pending_invoice(seeded)
    with seeded.app_context():
        target = db.session.scalars(select(Ot).order_by(Ot.id.desc())).first().ot_number
    version = invoice_state(seeded, invoice_id).version
    token = csrf(client, "/")
    client.post(f"/invoices/{invoice_id}/assign", data={"csrf_token": token, "version": version, "ot_number": target})
    assigned = invoice_state(seeded, invoice_id)
    assert assigned.assignment_method == "manual" and assigned.needs_review is False
    page = text(client.get(f"/invoices/{invoice_id}"))
    assert target in page and "By hand" in page
    client.post(
        f"/invoices/{invoice_id}/assign",
        data={"csrf_token": token, "version": assigned.version, "ot_number": "NO-SUCH"},
    )
    assert "no OT numbered NO-SUCH" in text(client.get(f"/invoices/{invoice_id}"))
    client.post(f"/invoices/{invoice_id}/unassign", data={"csrf_token": token, "version": assigned.version})
    assert invoice_state(seeded, invoice_id).ot_id is None


def test_attach_preview_and_detach_a_document(seeded):
    client = signed_in(seeded, "jefe_operaciones")
    invoice_id = pending_invoice(seeded)
    version = invoice_state(seeded, invoice_id).version
    pdf = b"%PDF-1.7\n" + b"web attach test\n" * 50
    response = client.post(
        f"/invoices/{invoice_id}/document",
        data={"csrf_token": csrf(client, "/"), "version": version, "file": (io.BytesIO(pdf), "factura.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    document_id = invoice_state(seeded, invoice_id).document_id
    assert document_id is not None
    page = text(client.get(f"/invoices/{invoice_id}"))
    assert f'src="/api/uploads/{document_id}/preview"' in page
    preview = client.get(f"/api/uploads/{document_id}/preview")
    assert preview.status_code == 200 and preview.data == pdf and "inline" in preview.headers["Content-Disposition"]
    version = invoice_state(seeded, invoice_id).version
    client.post(f"/invoices/{invoice_id}/document/detach", data={"csrf_token": csrf(client, "/"), "version": version})
    assert invoice_state(seeded, invoice_id).document_id is None
    with seeded.app_context():
        actions = db.session.scalars(select(History.action).where(History.record_id == invoice_id)).all()
    assert {"attach", "detach"} <= set(actions)


# Edit forms ---------------------------------------------------------------------------------------


def edit_form(client, path: str) -> dict[str, str]:
    page = text(client.get(path))
    fields = dict(re.findall(r'<input id="f-[^"]+" name="([^"]+)" value="([^"]*)"', page))
    fields.update(re.findall(r'<input type="hidden" name="(version|csrf_token)" value="([^"]*)"', page))
    for name, selected in re.findall(
        r'<select id="f-[^"]+" name="([^"]+)"[^>]*>(?:(?!</select>).)*?<option value="([^"]*)" selected', page, re.S
    ):
        fields[name] = selected
    return {name: value.replace("&amp;", "&") for name, value in fields.items()}


def test_edit_shows_field_errors_beside_the_fields_and_keeps_the_input(seeded):
    client = signed_in(seeded, "jefe_operaciones")
    invoice_id = pending_invoice(seeded)
    form = edit_form(client, f"/invoices/{invoice_id}/edit")
    form.update(amount="12.345", notes="nota que no se pierde", issue_date="")
    response = client.post(f"/invoices/{invoice_id}/edit", data=form)
    assert response.status_code == 422
    page = text(response)
    assert re.search(
        r'name="amount" value="12.345".*?class="field-error" id="e-amount">at most two decimals', page, re.S
    )
    assert 'id="e-issue_date">required' in page
    assert "nota que no se pierde" in page
    assert invoice_state(seeded, invoice_id).notes != "nota que no se pierde"


def test_a_concurrent_edit_keeps_the_input_and_shows_the_current_values(seeded, admin_token):
    client = signed_in(seeded, "jefe_operaciones")
    invoice_id = pending_invoice(seeded)
    form = edit_form(client, f"/invoices/{invoice_id}/edit")
    version = int(form["version"])
    other = seeded.test_client().patch(
        f"/api/invoices/{invoice_id}",
        json={"notes": "cambiado por otra persona"},
        headers={"Authorization": f"Bearer {admin_token}", "If-Match": f'"{version}"'},
    )
    assert other.status_code == 200
    mine = {**form, "notes": "mi nota", "amount": "999.99"}
    response = client.post(f"/invoices/{invoice_id}/edit", data=mine)
    assert response.status_code == 409
    page = text(response)
    assert "Someone else changed this record" in page
    assert "mi nota" in page and 'value="999.99"' in page
    assert "Now: cambiado por otra persona" in page
    assert f'name="version" value="{version + 1}"' in page
    saved = invoice_state(seeded, invoice_id)
    assert saved.notes == "cambiado por otra persona"
    again = client.post(f"/invoices/{invoice_id}/edit", data={**mine, "version": str(version + 1)})
    assert again.status_code == 303
    final = invoice_state(seeded, invoice_id)
    assert final.notes == "mi nota" and final.amount == Decimal("999.99")


def test_finanzas_edits_only_its_fields(seeded):
    client = signed_in(seeded, "finanzas")
    invoice_id = pending_invoice(seeded)
    page = text(client.get(f"/invoices/{invoice_id}/edit"))
    assert re.search(r'name="amount" value="[^"]*"[^>]*disabled', page)
    assert not re.search(r'name="notes"[^>]*disabled', page)
    form = edit_form(client, f"/invoices/{invoice_id}/edit")
    response = client.post(
        f"/invoices/{invoice_id}/edit",
        data={"csrf_token": form["csrf_token"], "version": form["version"], "notes": "de finanzas", "amount": "1.00"},
    )
    assert response.status_code == 303  # the amount is not a field finanzas may send: it is not read
    row = invoice_state(seeded, invoice_id)
    assert row.notes == "de finanzas" and row.amount != Decimal("1.00")


def test_create_client_and_provider_with_unique_fields(seeded):
    client = signed_in(seeded, "jefe_operaciones")
    token = csrf(client, "/")
    created = client.post("/clients/new", data={"csrf_token": token, "name": "Café Izalco S.A.", "nit": "0614-1"})
    assert created.status_code == 303 and created.headers["Location"] == "/clients"
    again = client.post("/clients/new", data={"csrf_token": token, "name": "Café Izalco S.A."})
    assert again.status_code == 422 and 'id="e-name">already taken' in text(again)
    provider = client.post(
        "/providers/new",
        data={"csrf_token": token, "name": "Naviera Web", "nit": "0614-999", "type": "naviera", "credit_days": "abc"},
    )
    assert provider.status_code == 422 and 'id="e-credit_days">an integer from 0 to 365' in text(provider)
    assert 'value="Naviera Web"' in text(provider)
    ok = client.post(
        "/providers/new",
        data={"csrf_token": token, "name": "Naviera Web", "nit": "0614-999", "type": "naviera", "credit_days": "30"},
    )
    assert ok.status_code == 303
    with seeded.app_context():
        assert db.session.scalar(select(Provider.credit_days).where(Provider.nit == "0614-999")) == 30
        assert db.session.scalar(select(History.actor).where(History.resource == "clients").order_by(History.id.desc()))


def test_create_and_edit_an_ot(seeded):
    client = signed_in(seeded, "jefe_operaciones")
    known = ids(seeded)
    token = csrf(client, "/")
    response = client.post(
        "/ots/new",
        data={
            "csrf_token": token,
            "ot_number": "26ot 900",
            "client_id": str(known["client"]),
            "containers": "mscu 123456-7\nTGHU7654321",
            "status": "transito",
        },
    )
    assert response.status_code == 303
    with seeded.app_context():
        ot = db.session.scalar(select(Ot).where(Ot.ot_number == "26OT900"))
        assert ot.containers == ["MSCU1234567", "TGHU7654321"]
    assert response.headers["Location"] == f"/ots/{ot.id}"
    form = edit_form(client, f"/ots/{ot.id}/edit")
    assert "MSCU1234567\nTGHU7654321" in text(client.get(f"/ots/{ot.id}/edit"))
    form.update(vessel="MSC ANNA 123N", containers="MSCU1234567")
    assert client.post(f"/ots/{ot.id}/edit", data=form).status_code == 303
    with seeded.app_context():
        row = db.session.get(Ot, ot.id)
        assert row.vessel == "MSC ANNA 123N" and row.containers == ["MSCU1234567"]
        assert row.field_sources.get("vessel") == "manual"


# Account and admin --------------------------------------------------------------------------------


def test_password_change_ends_other_sessions_and_keeps_this_one(app):
    make_user(app, "operativo", language="en")
    mine, other = app.test_client(), app.test_client()
    sign_in(mine, "operativo@plg.sv")
    sign_in(other, "operativo@plg.sv")
    token = csrf(mine, "/account")
    wrong = mine.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": "nope",
            "new_password": "another long one",
            "confirm_password": "another long one",
        },
    )
    assert wrong.status_code == 422 and "current password is not right" in text(wrong)
    short = mine.post(
        "/account/password",
        data={"csrf_token": token, "current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
    )
    assert short.status_code == 422
    done = mine.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "another long one",
            "confirm_password": "another long one",
        },
    )
    assert done.status_code == 303
    assert mine.get("/account").status_code == 200
    assert other.get("/account").status_code == 303


def test_own_tokens_created_once_listed_and_revoked(app):
    client = signed_in(app, "finanzas")
    token = csrf(client, "/account")
    refused = client.post("/account/tokens", data={"csrf_token": token, "name": "mío", "role": "admin"})
    assert refused.status_code == 403
    bad = client.post("/account/tokens", data={"csrf_token": token, "name": "", "expires_in_days": "0"})
    assert bad.status_code == 422
    created = client.post(
        "/account/tokens", data={"csrf_token": token, "name": "hoja", "role": "operativo", "expires_in_days": "30"}
    )
    assert created.status_code == 201
    secret = re.search(r'id="new-secret">([^<]+)<', text(created)).group(1)
    assert app.test_client().get("/api/invoices", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = text(client.get("/account"))
    assert "hoja" in listing and secret not in listing
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.name == "hoja"))
        service = create_token("servicio", "admin")
        service_id = db.session.scalar(select(ApiToken.id).where(ApiToken.name == "servicio"))
    assert client.post(f"/account/tokens/{service_id}/revoke", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": token}).status_code == 303
    assert app.test_client().get("/api/invoices", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert app.test_client().get("/api/invoices", headers={"Authorization": f"Bearer {service}"}).status_code == 200


def test_admin_creates_changes_and_deactivates_accounts_and_revokes_any_token(app):
    admin = signed_in(app, "admin")
    token = csrf(admin, "/admin/users")
    bad = admin.post(
        "/admin/users",
        data={"csrf_token": token, "email": "nope", "name": "X", "role": "operativo", "password": PASSWORD},
    )
    assert bad.status_code == 422 and 'value="nope"' in text(bad)
    made = admin.post(
        "/admin/users",
        data={"csrf_token": token, "email": "luis@plg.sv", "name": "Luis", "role": "operativo", "password": PASSWORD},
    )
    assert made.status_code == 303
    luis = app.test_client()
    sign_in(luis, "luis@plg.sv")
    with app.app_context():
        luis_id = db.session.scalar(select(User.id).where(User.email == "luis@plg.sv"))
        service = create_token("servicio", "admin")
        service_id = db.session.scalar(select(ApiToken.id).where(ApiToken.name == "servicio"))
    admin.post(f"/admin/users/{luis_id}/role", data={"csrf_token": token, "role": "finanzas"})
    assert "(Finanzas)" in text(luis.get("/"))
    assert "servicio" in text(admin.get("/admin/tokens"))
    admin.post(f"/account/tokens/{service_id}/revoke", data={"csrf_token": token, "from": "admin"})
    assert app.test_client().get("/api/invoices", headers={"Authorization": f"Bearer {service}"}).status_code == 401
    admin.post(f"/admin/users/{luis_id}/deactivate", data={"csrf_token": token})
    assert luis.get("/").status_code == 303


# Formats, languages, errors -----------------------------------------------------------------------


def test_dates_and_money_are_typed_as_the_team_writes_them(seeded):
    client = signed_in(seeded, "jefe_operaciones")
    invoice_id = pending_invoice(seeded)
    form = edit_form(client, f"/invoices/{invoice_id}/edit")
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", form["issue_date"])
    wrong = client.post(f"/invoices/{invoice_id}/edit", data={**form, "due_date": "31/02/2026"})
    assert wrong.status_code == 422 and 'id="e-due_date">expected a date' in text(wrong)
    assert 'value="31/02/2026"' in text(wrong)
    saved = client.post(f"/invoices/{invoice_id}/edit", data={**form, "due_date": "05/01/2027", "amount": "$1,234.50"})
    assert saved.status_code == 303
    row = invoice_state(seeded, invoice_id)
    assert row.due_date.isoformat() == "2027-01-05" and row.amount == Decimal("1234.50")
    page = text(client.get(f"/invoices/{invoice_id}"))
    assert "05/01/2027" in page and "$1,234.50" in page


def test_partial_payment_button_takes_the_new_total(seeded):
    client = signed_in(seeded, "finanzas")
    with seeded.app_context():
        invoice = db.session.scalars(
            select(Invoice).where(Invoice.payment_status == "pending", Invoice.amount > 100).order_by(Invoice.id)
        ).first()
        invoice_id, version = invoice.id, invoice.version
    data = {
        "csrf_token": csrf(client, "/"),
        "kind": "payment",
        "to": "partial",
        "version": version,
        "amount_paid": "$50.00",
    }
    assert client.post(f"/invoices/{invoice_id}/transition", data=data).status_code == 303
    row = invoice_state(seeded, invoice_id)
    assert row.payment_status == "partial" and row.amount_paid == Decimal("50.00")


def test_dashboard_cards_count_and_sum_the_invoices(seeded):
    page = text(signed_in(seeded, "operativo").get("/"))
    with seeded.app_context():
        count, total = db.session.execute(
            select(func.count(), func.sum(Invoice.amount)).where(Invoice.provision_status == "pending")
        ).one()
        queue = db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.needs_review.is_(True)))
    pending_card = page[page.index('provision_status=pending"') :][:400]
    assert f"{count:,}" in pending_card and f"${total:,.2f}" in pending_card
    assert f"{queue:,}" in page[page.index('needs_review=true"') :][:300]


def test_pages_render_in_spanish(seeded):
    client = signed_in(seeded, "admin", language="es")
    page = text(client.get("/invoices"))
    assert '<html lang="es">' in page and "Facturas" in page and "Pendiente" in page and "Exportar" in page
    assert "Export the list" not in page and "Invoices" not in page


def test_an_unexpected_error_is_a_page_for_browsers_and_json_for_the_api(seeded, monkeypatch):
    from app.web import dashboard

    seeded.config["PROPAGATE_EXCEPTIONS"] = False
    client = signed_in(seeded, "operativo")

    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(dashboard, "cards", broken)
    page = client.get("/")
    assert page.status_code == 500 and page.mimetype == "text/html" and 'href="/"' in text(page)
    assert "boom" not in text(page)


@pytest.mark.parametrize("term", ["Maersk", "26OT0001", "no-such-text"])
def test_tab_counts_with_free_text_match_the_filter(seeded, term):
    from app.filters import invoice_conditions

    page = text(signed_in(seeded, "operativo").get("/invoices", query_string={"q": term}))
    with seeded.app_context():
        expected = db.session.scalar(select(func.count()).select_from(Invoice).where(*invoice_conditions({"q": term})))
    assert re.search(r"All <span class=\"count\">\(" + re.escape(f"{expected:,}") + r"\)", page), expected
