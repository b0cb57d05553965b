"""Pinning processes to cores, and busy loops that take a core's time from a slave."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager

import psutil

from bench.measure import cpu_seconds

# Spins until its time limit, so a loop outlives the benchmark by at most that long.
BUSY_LOOP_CODE = """
import sys, time
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    pass
"""


@contextmanager
def pinned_to(cores: set[int]):
    """Run the calling thread, and every process it starts meanwhile, on these cores.

    Linux gives a new process the affinity of the thread that forks it, and that
    process's own children inherit it in turn.
    """
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


class BusyLoops:
    """`count` processes spinning on one core, each ending by itself after `limit_s`."""

    def __init__(self, core: int, count: int, limit_s: float):
        self.core = core
        self.count = count
        self.limit_s = limit_s
        self.processes: list[subprocess.Popen] = []
        self._watched: list[psutil.Process] = []

    def __enter__(self) -> BusyLoops:
        try:
            with pinned_to({self.core}):
                for _ in range(self.count):
                    process = subprocess.Popen(
                        [sys.executable, "-c", BUSY_LOOP_CODE, str(self.limit_s)],
                        start_new_session=True,
                    )
                    self.processes.append(process)
                    self._watched.append(psutil.Process(process.pid))
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def check_running(self) -> None:
        ended = [p.pid for p in self.processes if p.poll() is not None]
        if ended:
            raise RuntimeError(
                f"busy loop(s) {ended} ended before the measurement did; their "
                f"{self.limit_s:g} s limit is too short for this run"
            )

    def cpu_seconds(self) -> float:
        return cpu_seconds(self._watched)

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()
