"""Every error leaves as JSON: ``{"error": {"code": ..., "message": ...}}``, never HTML or a traceback."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

log = logging.getLogger(__name__)

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


def _handle_http(exc: HTTPException) -> Response:
    if isinstance(exc, ApiError):
        response = error_response(exc.code, exc.description, exc.error_code, **exc.extra)
        response.headers.update(exc.headers)
        return response
    response = error_response(exc.code or 500, exc.description or exc.name)
    response.headers.update({name: value for name, value in exc.get_headers() if name in PASSED_HEADERS})
    return response


def _handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error: %s", exc)
    return error_response(500, InternalServerError.description)


def register_error_handlers(app: Flask) -> None:
    """Install the JSON handlers for HTTP errors and for anything unexpected."""
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(Exception, _handle_unexpected)
