"""Accounts: users with passwords, browser sessions (``/login``, ``/logout``), CSRF and sign-in rate limits."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)  # its page (web/login.html) is in the web app's layout

from app.accounts import routes, tokens  # noqa: E402,F401  (routes attach themselves to bp)
