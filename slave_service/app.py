"""Building the slave's Flask application."""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from slave_service.routes import bp


def create_app(config: dict, offered_task_types, pool, master_link=None) -> Flask:
    app = Flask(__name__)
    app.config["SLAVE"] = config
    app.config["OFFERED_TASK_TYPES"] = tuple(offered_task_types)
    # A whole-request chunk holds two parts per file (the file and its id).
    app.config["MAX_FORM_PARTS"] = 100_000
    app.extensions["pool"] = pool
    app.extensions["master_link"] = master_link
    app.register_blueprint(bp)

    @app.errorhandler(HTTPException)
    def answer_http_error(error: HTTPException):
        return jsonify(status="error", error=error.description), error.code

    return app
