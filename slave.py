"""Start a slave: `python slave.py` (settings from the environment or `.env`)."""

import logging
import signal
import sys

import waitress
from dotenv import load_dotenv

from slave_service.app import create_app
from settings import load_settings_or_exit
from slave_service.config import SLAVE_SETTINGS
from slave_service.pool import WORKER_PRELOAD, WorkerPool
from slave_service.registration import MasterLink, offered_task_types
from task_types import TASK_TYPES

logger = logging.getLogger("slave")


def stop_on_terminate(signal_number, frame):
    raise SystemExit(0)


def main() -> None:
    config = load_settings_or_exit(
        SLAVE_SETTINGS, "slave.py", "Start a slave: it registers with the master and "
        "processes the files it is sent."
    )
    logging.basicConfig(
        level=config["LOG_LEVEL"],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The processors' input limits are read from the environment in the workers.
    load_dotenv(override=False)
    task_types = offered_task_types(config["SLAVE_TASK_TYPES"])
    if not task_types:
        logger.error("No task type can run here; check SLAVE_TASK_TYPES")
        sys.exit(2)

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
    signal.signal(signal.SIGTERM, stop_on_terminate)
    logger.info(
        "Slave listening on %s:%s with %d worker(s), offering %s",
        config["SLAVE_HOST"], config["SLAVE_PORT"], config["SLAVE_WORKERS"],
        ", ".join(task_types),
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
