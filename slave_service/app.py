"""Building the slave's Flask application."""

from __future__ import annotations

from flask import Flask

from http_errors import install_error_handlers
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
    install_error_handlers(app)
    return app
