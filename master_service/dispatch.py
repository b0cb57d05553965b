"""Sharing one request's files among slaves in chunks until each file has an outcome.

Every capable slave gets one thread per worker. Each thread reserves one of the slave's
workers in the registry, which counts them across all requests, takes the next file
from the request's queue, and waits for its answer before taking another. So a slave
never holds more files than it has workers, fast slaves take more files and slow ones
fewer, and no worker waits for a slower file of the same chunk. A chunk that fails in
transport goes back to the queue for another slave (or the same one once it is
heartbeating again), up to `max_attempts` tries per file. An error a processor reports
about a file is final.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from master_service.errors import SlaveCallError
from master_service.registry import SlaveRecord, SlaveRegistry
from master_service.slave_calls import send_chunk
from master_service.storage import safe_name, safe_stem, write_new_file
from task_types import TaskType

logger = logging.getLogger(__name__)

RECOVERY_POLL_S = 0.25
BUSY_SLAVE_POLL_S = 0.05


@dataclass
class FileJob:
    """One uploaded file and what became of it."""

    file_id: str
    filename: str
    stream: object
    slaves_tried: list[str] = field(default_factory=list)
    last_problem: str = ""
    saved_path: str | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.saved_path is not None or self.error is not None


@dataclass
class DispatchSettings:
    results_dir: Path
    slave_timeout_s: float
    max_attempts: int
    cluster_token: str | None = None


class Dispatch:
    """Runs one request's files through the slaves that can process them."""

    def __init__(
        self,
        registry: SlaveRegistry,
        task_type: TaskType,
        options: dict[str, str],
        jobs: list[FileJob],
        settings: DispatchSettings,
    ):
        self.registry = registry
        self.task_type = task_type
        self.options = options
        self.jobs = jobs
        self.settings = settings
        self._pending = deque(jobs)
        self._unfinished = len(jobs)
        self._condition = threading.Condition()

    def run(self, slaves: list[SlaveRecord]) -> None:
        threads = [
            threading.Thread(target=self._serve, args=(slave,), daemon=True)
            for slave in slaves
            for _ in range(self._threads_for(slave))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        for job in self.jobs:
            if not job.finished:
                tried = ", ".join(job.slaves_tried) or "none"
                job.error = (
                    f"no slave could process the file (slaves tried: {tried}); "
                    f"last problem: {job.last_problem or 'no capable slave was up'}"
                )

    def _threads_for(self, slave: SlaveRecord) -> int:
        if self.task_type.whole_request:
            return 1
        return min(slave.workers, len(self.jobs))

    def _serve(self, slave: SlaveRecord) -> None:
        while True:
            usable = self.registry.is_usable(slave, self.task_type.name)
            if not usable and not self._wait_for_recovery(slave):
                return
            chunk = self._take_chunk(slave)
            if chunk is None:
                continue
            if not chunk:
                return
            self.registry.record_sent(slave, len(chunk))
            try:
                problem = self._send_and_store(slave, chunk)
            finally:
                self.registry.release(slave)
            unfinished = [job for job in chunk if not job.finished]
            saved = sum(1 for job in chunk if job.saved_path)
            self.registry.record_answer(
                slave, len(chunk), saved, chunk_failed=problem is not None
            )
            self._mark_finished(len(chunk) - len(unfinished))
            if unfinished:
                logger.warning(
                    "Slave %s failed %d %s file(s): %s",
                    slave.address,
                    len(unfinished),
                    self.task_type.name,
                    problem,
                )
                self._give_back(unfinished, f"slave {slave.address} {problem}")

    def _send_and_store(self, slave: SlaveRecord, chunk: list[FileJob]) -> str | None:
        """Send a chunk and store its outcomes; returns what went wrong, if anything."""
        try:
            missing = self._send(slave, chunk)
        except SlaveCallError as error:
            return str(error)
        except Exception:
            logger.exception(
                "Unexpected failure handling a chunk for %s", slave.address
            )
            return "could not be used (unexpected error on the master, see its log)"
        if missing:
            return f"left {len(missing)} file(s) out of its answer"
        return None

    def _take_chunk(self, slave: SlaveRecord) -> list[FileJob] | None:
        """Files for the slave's next chunk, with one of its workers reserved.

        Returns [] when every file has an outcome, None when the slave stopped being
        usable while this thread waited for one of its workers.
        """
        while True:
            with self._condition:
                while not self._pending:
                    if self._unfinished == 0:
                        return []
                    self._condition.wait()
            if not self.registry.is_usable(slave, self.task_type.name):
                return None
            if not self.registry.try_reserve(slave):
                time.sleep(
                    BUSY_SLAVE_POLL_S
                )  # its workers are busy with other requests
                continue
            with self._condition:
                if self._pending:
                    chunk = self._pop_chunk(slave)
                    break
            self.registry.release(slave)
        for job in chunk:
            job.slaves_tried.append(slave.address)
        return chunk

    def _pop_chunk(self, slave: SlaveRecord) -> list[FileJob]:
        if self.task_type.whole_request:
            chunk = list(self._pending)
            self._pending.clear()
            return chunk
        return [self._next_job_for(slave)]

    def _next_job_for(self, slave: SlaveRecord) -> FileJob:
        """The pending file this slave is best placed to take.

        A file it has failed before comes last. A slave still on trial (new, or failed
        since its last answer) prefers files no slave has failed, so several dead
        slaves cannot pass the same file around until its attempts are spent.
        """

        def rank(job: FileJob) -> tuple[bool, bool]:
            failed_here = slave.address in job.slaves_tried
            failed_elsewhere = bool(job.slaves_tried) and not slave.proven
            return failed_here, failed_elsewhere

        best, best_rank = None, None
        for job in self._pending:
            job_rank = rank(job)
            if best_rank is None or job_rank < best_rank:
                best, best_rank = job, job_rank
                if job_rank == (False, False):
                    break  # usually the first pending file
        self._pending.remove(best)
        return best

    def _send(self, slave: SlaveRecord, chunk: list[FileJob]) -> list[FileJob]:
        """Send a chunk and store what came back; returns the files left unanswered."""
        answer = send_chunk(
            slave,
            self.task_type,
            self.options,
            [(job.file_id, safe_name(job.filename), job.stream) for job in chunk],
            self.settings.slave_timeout_s,
            self.settings.cluster_token,
        )
        missing = [
            job
            for job in chunk
            if job.file_id not in answer.results and job.file_id not in answer.errors
        ]
        if missing and self.task_type.whole_request:
            # Vectors fitted without some of the texts are not in the request's space.
            raise SlaveCallError(f"left {len(missing)} file(s) out of its answer")

        for job in chunk:
            if job.file_id in answer.results:
                try:
                    job.saved_path = str(self._store(job, answer.results[job.file_id]))
                except OSError as error:
                    logger.exception("Cannot store the result of %r", job.filename)
                    job.error = f"the result could not be stored on the master: {error}"
            elif job.file_id in answer.errors:
                job.error = answer.errors[job.file_id]
        return missing

    def _store(self, job: FileJob, data: bytes) -> Path:
        folder = self.settings.results_dir / self.task_type.name
        name = self.task_type.result_filename(safe_stem(job.filename))
        return write_new_file(folder, name, data)

    def _give_back(self, jobs: list[FileJob], problem: str) -> None:
        given_up = 0
        with self._condition:
            for job in jobs:
                job.last_problem = problem
                if len(job.slaves_tried) >= self.settings.max_attempts:
                    job.error = (
                        f"not processed after {len(job.slaves_tried)} attempts "
                        f"(slaves tried: {', '.join(job.slaves_tried)}); "
                        f"last problem: {problem}"
                    )
                    given_up += 1
                else:
                    self._pending.appendleft(job)
            self._unfinished -= given_up
            self._condition.notify_all()

    def _mark_finished(self, count: int) -> None:
        with self._condition:
            self._unfinished -= count
            self._condition.notify_all()

    def _wait_for_recovery(self, slave: SlaveRecord) -> bool:
        """Wait until a failed slave heartbeats again; False if it stays silent."""
        deadline = time.monotonic() + self.registry.heartbeat_timeout_s
        while time.monotonic() < deadline:
            with self._condition:
                if self._unfinished == 0:
                    return False
            if self.registry.is_usable(slave, self.task_type.name):
                return True
            time.sleep(RECOVERY_POLL_S)
        return False
