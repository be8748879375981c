"""Browser sessions in Flask's signed cookie, CSRF for them, and the sign-in rate limits.

The cookie holds the user id, the account's ``session_version`` at sign-in, when it was issued and
when it was last seen. Each request checks the idle timeout and the absolute lifetime against those
times and the version against the account's: a password change or deactivation bumps the version,
so every live session of the account ends without a server-side session store.

CSRF: Flask-WTF's CSRFProtect is installed with its automatic check off, because that check reads
``request.form`` and would make Werkzeug parse the streamed uploads' bodies. Instead the ``/api/``
guard validates the ``X-CSRFToken`` header (Flask-WTF's :func:`validate_csrf`) on every
state-changing request a session authenticates; the sign-in and sign-out forms call
``csrf.protect()`` themselves. Bearer-token requests carry no ambient credential and are exempt.
"""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect, validate_csrf
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms.validators import ValidationError

from app.auth import Principal, end_look_up_unless_read
from app.errors import ApiError, error_response, html_error
from app.extensions import db
from app.models import User

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")
SEEN_EVERY = 60  # seconds: the cookie's last-seen time is rewritten at most this often


def now() -> float:
    """The clock the session checks read (tests move it)."""
    return time.time()


def install_sessions(app: Flask) -> None:
    """Cookie flags, ProxyFix, CSRFProtect and the limiter, from the parsed configuration."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="nextops_session",
        SESSION_REFRESH_EACH_REQUEST=False,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=app.config["SESSION_MAX_HOURS"]),
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_HEADERS=list(CSRF_HEADERS),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which has its own limits
        RATELIMIT_STORAGE_URI=app.config["REDIS_URL"] or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    csrf.init_app(app)
    limiter.init_app(app)
    app.register_error_handler(CSRFError, _csrf_failed)


def _csrf_failed(exc: CSRFError) -> Response:
    return html_error(400, "csrf_failed") or error_response(400, exc.description, "csrf_failed")


def start_session(user: User) -> None:
    """A fresh cookie (no data carried over from before sign-in: no session fixation)."""
    session.clear()
    stamp = int(now())
    session.permanent = True
    session.update(uid=user.id, sv=user.session_version, iat=stamp, seen=stamp)


def end_session() -> None:
    session.clear()


def session_principal() -> Principal | None:
    """The signed-in account of this request, or None (and the cookie cleared) when the session is over."""
    uid = session.get("uid")
    if uid is None:
        return None
    stamp = now()
    config = current_app.config
    idle, lifetime = config["SESSION_IDLE_MINUTES"] * 60, config["SESSION_MAX_HOURS"] * 3600
    if stamp - session.get("iat", 0) > lifetime or stamp - session.get("seen", 0) > idle:
        end_session()
        return None
    user = db.session.get(User, uid)
    principal = None
    if user is not None and user.active and user.session_version == session.get("sv"):
        principal = Principal(
            role=user.role,
            actor=user.email,
            user_id=user.id,
            via_session=True,
            name=user.display_name,
            language=user.language,
        )
    end_look_up_unless_read()
    if principal is None:
        end_session()
        return None
    if stamp - session["seen"] >= SEEN_EVERY:
        session["seen"] = int(stamp)
    return principal


def safe_next(raw: str | None, default: str = "/") -> str:
    """``raw`` if it is a path on this site (``/ots?q=1``), else ``default``: never another host."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return default
    if any(ord(char) < 32 or ord(char) == 127 for char in raw):
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return default
    return raw


def check_api_csrf() -> None:
    """A session-authenticated write needs the CSRF token in a header, and no foreign Origin."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise ApiError(403, f"cross-site request from {origin} refused", "csrf_failed")
    token = next((request.headers[name] for name in CSRF_HEADERS if request.headers.get(name)), None)
    if token is None:
        raise ApiError(400, "the CSRF token is missing: send it in the X-CSRFToken header", "csrf_failed")
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise ApiError(400, f"CSRF: {exc}", "csrf_failed") from None
