"""What the benchmarks measure: peak memory and open files, CPU time, timed requests."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil
import requests

from client import MultipartUpload
from task_types import TASK_TYPES

REQUEST_TIMEOUT_S = 1800.0


class PeakMemory(threading.Thread):
    """Samples a process's resident memory until stopped; keeps the peak."""

    def __init__(self, pid: int, interval_s: float = 0.05):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, self.process.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            self._stopping.wait(self.interval_s)

    def stop(self) -> int:
        self._stopping.set()
        self.join()
        return self.peak_bytes


def post_files(
    master_url: str, task_type: str, paths: list[Path]
) -> tuple[float, dict]:
    """Stream files to the master as client.py does; seconds taken and the answer.

    Raises RuntimeError unless every file was processed.
    """
    upload_field = TASK_TYPES[task_type].upload_field
    body = MultipartUpload(
        [("task_type", task_type)], [(upload_field, p) for p in paths]
    )
    started = time.perf_counter()
    response = requests.post(
        f"{master_url}/assign_task",
        data=body,
        headers={"Content-Type": body.content_type},
        timeout=(10, REQUEST_TIMEOUT_S),
    )
    elapsed_s = time.perf_counter() - started

    answer = response.json()
    if response.status_code != 200 or answer["total_files_processed"] != len(paths):
        raise RuntimeError(
            f"request failed (HTTP {response.status_code}): " f"{str(answer)[:2000]}"
        )
    return elapsed_s, answer


def process_tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User plus system CPU time the processes have used so far (gone ones count 0)."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def open_files_under(pid: int, folder: Path) -> dict[str, int]:
    """Size of each file the process holds open under folder, deleted ones included."""
    prefix = f"{folder}/"
    sizes = {}
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
            if target.startswith(prefix):
                sizes[target] = os.stat(fd).st_size
        except OSError:  # closed meanwhile
            continue
    return sizes


class PeakOpenFiles(threading.Thread):
    """Samples the files a process holds open under a folder; keeps the peaks."""

    def __init__(self, pid: int, folder: Path, interval_s: float = 0.05):
        super().__init__(daemon=True)
        self.pid = pid
        self.folder = folder
        self.interval_s = interval_s
        self.peak_count = 0
        self.peak_bytes = 0
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                sizes = open_files_under(self.pid, self.folder)
            except FileNotFoundError:
                return
            self.peak_count = max(self.peak_count, len(sizes))
            self.peak_bytes = max(self.peak_bytes, sum(sizes.values()))
            self._stopping.wait(self.interval_s)

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def start_image_slaves(cluster, count: int, slave_workers: int) -> None:
    """Start `count` image-only slaves on the cluster and wait until they are up."""
    for _ in range(count):
        cluster.start_slave(
            SLAVE_WORKERS=slave_workers, SLAVE_TASK_TYPES="image", LOG_LEVEL="WARNING"
        )
    cluster.wait_for_slaves(count)
