"""What runs inside a worker process: one job of files through one processor."""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field

from slave_service.errors import ProcessingError
from slave_service.processors import load_processor
from task_types import TASK_TYPES

logger = logging.getLogger(__name__)

BYTES_PER_MB = 1024 * 1024
PARENT_CHECK_INTERVAL_S = 1.0
MEMORY_LIMIT_EXIT_CODE = 3


@dataclass
class Job:
    """Files a worker processes in one call: one file, or a whole-request batch."""

    task_type: str
    files: list[tuple[str, bytes]]
    options: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """A finished result file's bytes, or the reason there is none."""

    data: bytes | None = None
    error: str | None = None
    unfinished: bool = False
    """Not processed in the time the master waits: to be sent again, not an error."""


def encode_result(value) -> bytes:
    if isinstance(value, bytes):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False).encode()


def run_job(job: Job, memory_limit_mb: int) -> list[Outcome]:
    """Run the job's processor; every file gets an outcome, whatever goes wrong."""
    task_type = TASK_TYPES[job.task_type]
    try:
        processor = load_processor(task_type)
        if task_type.whole_request:
            values = processor.process_batch(job.files, **job.options)
        else:
            ((filename, data),) = job.files
            values = [processor.process(data, filename, **job.options)]
        return [
            (
                Outcome(error=str(value))
                if isinstance(value, ProcessingError)
                else Outcome(data=encode_result(value))
            )
            for value in values
        ]
    except ProcessingError as error:
        message = str(error)
    except MemoryError:
        message = f"exceeded the {memory_limit_mb} MB memory limit"
    except Exception as error:
        names = ", ".join(name for name, _ in job.files)
        logger.exception("%s processor failed unexpectedly on %s", job.task_type, names)
        message = f"internal error in the {job.task_type} processor: {error!r}"
    return [Outcome(error=message) for _ in job.files]


def die_with_parent(parent_pid: int) -> None:
    """Kill this worker's group (with any tesseract) once its parent is gone."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_INTERVAL_S)
    os.killpg(0, signal.SIGKILL)


def serve_jobs(connection, memory_limit_mb: int, temporary_dir: str) -> None:
    """Worker process main loop: receive a job, answer its outcomes, until closed."""
    # A group of its own lets the pool kill the worker with any program it started.
    os.setpgid(0, 0)
    threading.Thread(target=die_with_parent, args=(os.getppid(),), daemon=True).start()
    # Files that programs leave behind when the worker is killed go with its folder.
    os.environ["TMPDIR"] = tempfile.tempdir = temporary_dir
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # pypdf warns once per damaged object; a hostile PDF would flood the slave's log.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    limit_bytes = memory_limit_mb * BYTES_PER_MB
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    while True:
        try:
            job = connection.recv()
            outcomes = run_job(job, memory_limit_mb)
            connection.send(outcomes)
        except (EOFError, OSError):
            return
        except MemoryError:
            # Outside the processor (receiving the file, sending the result): the pool
            # reads this exit code as the memory limit.
            os._exit(MEMORY_LIMIT_EXIT_CODE)
