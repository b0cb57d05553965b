"""Throughput when one of two slaves is about 3x slower, against the ideal: the sum of
each slave's rate measured alone under the same conditions.

Slave B runs on one core shared with busy loops (three by default), so the scheduler
gives B's processes about a quarter of that core while they are busy; slave A, the
master and the request run on the other cores. Each slave has one worker. Part of each
file's time goes to transfers, when B does not need the core, so a quarter of the core
makes B about 3x slower end to end (two loops, a third of the core, only about 2.5x).
B also runs alone once without the busy loops, so its slowdown is measured rather than
assumed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench.cpu_load import BusyLoops, pinned_to
from bench.measure import cpu_seconds, post_files, process_tree
from scripts.local_cluster import LocalCluster, Service

DEFAULT_BUSY_LOOPS = 3
BUSY_LOOP_LIMIT_S = 600.0
SLAVE_SETTINGS = {
    "SLAVE_WORKERS": 1,
    "SLAVE_TASK_TYPES": "image",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class Run:
    """One request through a master with some of the slaves."""

    rate: float
    files_done: dict[str, int]
    slow_core_share: float | None
    busy_loop_share: float | None
    slow_processes: int


def check_pinning(services: dict[str, Service], cores: dict[str, set[int]]) -> None:
    """Raise unless every process of each service may run only on its cores."""
    for name, service in services.items():
        for process in process_tree(service.process.pid):
            allowed = set(process.cpu_affinity())
            if allowed != cores[name]:
                raise RuntimeError(
                    f"{name} process {process.pid} may run on cores "
                    f"{sorted(allowed)}, not {sorted(cores[name])}"
                )


def run_cluster(
    workdir: Path,
    paths: list[Path],
    roles: str,
    fast_cores: set[int],
    slow_core: int,
    loops: BusyLoops | None,
) -> Run:
    """Send the files through a master with slave A, slave B or both (`roles`)."""
    with pinned_to(fast_cores), LocalCluster(workdir) as cluster:
        services = {"master": cluster.start_master(LOG_LEVEL="WARNING")}
        if "A" in roles:
            services["A"] = cluster.start_slave(**SLAVE_SETTINGS)
        if "B" in roles:
            with pinned_to({slow_core}):
                services["B"] = cluster.start_slave(**SLAVE_SETTINGS)
        cluster.wait_for_slaves(len(roles))
        check_pinning(
            services, {"master": fast_cores, "A": fast_cores, "B": {slow_core}}
        )

        slow_tree = process_tree(services["B"].process.pid) if "B" in roles else []
        slow_before = cpu_seconds(slow_tree)
        loops_before = loops.cpu_seconds() if loops else 0.0
        elapsed_s, _ = post_files(cluster.master_url, "image", paths)
        slow_used = cpu_seconds(slow_tree)
        loops_used = loops.cpu_seconds() if loops else 0.0
        if loops:
            loops.check_running()

        done_by_port = {
            s["slave_port"]: s["files_done"] for s in cluster.registered_slaves()
        }
        files_done = {name: done_by_port.get(services[name].port, 0) for name in roles}
    return Run(
        rate=len(paths) / elapsed_s,
        files_done=files_done,
        slow_core_share=(slow_used - slow_before) / elapsed_s if slow_tree else None,
        busy_loop_share=(
            (loops_used - loops_before) / elapsed_s / loops.count if loops else None
        ),
        slow_processes=len(slow_tree),
    )


def measure(
    paths: list[Path], workdir: Path, busy_loops: int = DEFAULT_BUSY_LOOPS
) -> None:
    """Print each slave's rate alone, the ideal sum, and both through the master."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        print("slow slave: skipped, it needs at least 2 cores")
        return
    slow_core, fast_cores = cores[-1], set(cores[:-1])
    print(
        f"slow slave: {len(paths)} JPEGs, 2 slaves x 1 worker; A, master and request "
        f"on core(s) {sorted(fast_cores)}; B on core {slow_core} with {busy_loops} "
        f"busy loops"
    )

    unslowed_b = run_cluster(workdir / "b0", paths, "B", fast_cores, slow_core, None)
    with BusyLoops(slow_core, busy_loops, BUSY_LOOP_LIMIT_S) as loops:
        alone_a = run_cluster(workdir / "a", paths, "A", fast_cores, slow_core, loops)
        alone_b = run_cluster(workdir / "b", paths, "B", fast_cores, slow_core, loops)
        both = run_cluster(workdir / "ab", paths, "AB", fast_cores, slow_core, loops)
    ideal = alone_a.rate + alone_b.rate

    print(
        f"  affinity checked in every run: B's {alone_b.slow_processes} processes "
        f"(slave, its workers and helpers) on core {slow_core} only"
    )
    print(
        f"  slave B alone, not slowed:             {unslowed_b.rate:7.1f} files/s  "
        f"(B's processes use {unslowed_b.slow_core_share:.2f} of core {slow_core})"
    )
    print(f"  slave A alone:                         {alone_a.rate:7.1f} files/s")
    print(
        f"  slave B alone, slowed:                 {alone_b.rate:7.1f} files/s  "
        f"(B's processes use {alone_b.slow_core_share:.2f} of core {slow_core}, "
        f"each busy loop {alone_b.busy_loop_share:.2f})"
    )
    print(
        f"  B slowed by:                           "
        f"{unslowed_b.rate / alone_b.rate:7.2f} x  "
        f"(A / slowed B = {alone_a.rate / alone_b.rate:.2f})"
    )
    print(f"  ideal, A alone + B alone:              {ideal:7.1f} files/s")
    print(
        f"  A and B through the master:            {both.rate:7.1f} files/s  "
        f"(files done A {both.files_done['A']}, B {both.files_done['B']}; "
        f"ideal split {round(len(paths) * alone_a.rate / ideal)}/"
        f"{round(len(paths) * alone_b.rate / ideal)})"
    )
    print(f"  ratio measured / ideal:                {both.rate / ideal:7.2f}")
