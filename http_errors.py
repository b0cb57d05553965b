"""One JSON shape for every error either service answers with."""

from __future__ import annotations

import json
import logging
import uuid

import waitress.utilities
from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


def error_body(message: str, http_status: int, **details) -> dict:
    return {"status": "error", "error": message, "http_status": http_status, **details}


def error_response(message: str, http_status: int, **details):
    return jsonify(error_body(message, http_status, **details)), http_status


def log_refusal(http_status: int) -> None:
    """Note a refused caller: who and where, never what they sent.

    The path is quoted (%r), so a line break or NUL in it cannot forge log lines.
    """
    logger.warning(
        "Refused %s %r from %s (HTTP %d)",
        request.method,
        request.path,
        request.remote_addr,
        http_status,
    )


def install_error_handlers(app: Flask) -> None:
    """HTTP errors keep their status; anything unexpected becomes a 500 with an id.

    The id is in the answer and in the log line with the traceback, so a report of
    the answer finds its details without showing them to the caller.
    """

    @app.errorhandler(HTTPException)
    def answer_http_error(error: HTTPException):
        body, status = error_response(error.description, error.code)
        # Keep what the error adds beyond its HTML body, such as Allow on a 405.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                body.headers[name] = value
        return body, status

    @app.errorhandler(Exception)
    def answer_unexpected_error(error: Exception):
        request_id = uuid.uuid4().hex[:16]
        logger.error(
            "Unexpected error, request id %s, on %s %r",
            request_id,
            request.method,
            request.path,
            exc_info=error,
        )
        return error_response(
            "internal error; the service log has the details under this request id",
            500,
            request_id=request_id,
        )


def answer_server_errors_in_json(too_large: dict | None = None) -> None:
    """Make the answers waitress sends itself, before the app sees a request, JSON.

    Waitress has no hook for these (a malformed request, headers too large, a body
    over its limit), so its error class is given a new method; check this when
    upgrading waitress. `too_large`, if given, is the body for its 413.
    """

    def to_response(error, ident=None):
        if too_large is not None and error.code == 413:
            fields = too_large
        else:
            fields = error_body(f"{error.reason}: {error.body}", error.code)
        headers = [("Content-Type", "application/json")]
        return f"{error.code} {error.reason}", headers, json.dumps(fields).encode()

    waitress.utilities.Error.to_response = to_response
