"""Start the master: `python master.py` (settings from the environment or `.env`)."""

import logging

import waitress

from master_service.app import BYTES_PER_MB, create_app
from master_service.config import MASTER_SETTINGS
from master_service.liveness import LivenessMonitor
from settings import load_settings_or_exit

logger = logging.getLogger("master")

# Room above MAX_UPLOAD_MB so an oversized upload reaches Flask, which answers
# a JSON 413, instead of waitress cutting it off with a plain-text one.
WAITRESS_BODY_MARGIN_MB = 64


def main() -> None:
    settings = load_settings_or_exit(
        MASTER_SETTINGS, "master.py", "Start the master: it takes uploads and shares "
        "them among registered slaves."
    )
    app = create_app(settings)
    config = app.config["MASTER"]
    logging.basicConfig(
        level=config["LOG_LEVEL"],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logger.info(
        "Master listening on %s:%s, results in %s",
        config["MASTER_HOST"], config["MASTER_PORT"], config["RESULTS_DIR"],
    )
    LivenessMonitor(app.extensions["slave_registry"]).start()
    waitress.serve(
        app,
        host=config["MASTER_HOST"],
        port=config["MASTER_PORT"],
        threads=config["MASTER_THREADS"],
        max_request_body_size=(config["MAX_UPLOAD_MB"] + WAITRESS_BODY_MARGIN_MB)
        * BYTES_PER_MB,
        ident="master",
    )


if __name__ == "__main__":
    main()
