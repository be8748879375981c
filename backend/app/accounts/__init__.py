"""Accounts: users with passwords, browser sessions (``/login``, ``/logout``), CSRF and sign-in rate limits."""

from flask import Blueprint

bp = Blueprint("accounts", __name__, template_folder="templates")

from app.accounts import routes, tokens  # noqa: E402,F401  (routes attach themselves to bp)
