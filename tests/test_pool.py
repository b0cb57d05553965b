"""Tests of the worker pool: order, time and memory limits, crashes, shutdown."""

import io
import json
import os
import shutil
import signal
import threading
import time

import psutil
import pytest
from PIL import Image

from slave_service.pool import SINGLE_THREAD_ENVIRONMENT, WORKER_PRELOAD, WorkerPool
from slave_service.worker import Job

# The forkserver is shared by every pool of the test process, so all use one preload.
PRELOAD = WORKER_PRELOAD + [
    "slave_service.processors.text",
    "slave_service.processors.ocr",
]
MEMORY_HEADROOM_MB = 100
SIGKILL_MASK = 1 << (signal.SIGKILL - 1)
SURVIVOR_GRACE_S = 0.1
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract is not installed"
)


@pytest.fixture
def make_pool(monkeypatch):
    """Start WorkerPools; each is closed after the test."""
    for name, value in SINGLE_THREAD_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    pools = []

    def make(size=1, file_timeout_s=30.0, memory_limit_mb=4096) -> WorkerPool:
        pool = WorkerPool(size, file_timeout_s, memory_limit_mb, preload=PRELOAD)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


@pytest.fixture(scope="module")
def eurotext(corpus) -> bytes:
    """A scanned page tesseract needs about 0.7 s for."""
    return (corpus / "ocr" / "eurotext.tif").read_bytes()


def text_job(name: str, content: str) -> Job:
    return Job("text", [(name, content.encode())])


def decoded(outcome) -> dict:
    assert outcome.error is None, outcome.error
    return json.loads(outcome.data)


def worker_pids(pool: WorkerPool) -> list[int]:
    return [worker.process.pid for worker in list(pool._all)]


