"""A pool of worker processes, each watched: a file that hangs, eats memory or crashes
its worker gets an error of its own, and the worker is replaced."""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import queue
import shutil
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from slave_service.worker import MEMORY_LIMIT_EXIT_CODE, Job, Outcome, serve_jobs

logger = logging.getLogger(__name__)
now = time.monotonic
IDLE_WAIT_CAP_S = 24 * 3600.0

# Parallelism comes from the processes; threads inside each would only compete.
SINGLE_THREAD_ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OMP_THREAD_LIMIT": "1",
}
WORKER_PRELOAD = ["slave_service.worker", "numpy", "PIL.Image"]


class WorkerProcess:
    def __init__(self, context, memory_limit_mb: int):
        self.memory_limit_mb = memory_limit_mb
        self.timed_out = False
        self.temporary_dir = tempfile.mkdtemp(prefix="slave-worker-")
        self.connection, child_end = context.Pipe()
        self.process = context.Process(
            target=serve_jobs,
            args=(child_end, memory_limit_mb, self.temporary_dir),
            daemon=True,
        )
        self.process.start()
        child_end.close()

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def run(self, job: Job, timeout_s: float) -> list[Outcome]:
        self.timed_out = False
        try:
            self.connection.send(job)
            if not self.connection.poll(timeout_s):
                self.kill()
                self.timed_out = True
                return self._fail(job, f"timed out after {timeout_s:g} s")
            return self.connection.recv()
        except (EOFError, OSError):
            self.process.join(timeout=5)
            return self._fail(job, self._describe_death())

    def _describe_death(self) -> str:
        code = self.process.exitcode
        if code == MEMORY_LIMIT_EXIT_CODE:
            return f"exceeded the {self.memory_limit_mb} MB memory limit"
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            return f"the worker crashed ({name}) while processing this file"
        return f"the worker crashed (exit code {code}) while processing this file"

    @staticmethod
    def _fail(job: Job, reason: str) -> list[Outcome]:
        return [Outcome(error=reason) for _ in job.files]

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()
        shutil.rmtree(self.temporary_dir, ignore_errors=True)


class WorkerPool:
    """Runs jobs in parallel on `size` worker processes."""

    def __init__(
        self,
        size: int,
        file_timeout_s: float,
        memory_limit_mb: int,
        preload: list[str] = WORKER_PRELOAD,
    ):
        os.environ.update(SINGLE_THREAD_ENVIRONMENT)
        self.size = size
        self.file_timeout_s = file_timeout_s
        self.memory_limit_mb = memory_limit_mb
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(preload)
        self._idle: queue.Queue[WorkerProcess] = queue.Queue()
        self._all: set[WorkerProcess] = set()
        for _ in range(size):
            self._idle.put(self._start_worker())

    def _start_worker(self) -> WorkerProcess:
        worker = WorkerProcess(self._context, self.memory_limit_mb)
        self._all.add(worker)
        return worker

    def run(
        self, jobs: list[Job], time_limit_s: float | None = None
    ) -> list[list[Outcome]]:
        """Outcomes of each job, in order; blocks while all workers are busy.

        With a time limit (the master's, counted from now), a job that cannot start, or
        that runs out of time only because it waited for a worker, comes back
        `unfinished` instead of with an error.
        """
        limit_s = min(self.file_timeout_s, time_limit_s or self.file_timeout_s)
        deadline = time.monotonic() + (time_limit_s or math.inf)
        with ThreadPoolExecutor(max_workers=min(len(jobs), self.size)) as threads:
            return list(
                threads.map(
                    lambda job: self._run_on_idle_worker(job, limit_s, deadline), jobs
                )
            )

    def _run_on_idle_worker(
        self, job: Job, limit_s: float, deadline: float
    ) -> list[Outcome]:
        try:
            worker = self._idle.get(timeout=min(IDLE_WAIT_CAP_S, deadline - now()))
        except (queue.Empty, ValueError):
            return [Outcome(unfinished=True) for _ in job.files]
        try:
            if not worker.alive:
                worker = self._replace(worker)
            available_s = min(limit_s, deadline - now())
            outcomes = worker.run(job, available_s)
            if worker.timed_out and available_s < limit_s:
                return [Outcome(unfinished=True) for _ in job.files]
            return outcomes
        finally:
            if not worker.alive:
                worker = self._replace(worker)
            self._idle.put(worker)

    def _replace(self, worker: WorkerProcess) -> WorkerProcess:
        logger.warning("Worker %s is gone; starting a new one", worker.process.pid)
        worker.kill()
        self._all.discard(worker)
        return self._start_worker()

    def close(self) -> None:
        for worker in list(self._all):
            worker.kill()
        self._all.clear()
