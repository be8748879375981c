"""Real-browser tests: Debian's Chromium under Playwright against a real gunicorn (fixtures in conftest.py).

One seeded server and one browser serve the whole module; every test has its own browser context,
so its own cookies. Tests that change data use records no other test reads.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers.browser import ACCOUNTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.gunicorn]


def test_sign_in_through_the_form_opens_a_session(page, site):
    sign_in(page, site, "jefe_operaciones")
    page.goto(site.url("/api/session"))
    session = json.loads(page.inner_text("body"))
    assert session["via"] == "session"
    assert session["user"]["email"] == ACCOUNTS["jefe_operaciones"].email
