"""Start a slave: `python slave.py` (settings from the environment or `.env`)."""

import importlib
import logging
import signal
import sys
from pathlib import Path

import waitress
from dotenv import load_dotenv

from http_errors import answer_server_errors_in_json
from slave_service.app import create_app
from settings import load_settings_or_exit
from slave_service.config import SLAVE_SETTINGS
from slave_service.pool import WORKER_PRELOAD, WorkerPool
from slave_service.registration import MasterLink, offered_task_types
from security import SET_A_TOKEN
from task_types import TASK_TYPES

logger = logging.getLogger("slave")

COMFORTABLE_WORKER_MEMORY_MB = 512


def stop_on_terminate(signal_number, frame):
    raise SystemExit(0)


def main() -> None:
    config = load_settings_or_exit(
        SLAVE_SETTINGS,
        "slave.py",
        "Start a slave: it registers with the master and "
        "processes the files it is sent. The processors' input limits (MAX_IMAGE_PIXELS, "
        "MAX_TEXT_MB, MAX_ZIP_UNCOMPRESSED_MB, MAX_ZIP_COMPRESSION_RATIO, MAX_PDF_PAGES, "
        "MAX_PDF_STREAM_MB, MAX_AUDIO_SAMPLES, TESSERACT_TIMEOUT_S) are read from the "
        "environment too; README.md lists their defaults.",
    )
    logging.basicConfig(
        level=config["LOG_LEVEL"],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The processors' input limits are read from the environment in the workers.
    load_dotenv(Path(".env"), override=False)
    try:
        importlib.import_module("slave_service.processors.limits")
    except ValueError as error:
        print(f"slave.py: {error}", file=sys.stderr)
        sys.exit(2)
    task_types = offered_task_types(config["SLAVE_TASK_TYPES"])
    if not task_types:
        logger.error("No task type can run here; check SLAVE_TASK_TYPES")
        sys.exit(2)

    if config["WORKER_MEMORY_MB"] < COMFORTABLE_WORKER_MEMORY_MB:
        logger.warning(
            "WORKER_MEMORY_MB=%d is tight: a worker with its processors loaded takes "
            "about 300 MB of address space before it reads a file",
            config["WORKER_MEMORY_MB"],
        )
    pool = WorkerPool(
        config["SLAVE_WORKERS"],
        config["FILE_TIMEOUT"],
        config["WORKER_MEMORY_MB"],
        preload=WORKER_PRELOAD + [TASK_TYPES[name].processor for name in task_types],
    )
    link = MasterLink(config, task_types)
    app = create_app(config, task_types, pool, link)
    server = waitress.create_server(
        app,
        host=config["SLAVE_HOST"],
        port=config["SLAVE_PORT"],
        threads=config["SLAVE_THREADS"],
        ident="slave",
    )
    answer_server_errors_in_json()
    signal.signal(signal.SIGTERM, stop_on_terminate)
    logger.info(
        "Slave listening on %s:%s with %d worker(s), offering %s",
        config["SLAVE_HOST"],
        config["SLAVE_PORT"],
        config["SLAVE_WORKERS"],
        ", ".join(task_types),
    )
    if config["CLUSTER_TOKEN"] is None:
        logger.warning(
            "No CLUSTER_TOKEN: only a master on this machine can send tasks. For a "
            "master on another machine, %s",
            SET_A_TOKEN,
        )
    # Register only once the port is open, so the master's first chunk finds it.
    link.start()
    try:
        server.run()
    finally:
        link.stop()
        pool.close()


if __name__ == "__main__":
    main()
