"""Throughput of the image task: client -> master -> 2 slaves -> disk, against the same
conversion done in-process over all cores, plus the master's peak memory; then the
throughput with one slave 3x slower against the ideal, and the master's memory during
one request of about 1 GB.

Run from the repository root: `.venv/bin/python -m bench.bench [--images 200]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from bench import big_request, slow_slave
from bench.measure import PeakMemory, start_image_slaves
from scripts.local_cluster import REPO_DIR, LocalCluster
from slave_service.processors import image

SIZES = [(1280, 960), (1600, 1200), (2048, 1536)]  # 1.2, 1.9 and 3.1 megapixels


def make_photo(width: int, height: int, seed: int) -> Image.Image:
    """Smooth colour fields plus grain, so JPEG sizes resemble real photos."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(
        0, 256, (height // 64 + 2, width // 64 + 2, 3), dtype=np.uint8
    )
    smooth = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    grain = rng.normal(0, 12, (height, width, 3))
    pixels = np.clip(np.asarray(smooth, dtype=np.float64) + grain, 0, 255)
    return Image.fromarray(pixels.astype(np.uint8))


def make_batch(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"photo_{number:04d}.jpg"
        if not path.exists():
            width, height = SIZES[number % len(SIZES)]
            make_photo(width, height, number).save(path, quality=90)
        paths.append(path)
    return paths


def convert_to_disk(paths_and_out: tuple[Path, Path]) -> None:
    source, target = paths_and_out
    target.write_bytes(image.process(source.read_bytes(), source.name))


def in_process_rate(paths: list[Path], out_dir: Path) -> float:
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(p, out_dir / f"processed_{p.stem}.png") for p in paths]
    started = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(convert_to_disk, jobs, chunksize=4))
    return len(paths) / (time.perf_counter() - started)


def distributed_rate(paths: list[Path], workdir: Path, slave_workers: int):
    with LocalCluster(workdir) as cluster:
        cluster.start_master(LOG_LEVEL="WARNING")
        start_image_slaves(cluster, 2, slave_workers)
        memory = PeakMemory(cluster.master.process.pid)
        memory.start()
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                str(REPO_DIR / "client.py"),
                cluster.master_url,
                "image",
                *map(str, paths),
            ],
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
        peak = memory.stop()
    if result.returncode != 0:
        raise RuntimeError(f"client failed:\n{result.stdout[-2000:]}\n{result.stderr}")
    return len(paths) / elapsed, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument(
        "--slave-workers",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="workers per slave (default: half the cores each)",
    )
    parser.add_argument(
        "--slow-images",
        type=int,
        default=100,
        help="JPEGs sent in each run of the slow-slave part",
    )
    parser.add_argument(
        "--busy-loops",
        type=int,
        default=slow_slave.DEFAULT_BUSY_LOOPS,
        help="busy loops sharing the slowed slave's core",
    )
    parser.add_argument(
        "--big-files", type=int, default=200, help="files in the big request"
    )
    parser.add_argument(
        "--big-file-mb",
        type=float,
        default=5.0,
        help="size of each file of the big request, in MiB",
    )
    parser.add_argument(
        "--skip-slow-slave",
        action="store_true",
        help="skip the run with one slave made 3x slower",
    )
    parser.add_argument(
        "--skip-big-request", action="store_true", help="skip the request of about 1 GB"
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    batch_dir = Path(tempfile.gettempdir()) / "bench-photos"
    paths = make_batch(batch_dir, args.images)
    megabytes = sum(p.stat().st_size for p in paths) / 1e6
    megapixels = (
        sum(
            SIZES[n % len(SIZES)][0] * SIZES[n % len(SIZES)][1]
            for n in range(len(paths))
        )
        / 1e6
    )
    print(
        f"batch: {len(paths)} JPEGs, {megapixels / len(paths):.1f} MP and "
        f"{megabytes / len(paths):.2f} MB on average, {os.cpu_count()} cores"
    )

    try:
        local = in_process_rate(paths, workdir / "in-process")
        print(f"in-process, {os.cpu_count()} processes:        {local:7.1f} files/s")
        remote, peak = distributed_rate(paths, workdir / "cluster", args.slave_workers)
        print(
            f"client -> master -> 2 slaves x {args.slave_workers} worker(s): "
            f"{remote:7.1f} files/s"
        )
        print(f"ratio distributed / in-process:        {remote / local:7.2f}")
        print(f"master peak RSS:                       {peak / 2**20:7.1f} MB")
        if not args.skip_slow_slave:
            slow_slave.measure(
                paths[: args.slow_images], workdir / "slow-slave", args.busy_loops
            )
        if not args.skip_big_request:
            big_request.measure(
                workdir / "big-request",
                args.big_files,
                args.big_file_mb,
                args.slave_workers,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