def group_members(group_id: int) -> list[psutil.Process]:
    """Every process, zombies included, whose process group is group_id."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == group_id:
                members.append(process)
        except ProcessLookupError:
            continue
    return members


def tesseract_runs(worker_pid: int) -> list[psutil.Process]:
    """The worker's tesseract processes reading an image (not listing languages)."""
    try:
        children = psutil.Process(worker_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if child.name() == "tesseract" and "--list-langs" not in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def is_dead_or_being_killed(process: psutil.Process) -> bool:
    """True once the process exited, or holds a pending SIGKILL it cannot escape."""
    try:
        if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
            return True
        with open(f"/proc/{process.pid}/status") as status:
            pending_masks = [
                int(line.split()[1], 16)
                for line in status
                if line.startswith(("SigPnd:", "ShdPnd:"))
            ]
    except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
        return True
    return any(mask & SIGKILL_MASK for mask in pending_masks)


def survivors(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The processes neither gone nor being killed after a short grace.

    The grace is far shorter than one tesseract run (0.5 s and more), so a tesseract
    nobody killed is still found.
    """
    deadline = time.monotonic() + SURVIVOR_GRACE_S
    while True:
        running = [p for p in processes if not is_dead_or_being_killed(p)]
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.01)


def vm_size_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) // 1024
    raise AssertionError(f"no VmSize for process {pid}")


def test_outcomes_come_back_in_job_order(make_pool):
    """Each job's outcome is at its job's place, whatever worker ran it."""
    pool = make_pool(size=2)
    jobs = [text_job(f"t{n}.txt", "word " * (n + 1)) for n in range(5)]
    jobs.append(text_job("empty.txt", ""))

    outcomes = pool.run(jobs)

    assert [len(job_outcomes) for job_outcomes in outcomes] == [1] * 6
    assert [(decoded(o)["filename"], decoded(o)["words"]) for (o,) in outcomes[:5]] == [
        ("t0.txt", 1),
        ("t1.txt", 2),
        ("t2.txt", 3),
        ("t3.txt", 4),
        ("t4.txt", 5),
    ]
    assert outcomes[5][0].error == "the file is empty (0 bytes)"
    assert outcomes[5][0].data is None


def test_whole_request_job_gives_one_outcome_per_file(make_pool):
    """An embedding job of three files answers three outcomes in file order."""
    pool = make_pool(size=1)
    job = Job(
        "embedding",
        [("a.txt", b"cats and dogs"), ("b.txt", b""), ("c.txt", b"dogs bark")],
        {"max_features": 10},
    )

    ((first, second, third),) = pool.run([job])

    assert decoded(first)["filename"] == "a.txt"
    assert second.error == "the file is empty (0 bytes)"
    assert decoded(third)["filename"] == "c.txt"


@needs_tesseract
def test_slow_file_times_out_and_next_job_succeeds(make_pool, eurotext):
    """A file over the time limit gets a timeout error; the pool then works on."""
    pool = make_pool(size=1, file_timeout_s=30.0)
    # With time enough the page is read; this also lets the worker cache tesseract's
    # languages, so the timed run below is inside tesseract when the limit hits.
    ((control,),) = pool.run([Job("ocr", [("eurotext.tif", eurotext)])])
    assert decoded(control)["text"].startswith("The (quick) [brown] {fox} jumps!")
    pool.file_timeout_s = 0.3
    (worker_pid,) = worker_pids(pool)
    seen_tesseracts = []

    def watch_for_tesseract():
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline and not seen_tesseracts:
            seen_tesseracts.extend(tesseract_runs(worker_pid))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch_for_tesseract)
    watcher.start()
    started = time.monotonic()
    ((outcome,),) = pool.run([Job("ocr", [("eurotext.tif", eurotext)])])
    elapsed_s = time.monotonic() - started
    watcher.join()

    assert survivors(group_members(worker_pid)) == []
    assert seen_tesseracts, "tesseract was not running during the job"
    assert survivors(seen_tesseracts) == []
    assert outcome.error == "timed out after 0.3 s"
    assert 0.3 <= elapsed_s < 2.0
    assert worker_pid not in worker_pids(pool)

    ((after,),) = pool.run([text_job("next.txt", "still working")])
    assert decoded(after)["words"] == 2


@needs_tesseract
@pytest.mark.parametrize(
    "crash", [signal.SIGKILL, signal.SIGSEGV], ids=["kill", "segv"]
)
def test_killed_worker_fails_only_its_file(make_pool, eurotext, crash):
    """A worker killed or crashed mid-file fails that file only; its tesseract dies too."""
    pool = make_pool(size=2)
    killed = []

    def kill_worker_running_tesseract():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for pid in worker_pids(pool):
                tesseracts = tesseract_runs(pid)
                if tesseracts:
                    os.kill(pid, crash)
                    killed.append((pid, tesseracts))
                    return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_worker_running_tesseract)
    killer.start()
    outcomes = pool.run(
        [
            Job("ocr", [("eurotext.tif", eurotext)]),
            text_job("a.txt", "one"),
            text_job("b.txt", "one two"),
        ]
    )
    killer.join()

    ((killed_pid, orphaned_tesseracts),) = killed
    assert survivors(group_members(killed_pid)) == []
    assert survivors(orphaned_tesseracts) == []
    assert outcomes[0][0].error == (
        f"the worker crashed ({crash.name}) while processing this file"
    )
    assert decoded(outcomes[1][0])["words"] == 1
    assert decoded(outcomes[2][0])["words"] == 2
    assert killed_pid not in worker_pids(pool)
    assert len(worker_pids(pool)) == 2

    later = pool.run([text_job(f"later{n}.txt", "fine") for n in range(3)])
    assert [decoded(o)["filename"] for (o,) in later] == [
        "later0.txt",
        "later1.txt",
        "later2.txt",
    ]


def test_worker_that_died_while_idle_is_replaced(make_pool):
    """A worker killed between jobs is replaced before it is given the next job."""
    pool = make_pool(size=1)
    (old_pid,) = worker_pids(pool)
    os.kill(old_pid, signal.SIGKILL)
    time.sleep(0.1)

    ((outcome,),) = pool.run([text_job("a.txt", "hello")])

    assert decoded(outcome)["words"] == 1
    assert old_pid not in worker_pids(pool)


def test_memory_limit_gives_an_error_and_worker_goes_on(make_pool):
    """An image over the memory limit fails naming the limit; the next job works."""
    probe = make_pool(size=1)
    (probe_pid,) = worker_pids(probe)
    idle_mb = vm_size_mb(probe_pid)
    probe.close()
    limit_mb = idle_mb + MEMORY_HEADROOM_MB
    pool = make_pool(size=1, memory_limit_mb=limit_mb)
    (worker_pid,) = worker_pids(pool)
    big_png = io.BytesIO()
    # 8000 x 8000 RGB is 192 MB once decoded, well over the 100 MB headroom.
    Image.new("RGB", (8000, 8000), (200, 30, 90)).save(big_png, "PNG", compress_level=1)

    ((outcome,),) = pool.run([Job("image", [("big.png", big_png.getvalue())])])

    assert outcome.error == f"exceeded the {limit_mb} MB memory limit"
    assert worker_pids(pool) == [worker_pid]
    ((after,),) = pool.run([text_job("next.txt", "small text")])
    assert decoded(after)["words"] == 2


def test_close_stops_every_worker(make_pool):
    """After close() no worker process is alive."""
    pool = make_pool(size=3)
    workers = list(pool._all)
    pids = worker_pids(pool)
    pool.run([text_job(f"t{n}.txt", "x") for n in range(3)])

    pool.close()

    assert len(pids) == 3
    assert [worker.alive for worker in workers] == [False, False, False]
    assert [psutil.pid_exists(pid) for pid in pids] == [False, False, False]
    assert pool._all == set()


@needs_tesseract
def test_time_lost_waiting_for_a_worker_leaves_the_file_unfinished(make_pool, eurotext):
    """With the master's limit, a file that waited too long is left for a resend."""
    pool = make_pool(size=1, file_timeout_s=0.5)
    ocr = Job("ocr", [("eurotext.tif", eurotext)])

    first, second = pool.run([ocr, ocr], time_limit_s=0.6)

    assert first[0].error == "timed out after 0.5 s"
    assert first[0].unfinished is False
    assert second[0].unfinished is True
    assert second[0].error is None
