"""The registered slaves: who they are, what they run, and whether they answer."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class SlaveRecord:
    ip: str
    port: int
    task_types: tuple[str, ...]
    workers: int
    registered_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)
    failed_at: float | None = None
    files_in_flight: int = 0
    chunks_in_flight: int = 0
    files_done: int = 0
    failures: int = 0
    proven: bool = False
    """Answered a chunk since it registered or last failed; until then it gets one."""
    reported_state: str = "up"

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def url(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"http://{host}:{self.port}"

    def state(self, now: float, heartbeat_timeout_s: float) -> str:
        # A slave working on chunks is judged by their answers (SLAVE_TIMEOUT), not
        # by heartbeats, which a busy master may be slow to serve.
        if now - self.last_seen > heartbeat_timeout_s and self.chunks_in_flight == 0:
            return "down"
        if self.failed_at is not None and self.failed_at >= self.last_seen:
            return "failing"
        return "up"


class SlaveRegistry:
    """Thread-safe table of slaves keyed by "ip:port"."""

    def __init__(self, heartbeat_timeout_s: float):
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self._slaves: dict[str, SlaveRecord] = {}
        self._lock = threading.Lock()

    def register(
        self, ip: str, port: int, task_types: tuple[str, ...], workers: int
    ) -> tuple[SlaveRecord, bool]:
        """Add or refresh a slave; returns it and whether it was new."""
        with self._lock:
            address = f"{ip}:{port}"
            slave = self._slaves.get(address)
            is_new = slave is None
            if is_new:
                slave = SlaveRecord(ip, port, task_types, workers)
                self._slaves[address] = slave
            slave.task_types = task_types
            slave.workers = workers
            slave.last_seen = time.time()
            slave.failed_at = None
            return slave, is_new

    def heartbeat(self, address: str) -> bool:
        """Note that a slave is alive; False when the slave is not registered."""
        with self._lock:
            slave = self._slaves.get(address)
            if slave is None:
                return False
            slave.last_seen = time.time()
            return True

    def is_usable(self, slave: SlaveRecord, task_type: str | None = None) -> bool:
        """Up, and still offering the task type (a slave may re-register with fewer)."""
        with self._lock:
            offers = task_type is None or task_type in slave.task_types
            return offers and slave.state(time.time(), self.heartbeat_timeout_s) == "up"

    def list_usable(self, task_type: str) -> list[SlaveRecord]:
        """Slaves offering the task type that are not down, most workers first.

        A failing slave is included: the request's threads wait for its recovery.
        """
        now = time.time()
        with self._lock:
            usable = [
                s
                for s in self._slaves.values()
                if task_type in s.task_types
                and s.state(now, self.heartbeat_timeout_s) != "down"
            ]
        return sorted(usable, key=lambda s: (-s.workers, s.files_in_flight))

    def list_offering(self, task_type: str) -> list[SlaveRecord]:
        with self._lock:
            return [s for s in self._slaves.values() if task_type in s.task_types]

    def try_reserve(self, slave: SlaveRecord) -> bool:
        """Claim one of the slave's workers for a chunk; False when all are taken.

        A slave not yet proven gets one chunk at a time, so a dead slave that is still
        registered costs one file one attempt, not `workers` files.
        """
        with self._lock:
            allowed = slave.workers if slave.proven else 1
            if slave.chunks_in_flight >= allowed:
                return False
            slave.chunks_in_flight += 1
            return True

    def release(self, slave: SlaveRecord) -> None:
        with self._lock:
            slave.chunks_in_flight -= 1

    def sweep(self) -> list[tuple[SlaveRecord, str, str]]:
        """Slaves whose state changed since the last sweep, as (slave, old, new)."""
        now = time.time()
        changes = []
        with self._lock:
            for slave in self._slaves.values():
                state = slave.state(now, self.heartbeat_timeout_s)
                if state != slave.reported_state:
                    changes.append((slave, slave.reported_state, state))
                    slave.reported_state = state
        return changes

    def record_sent(self, slave: SlaveRecord, file_count: int) -> None:
        with self._lock:
            slave.files_in_flight += file_count

    def record_answer(
        self, slave: SlaveRecord, sent: int, done: int, chunk_failed: bool
    ) -> None:
        with self._lock:
            slave.files_in_flight -= sent
            slave.files_done += done
            slave.proven = not chunk_failed
            if chunk_failed:
                slave.failures += 1
                slave.failed_at = time.time()
            else:
                # An answer is as good a sign of life as a heartbeat, and a busy master
                # may be slow to serve the heartbeats.
                slave.last_seen = time.time()

    def snapshot(self) -> list[dict]:
        now = time.time()
        with self._lock:
            return [
                {
                    "address": s.address,
                    "slave_ip": s.ip,
                    "slave_port": s.port,
                    "task_types": list(s.task_types),
                    "workers": s.workers,
                    "state": s.state(now, self.heartbeat_timeout_s),
                    "last_seen": s.last_seen,
                    "seconds_since_heartbeat": round(now - s.last_seen, 1),
                    "files_in_flight": s.files_in_flight,
                    "files_done": s.files_done,
                    "failures": s.failures,
                }
                for s in self._slaves.values()
            ]
