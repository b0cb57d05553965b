"""Background watch over the slaves: notes, off the request path, which fell silent."""

from __future__ import annotations

import logging
import threading

from master_service.registry import SlaveRegistry

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 1.0


class LivenessMonitor(threading.Thread):
    """Logs each slave that goes down (no heartbeat within the timeout) or comes back."""

    def __init__(self, registry: SlaveRegistry, interval_s: float = SWEEP_INTERVAL_S):
        super().__init__(name="liveness-monitor", daemon=True)
        self.registry = registry
        self.interval_s = interval_s
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            for slave, old, new in self.registry.sweep():
                if new == "down":
                    logger.warning(
                        "Slave %s is down: no heartbeat for %.0f s; not using it",
                        slave.address,
                        self.registry.heartbeat_timeout_s,
                    )
                elif new == "up" and old == "down":
                    logger.info("Slave %s is back", slave.address)
