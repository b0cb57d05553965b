"""The master's peak memory while it takes one request of about 1 GB, and the
temporary files it leaves behind.

The files are uncompressed BMPs of smooth gradients: large on the wire, yet quick for
the slaves to turn into small gray PNGs, so the request measures the master's handling
of the bytes rather than the slaves' work.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

from bench.measure import (
    PeakMemory,
    PeakOpenFiles,
    open_files_under,
    post_files,
    start_image_slaves,
)
from scripts.local_cluster import LocalCluster

BMP_WIDTH = 1024
BYTES_PER_PIXEL = 3
MEMORY_TARGET_MB = 150
DEFAULT_UPLOAD_LIMIT_MB = 1024
MASTER_LOG_PATTERN = re.compile(r"assign_task image: .* in ([\d.]+) s")


def make_bmp_template(file_mb: float) -> bytes:
    """A gradient BMP of about `file_mb` MiB."""
    height = max(1, round(file_mb * 2**20 / (BMP_WIDTH * BYTES_PER_PIXEL)))
    rows = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    columns = np.linspace(0, 255, BMP_WIDTH, dtype=np.float32)[None, :]
    shape = (height, BMP_WIDTH)
    pixels = np.stack(
        [
            np.broadcast_to(rows, shape),
            np.broadcast_to(columns, shape),
            np.broadcast_to((rows + columns) / 2, shape),
        ],
        axis=-1,
    )
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, "BMP")
    return buffer.getvalue()


def write_inputs(folder: Path, count: int, file_mb: float) -> list[Path]:
    """`count` BMPs, each with its number stamped into its last pixels."""
    template = bytearray(make_bmp_template(file_mb))
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        template[-8:] = number.to_bytes(8, "big")
        path = folder / f"big_{number:04d}.bmp"
        path.write_bytes(template)
        paths.append(path)
    return paths


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() or p.is_symlink()]


def measure(workdir: Path, count: int, file_mb: float, slave_workers: int) -> None:
    """Print the request's time, the master's memory and leftover temporary files."""
    input_dir = Path(tempfile.mkdtemp(prefix="bench-big-input-"))
    try:
        paths = write_inputs(input_dir, count, file_mb)
        total_bytes = sum(p.stat().st_size for p in paths)
        print(
            f"big request: {count} BMPs of {total_bytes / count / 2**20:.1f} MiB "
            f"({total_bytes / 2**20:.0f} MiB) as one image request, "
            f"2 slaves x {slave_workers} worker(s)"
        )
        run = run_request(workdir, paths, total_bytes, slave_workers)
        report(run, total_bytes, count)
    finally:
        shutil.rmtree(input_dir, ignore_errors=True)


@dataclass
class BigRequest:
    """What one big request cost the master."""

    elapsed_s: float
    handling_s: float | None
    results: int
    idle_rss_bytes: int
    peak_rss_bytes: int
    peak_temp_files: int
    peak_temp_bytes: int
    temp_files_open_after: int
    temp_files_left: list[Path]


def run_request(
    workdir: Path, paths: list[Path], total_bytes: int, slave_workers: int
) -> BigRequest:
    """Send the files as one request; watch the master's memory and its TMPDIR."""
    master_tmp = workdir / "master-tmp"
    master_tmp.mkdir(parents=True)
    upload_limit_mb = max(DEFAULT_UPLOAD_LIMIT_MB, math.ceil(total_bytes / 2**20) + 1)
    with LocalCluster(workdir) as cluster:
        master = cluster.start_master(
            LOG_LEVEL="INFO", TMPDIR=master_tmp, MAX_UPLOAD_MB=upload_limit_mb
        )
        start_image_slaves(cluster, 2, slave_workers)
        pid = master.process.pid
        idle_rss_bytes = psutil.Process(pid).memory_info().rss
        memory, temp_files = PeakMemory(pid), PeakOpenFiles(pid, master_tmp)
        memory.start()
        temp_files.start()
        try:
            elapsed_s, _ = post_files(cluster.master_url, "image", paths)
        finally:
            peak_rss_bytes = memory.stop()
            temp_files.stop()

        time.sleep(0.5)  # let the master finish its log line and close its files
        master_log = master.log_path.read_text(errors="replace")
        handled = MASTER_LOG_PATTERN.findall(master_log)
        return BigRequest(
            elapsed_s=elapsed_s,
            handling_s=float(handled[-1]) if handled else None,
            results=len(files_under(cluster.results_dir / "image")),
            idle_rss_bytes=idle_rss_bytes,
            peak_rss_bytes=peak_rss_bytes,
            peak_temp_files=temp_files.peak_count,
            peak_temp_bytes=temp_files.peak_bytes,
            temp_files_open_after=len(open_files_under(pid, master_tmp)),
            temp_files_left=files_under(master_tmp),
        )


def report(run: BigRequest, total_bytes: int, count: int) -> None:
    print(
        f"  total time, upload to answer:          {run.elapsed_s:7.1f} s  "
        f"({total_bytes / 2**20 / run.elapsed_s:.0f} MiB/s, "
        f"{count / run.elapsed_s:.1f} files/s)"
    )
    if run.handling_s is not None:
        print(
            f"  upload, then the master's handler:     "
            f"{run.elapsed_s - run.handling_s:7.1f} s / {run.handling_s:.1f} s"
        )
    print(f"  results written:                       {run.results:7d}")
    print(
        f"  master RSS idle / peak:                "
        f"{run.idle_rss_bytes / 2**20:7.1f} MB / {run.peak_rss_bytes / 2**20:.1f} MB "
        f"(target < {MEMORY_TARGET_MB} MB)"
    )
    print(
        f"  master's open files in TMPDIR, peak:   {run.peak_temp_files:7d}  "
        f"({run.peak_temp_bytes / 2**20:.0f} MiB, unnamed spool files)"
    )
    print(
        f"  ... still open / left after request:  {run.temp_files_open_after:7d} / "
        f"{len(run.temp_files_left)}"
        + (
            f" ({', '.join(p.name for p in run.temp_files_left[:5])})"
            if run.temp_files_left
            else ""
        )
    )
