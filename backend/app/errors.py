"""Every error leaves as JSON: ``{"error": {"code": ..., "message": ...}}``, never HTML or a traceback.

Three layers make that hold: handlers for HTTP errors and anything a view raises; a 503 with
``Retry-After`` (``database_unavailable``) when the database cannot be reached, after retrying a read
once on a connection a database restart invalidated; and :class:`JsonErrorsMiddleware` around the whole
WSGI app for what escapes Flask's handlers (a teardown callback runs after them: during a database
restart, the session cleanup there was the source of an HTML 500). Errors gunicorn answers itself are
made JSON by its worker classes (``ops/workers``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from app.extensions import db

log = logging.getLogger(__name__)

# Seconds a client should wait before retrying while the database is unreachable (a restart takes a few).
DATABASE_RETRY_AFTER = 5
DATABASE_UNAVAILABLE = "the database cannot be reached right now; retry shortly"
# Requests that only read: retrying one after its connection died cannot apply a change twice.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Headers an HTTP error carries that clients need (405 Allow, 429/503 Retry-After, 401 challenge).
PASSED_HEADERS = frozenset({"Allow", "Retry-After", "WWW-Authenticate"})


class ApiError(HTTPException):
    """An HTTP error with a machine-readable code, optional headers and extra body fields."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: object,
    ) -> None:
        super().__init__(description=message)
        self.code = status
        self.error_code = code or code_for(status)
        self.headers = dict(headers or {})
        self.extra = extra


class BadParameter(ApiError):
    """A query parameter has a value we cannot use; the response names the parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(400, f"{parameter}: {message}", "invalid_parameter", parameter=parameter)


def code_for(status: int) -> str:
    """``404`` -> ``not_found``: the HTTP reason phrase as a stable snake_case code."""
    return re.sub(r"[^a-z0-9]+", "_", HTTP_STATUS_CODES.get(status, "error").lower()).strip("_")


def error_response(status: int, message: str, code: str | None = None, **extra: object) -> Response:
    """Build the JSON error body every handler returns."""
    response = jsonify(error={"code": code or code_for(status), "message": message, **extra})
    response.status_code = status
    return response


HTML_ERRORS = "nextops_html_errors"  # app.extensions key: the web app's error-page renderer, when installed


def html_error(status: int, message: str) -> Response | None:
    """The web app's error page when a browser asked for a page (never for ``/api/``), else None (JSON)."""
    render = current_app.extensions.get(HTML_ERRORS)
    return render(status, message) if render is not None else None


def _handle_http(exc: HTTPException) -> Response:
    page = html_error(exc.code or 500, exc.description or exc.name)
    if page is not None:
        page.headers.update({name: value for name, value in exc.get_headers() if name in PASSED_HEADERS})
        return page
    if isinstance(exc, ApiError):
        response = error_response(exc.code, exc.description, exc.error_code, **exc.extra)
        response.headers.update(exc.headers)
        return response
    response = error_response(exc.code or 500, exc.description or exc.name)
    response.headers.update({name: value for name, value in exc.get_headers() if name in PASSED_HEADERS})
    return response


def _handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error: %s", exc)
    return html_error(500, InternalServerError.description) or error_response(500, InternalServerError.description)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means "the database cannot be reached" rather than "this statement is wrong".

    - ``connection_invalidated``: SQLAlchemy recognised a disconnect (a server restart mid-statement);
    - an ``OperationalError``/``InterfaceError`` without a statement: connecting failed (refused,
      unreachable host, an SQLite file that cannot be opened);
    - SQLite's "database is locked" past its busy timeout, and the pool's ``TimeoutError`` (no
      connection free within ``DB_POOL_TIMEOUT``): busy now, worth retrying later.

    SQLite raises ``OperationalError`` for "no such column" too, so the class alone is not enough:
    a wrong statement stays a 500.
    """
    if isinstance(exc, sa_exc.TimeoutError):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) and exc.statement is None:
        return True
    return isinstance(exc, sa_exc.OperationalError) and "database is locked" in str(exc.orig)


def unavailable_response() -> Response:
    response = error_response(503, DATABASE_UNAVAILABLE, "database_unavailable")
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def _handle_database_error(exc: sa_exc.SQLAlchemyError) -> ResponseReturnValue:
    """503 while the database is unreachable; a read whose connection a restart killed is run once more.

    ``pool_pre_ping`` only tests a connection when it is checked out; one that was in use when the
    server restarted fails on its next statement. SQLAlchemy then invalidates the pool, so a second run
    of a read-only request gets a fresh connection. Writes are never re-run (the first may have applied).
    """
    if not database_unavailable(exc):
        return _handle_unexpected(exc)
    with contextlib.suppress(sa_exc.SQLAlchemyError):
        db.session.rollback()  # release the dead connection; the session is usable again
    invalidated = isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    if invalidated and request.method in SAFE_METHODS and not g.get("database_retried"):
        g.database_retried = True
        log.warning("retrying %s %s once: its connection was invalidated (%s)", request.method, request.path, exc)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            return app.preprocess_request() or app.dispatch_request()
        except Exception as again:
            return app.handle_user_exception(again)
    log.warning("database unavailable for %s %s: %s", request.method, request.path, exc)
    return unavailable_response()


class JsonErrorsMiddleware:
    """The outermost WSGI layer: an exception that escapes Flask still leaves as a JSON error.

    Flask's error handlers cover the view and the before/after hooks, not the teardown callbacks that
    run when the request context is popped (Flask-SQLAlchemy's ``session.remove()`` among them). An
    exception there propagated to gunicorn, which wrote its HTML 500. Once the body has started, the
    status cannot change any more; a failure then only cuts the response, as for a streamed export.
    """

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # Flask calls start_response before its teardown runs, so the call is held back until the app
        # has returned: if teardown then raises, the JSON error is the first status the server hears.
        started: list[tuple[Any, ...]] = []
        writer: list[Callable[[bytes], Any]] = []

        def write(data: bytes) -> Any:  # PEP 3333's legacy write(): sends the head first
            if not writer:
                writer.append(start_response(*started[-1]))
            return writer[0](data)

        def deferred_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [(status, headers, exc_info)] if exc_info else [(status, headers)]
            return write

        try:
            body = self.wsgi_app(environ, deferred_start_response)
        except Exception as exc:
            if writer:  # the legacy write() callable already sent the head: nothing can change now
                raise
            return self._error(exc, start_response)
        if started and not writer:
            start_response(*started[-1])
        return body

    @staticmethod
    def _error(exc: Exception, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if database_unavailable(exc):
            log.warning("database unavailable outside the request handlers: %s", exc)
            status, code, message = 503, "database_unavailable", DATABASE_UNAVAILABLE
        else:
            log.exception("error outside the request handlers: %s", exc)
            status, code, message = 500, code_for(500), InternalServerError.description
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if status == 503:
            headers.append(("Retry-After", str(DATABASE_RETRY_AFTER)))
        start_response(f"{status} {HTTP_STATUS_CODES[status]}", headers)
        return [body]


def register_error_handlers(app: Flask) -> None:
    """Install the JSON handlers for HTTP errors, database outages and anything unexpected."""
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(sa_exc.DBAPIError, _handle_database_error)
    app.register_error_handler(sa_exc.TimeoutError, _handle_database_error)
    app.register_error_handler(Exception, _handle_unexpected)


def install_json_errors_middleware(app: Flask) -> None:
    """Wrap the WSGI app last, outside the memory sampler too, so nothing it raises can become HTML."""
    app.wsgi_app = JsonErrorsMiddleware(app.wsgi_app)  # type: ignore[method-assign]
