"""Start the master: `python master.py` (settings from the environment or `.env`)."""

import logging

import waitress

from http_errors import answer_server_errors_in_json, error_body
from master_service.app import BYTES_PER_MB, create_app
from master_service.config import MASTER_SETTINGS
from master_service.liveness import LivenessMonitor
from security import SET_A_TOKEN, is_loopback
from settings import load_settings_or_exit

logger = logging.getLogger("master")


def log_access_rules(config: dict) -> None:
    if config["CLUSTER_TOKEN"] is None:
        logger.warning(
            "No CLUSTER_TOKEN: only slaves on this machine can register. For slaves on "
            "other machines, %s",
            SET_A_TOKEN,
        )
    if config["API_TOKEN"] is None and not is_loopback(config["MASTER_HOST"]):
        logger.warning(
            "No API_TOKEN: anyone who can reach %s:%s can upload files. Set API_TOKEN "
            "to require `Authorization: Bearer <token>`",
            config["MASTER_HOST"],
            config["MASTER_PORT"],
        )


def main() -> None:
    settings = load_settings_or_exit(
        MASTER_SETTINGS,
        "master.py",
        "Start the master: it takes uploads and shares "
        "them among registered slaves.",
    )
    app = create_app(settings)
    config = app.config["MASTER"]
    logging.basicConfig(
        level=config["LOG_LEVEL"],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logger.info(
        "Master listening on %s:%s, results in %s",
        config["MASTER_HOST"],
        config["MASTER_PORT"],
        config["RESULTS_DIR"],
    )
    log_access_rules(config)
    answer_server_errors_in_json(
        too_large=error_body(
            f"the upload is larger than MAX_UPLOAD_MB={config['MAX_UPLOAD_MB']} MB; "
            "send fewer or smaller files per request",
            413,
            limit="MAX_UPLOAD_MB",
        )
    )
    LivenessMonitor(app.extensions["slave_registry"]).start()
    waitress.serve(
        app,
        host=config["MASTER_HOST"],
        port=config["MASTER_PORT"],
        threads=config["MASTER_THREADS"],
        max_request_body_size=config["MAX_UPLOAD_MB"] * BYTES_PER_MB,
        ident="master",
    )


if __name__ == "__main__":
    main()
