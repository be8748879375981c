"""The web app's frame: sign-in redirects (no open redirect), error pages, languages, the layout, the filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from app.web import formatting
from tests.web_helpers import BROWSER, PASSWORD, csrf, make_user, sign_in, signed_in, text


def test_signed_out_page_goes_to_login_and_back(app, client):
    make_user(app, "operativo")
    response = client.get("/?status=puerto&q=MSC")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/?status%3Dpuerto%26q%3DMSC"
    form = text(client.get(response.headers["Location"]))
    assert 'name="next" value="/?status=puerto&amp;q=MSC"' in form
    token = csrf(client)
    back = client.post(
        "/login",
        data={"email": "operativo@plg.sv", "password": PASSWORD, "csrf_token": token, "next": "/?status=puerto&q=MSC"},
    )
    assert back.status_code == 303 and back.headers["Location"] == "/?status=puerto&q=MSC"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "http:/x", "/\tx"]
)
def test_next_is_only_ever_a_local_path(app, client, target):
    make_user(app, "operativo")
    data = {"email": "operativo@plg.sv", "password": PASSWORD, "csrf_token": csrf(client), "next": target}
    response = client.post("/login", data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/login"  # the default, never there
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 200  # signed in, unsafe next: the page, not a redirect elsewhere


def test_api_keeps_json_401_for_a_browser(client):
    response = client.get("/api/invoices", headers=BROWSER)
    assert response.status_code == 401 and response.is_json


def test_error_pages_for_browsers_json_for_scripts_and_api(app, client):
    browser = signed_in(app, "operativo")
    page = browser.get("/no-such-page", headers=BROWSER)
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Page not found" in text(page) and 'href="/"' in text(page)
    assert client.get("/no-such-page").is_json  # no Accept preference: scripts keep JSON
    api = browser.get("/api/invoices/999999", headers=BROWSER)
    assert api.status_code == 404 and api.is_json


def test_form_without_csrf_is_a_400_page_and_changes_nothing(app):
    browser = signed_in(app, "operativo")
    response = browser.post("/language", data={"language": "es", "next": "/"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert 'lang="en"' in text(browser.get("/"))


def test_spanish_by_default_english_by_accept_language(app):
    make_user(app, "operativo")
    client = app.test_client()
    assert "Iniciar sesión" in text(client.get("/login"))
    english = text(client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}))
    assert "Sign in to NextOps" in english and '<html lang="en">' in english
    sign_in(client, "operativo@plg.sv")
    page = text(client.get("/", headers={"Accept-Language": "en-US"}))
    assert "Dashboard" in page


def test_account_language_wins_and_the_switch_stores_it(app):
    client = signed_in(app, "operativo", language="es")
    assert "Inicio" in text(client.get("/", headers={"Accept-Language": "en"}))
    token = csrf(client, "/")
    switched = client.post("/language", data={"language": "en", "next": "/ots", "csrf_token": token})
    assert switched.status_code == 303 and switched.headers["Location"] == "/ots"
    other = app.test_client()
    sign_in(other, "operativo@plg.sv")  # a new session: the choice lives on the account
    assert '<html lang="en">' in text(other.get("/", headers={"Accept-Language": "es"}))


def test_signed_out_language_switch_lasts_for_the_session(client):
    token = csrf(client)
    client.post("/language", data={"language": "en", "next": "/login", "csrf_token": token})
    assert "Sign in to NextOps" in text(client.get("/login"))


def test_layout_skip_link_nav_by_role_and_role_label(app):
    operativo = text(signed_in(app, "operativo").get("/"))
    assert 'class="skip-link" href="#main"' in operativo and 'id="main"' in operativo
    assert 'href="/invoices"' in operativo and 'href="/admin/users"' not in operativo
    assert "(Operativo)" in operativo
    admin = text(signed_in(app, "admin").get("/"))
    assert 'href="/admin/users"' in admin and "(Administrador)" in admin
    assert 'name="viewport"' in admin and "/assets/app.css" in admin


def test_stylesheet_and_modules_are_served_by_the_app(client):
    css = client.get("/assets/app.css")
    assert css.status_code == 200 and "focus-visible" in text(css)
    module = client.get("/assets/js/confirm.mjs")
    assert module.status_code == 200 and "javascript" in module.mimetype


def test_filters_write_dates_money_and_local_time(app):
    assert formatting.date(dt.date(2026, 3, 9)) == "09/03/2026"
    assert formatting.money(Decimal("1234.5")) == "$1,234.50"
    assert formatting.money(Decimal("-0.5")) == "-$0.50"
    assert formatting.money(None) == ""
    with app.app_context():
        assert formatting.timestamp(dt.datetime(2026, 12, 1, 15, 0)) == "01/12/2026 09:00"  # UTC-6
        app.config["APP_TIMEZONE"] = "UTC"
        assert formatting.timestamp(dt.datetime(2026, 12, 1, 15, 0)) == "01/12/2026 15:00"
