"""Building the master's Flask application."""

from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from http_errors import error_response, install_error_handlers, log_refusal
from master_service.config import load_master_config
from master_service.errors import (
    ApiError,
    ForbiddenError,
    FormTooLargeError,
    UnauthorizedError,
)
from master_service.registry import SlaveRegistry
from master_service.routes import bp

BYTES_PER_MB = 1024 * 1024
FORM_PARTS_BEYOND_FILES = 100


def create_app(config: dict | None = None) -> Flask:
    """The master app; `config` overrides settings from the environment and `.env`."""
    settings = load_master_config(config)
    app = Flask(__name__)
    app.config["MASTER"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_UPLOAD_MB"] * BYTES_PER_MB
    app.config["MAX_FORM_PARTS"] = settings["MAX_FILES"] + FORM_PARTS_BEYOND_FILES
    app.extensions["slave_registry"] = SlaveRegistry(settings["HEARTBEAT_TIMEOUT"])
    app.register_blueprint(bp)
    install_error_handlers(app)

    @app.errorhandler(ApiError)
    def answer_api_error(error: ApiError):
        if isinstance(error, (UnauthorizedError, ForbiddenError)):
            log_refusal(error.status)
        return jsonify(error.to_json()), error.status, error.headers

    @app.errorhandler(RequestEntityTooLarge)
    def answer_too_large(error):
        # Werkzeug raises the same error for too many form parts, and for a text field
        # over its memory limit, as for too many bytes.
        if (request.content_length or 0) <= app.config["MAX_CONTENT_LENGTH"]:
            over_limit = FormTooLargeError(
                settings["MAX_FILES"],
                FORM_PARTS_BEYOND_FILES,
                app.config["MAX_FORM_MEMORY_SIZE"] // 1000,
            )
            return jsonify(over_limit.to_json()), over_limit.status
        message = (
            f"the upload is larger than MAX_UPLOAD_MB={settings['MAX_UPLOAD_MB']} MB; "
            "send fewer or smaller files per request"
        )
        return error_response(message, 413, limit="MAX_UPLOAD_MB")

    return app
