"""What the web page tests share: accounts of each role, signing a test client in, reading CSRF tokens."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from app.accounts.users import create_user

PASSWORD = "correct horse battery"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(app: Flask, role: str, email: str | None = None, language: str | None = None) -> int:
    with app.app_context():
        user = create_user(email or f"{role}@plg.sv", f"{role.title()} Persona", role, PASSWORD)
        if language:
            from app.extensions import db

            user.language = language
            db.session.commit()
        return user.id


def csrf(client: FlaskClient, path: str = "/login") -> str:
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, email: str) -> None:
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf(client)})
    assert response.status_code == 303, response.get_data(as_text=True)


def signed_in(app: Flask, role: str, language: str | None = "en") -> FlaskClient:
    """A test client signed in as a new account of ``role`` (English pages unless told otherwise)."""
    make_user(app, role, language=language)
    client = app.test_client()
    sign_in(client, f"{role}@plg.sv")
    return client


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]
