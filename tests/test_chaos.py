"""Slaves that die or freeze mid-request: every file still ends with one outcome."""

from __future__ import annotations

import io
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from tests.stub_slave import StubSlave

FILE_COUNT = 60


def photo_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (600, 800, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos() -> list[tuple[str, bytes]]:
    return [(f"photo_{n:02d}.jpg", photo_bytes(n)) for n in range(FILE_COUNT)]


def send_in_background(url: str, photos) -> dict:
    outcome = {}

    def send():
        files = [("images", (name, data)) for name, data in photos]
        response = requests.post(
            f"{url}/assign_task", data={"task_type": "image"}, files=files, timeout=120
        )
        outcome["status"] = response.status_code
        outcome["answer"] = response.json()

    thread = threading.Thread(target=send)
    thread.start()
    outcome["thread"] = thread
    return outcome


def wait_until_busy(slave_url: str, timeout_s: float = 20.0) -> None:
    """Wait until the slave has started answering chunks (its log shows a task)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if "get_task" in Path(slave_url).read_text(errors="replace"):
            return
    raise AssertionError("the slave never got work")


def assert_one_outcome_each(answer: dict, results_dir: Path) -> None:
    names = [entry["filename"] for entry in answer["files"]]
    assert sorted(names) == [f"photo_{n:02d}.jpg" for n in range(FILE_COUNT)]
    assert answer["failed"] == []
    assert answer["total_files_processed"] == FILE_COUNT
    stored = sorted(p.name for p in (results_dir / "image").iterdir())
    assert stored == [f"processed_photo_{n:02d}.png" for n in range(FILE_COUNT)]


def failures_of(cluster, slave) -> int:
    status = requests.get(f"{cluster.master_url}/check_status", timeout=5).json()
    (record,) = [s for s in status["slaves"] if s["slave_port"] == slave.port]
    return record["failures"]


def three_slave_cluster(make_cluster, **master_settings):
    cluster = make_cluster()
    cluster.start_master(**master_settings)
    for _ in range(3):
        cluster.start_slave(SLAVE_WORKERS=1, SLAVE_TASK_TYPES="image")
    cluster.wait_for_slaves(3)
    return cluster


def test_killed_slave_loses_no_file(make_cluster, photos):
    """SIGKILL one of three slaves mid-request: all files are stored exactly once."""
    cluster = three_slave_cluster(make_cluster)
    victim = cluster.slaves[0]

    outcome = send_in_background(cluster.master_url, photos)
    wait_until_busy(str(victim.log_path))
    victim.signal(signal.SIGKILL)
    outcome["thread"].join(timeout=120)

    assert outcome["status"] == 200
    assert_one_outcome_each(outcome["answer"], cluster.results_dir)
    assert failures_of(cluster, victim) >= 1


def test_frozen_slave_is_routed_around_and_its_late_answers_change_nothing(
    make_cluster, photos
):
    """SIGSTOP a slave: its chunk times out, goes elsewhere; SIGCONT adds nothing."""
    cluster = three_slave_cluster(make_cluster, SLAVE_TIMEOUT=3)
    victim = cluster.slaves[0]

    outcome = send_in_background(cluster.master_url, photos)
    wait_until_busy(str(victim.log_path))
    victim.signal(signal.SIGSTOP)
    try:
        outcome["thread"].join(timeout=120)
    finally:
        victim.signal(signal.SIGCONT)

    assert outcome["status"] == 200
    assert_one_outcome_each(outcome["answer"], cluster.results_dir)
    assert failures_of(cluster, victim) >= 1
    time.sleep(2)  # let the revived slave finish and answer into the void
    assert_one_outcome_each(outcome["answer"], cluster.results_dir)


@pytest.mark.parametrize(
    "answer",
    [
        (500, b'{"error": "boom"}'),
        (200, b"<html>not json</html>"),
        (200, b'{"results": "nope"}'),
    ],
    ids=["http-500", "not-json", "wrong-shape"],
)
def test_files_of_a_slave_answering_garbage_go_elsewhere(make_cluster, photos, answer):
    """A slave that answers 500 or garbage loses its files to a healthy one."""
    cluster = make_cluster()
    cluster.start_master()
    cluster.start_slave(SLAVE_WORKERS=2, SLAVE_TASK_TYPES="image")
    cluster.wait_for_slaves(1)
    with StubSlave(task_types=["image"], workers=4, answer=answer) as fake:
        fake.register_with(cluster.master_url).raise_for_status()
        outcome = send_in_background(cluster.master_url, photos)
        outcome["thread"].join(timeout=120)

    assert outcome["status"] == 200
    assert_one_outcome_each(outcome["answer"], cluster.results_dir)
    assert fake.calls >= 1


def test_slave_restarted_on_its_port_mid_request_loses_and_doubles_nothing(
    make_cluster, photos
):
    """Kill a slave mid-request and start a new one on the same port."""
    cluster = three_slave_cluster(make_cluster)
    victim = cluster.slaves[0]

    outcome = send_in_background(cluster.master_url, photos)
    wait_until_busy(str(victim.log_path))
    victim.signal(signal.SIGKILL)
    cluster.start_slave(port=victim.port, SLAVE_WORKERS=1, SLAVE_TASK_TYPES="image")
    outcome["thread"].join(timeout=120)

    assert outcome["status"] == 200
    assert_one_outcome_each(outcome["answer"], cluster.results_dir)


def slave_state(cluster, slave) -> str:
    status = requests.get(f"{cluster.master_url}/check_status", timeout=5).json()
    (record,) = [s for s in status["slaves"] if s["slave_port"] == slave.port]
    return record["state"]


def wait_for_state(cluster, slave, state: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while slave_state(cluster, slave) != state:
        assert time.monotonic() < deadline, f"slave never became {state}"
        time.sleep(0.1)


def test_silent_slave_is_marked_down_and_back_up_when_it_heartbeats(make_cluster):
    """A frozen slave goes down after HEARTBEAT_TIMEOUT, and up when it heartbeats."""
    cluster = make_cluster()
    cluster.start_master(HEARTBEAT_TIMEOUT=2)
    slave = cluster.start_slave(SLAVE_TASK_TYPES="text")
    cluster.wait_for_slaves(1)

    slave.signal(signal.SIGSTOP)
    try:
        wait_for_state(cluster, slave, "down")
        time.sleep(1.5)  # one sweep of the liveness monitor
        response = requests.post(
            f"{cluster.master_url}/assign_task",
            data={"task_type": "text"},
            files=[("texts", ("a.txt", b"some words"))],
        )
        assert response.status_code == 503
    finally:
        slave.signal(signal.SIGCONT)
    wait_for_state(cluster, slave, "up")
    assert "is down" in cluster.master.log_tail()


class TricklingSlaveHandler(BaseHTTPRequestHandler):
    """Answers 200 at once, then one byte a second, never finishing in time."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(10):
            try:
                self.wfile.write(b" ")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(1)

    def log_message(self, *args):
        pass


def slow_ocr_page(corpus) -> bytes:
    """Eurotext tiled 4 x 4: tesseract needs well over ten seconds for it."""
    tile = Image.open(corpus / "ocr" / "eurotext.tif").convert("L")
    page = Image.new("L", (tile.width * 4, tile.height * 4), 255)
    for row in range(4):
        for column in range(4):
            page.paste(tile, (column * tile.width, row * tile.height))
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    return buffer.getvalue()


def test_workers_and_tesseract_die_with_a_killed_slave(make_cluster, corpus):
    """SIGKILL a slave mid-OCR: its workers and their tesseract do not live on."""
    import psutil

    cluster = make_cluster()
    cluster.start_master()
    slave = cluster.start_slave(SLAVE_WORKERS=2, SLAVE_TASK_TYPES="ocr")
    cluster.wait_for_slaves(1)
    files = [("images", (f"page{n}.png", slow_ocr_page(corpus))) for n in range(2)]
    sender = threading.Thread(
        target=lambda: requests.post(
            f"{cluster.master_url}/assign_task",
            data={"task_type": "ocr"},
            files=files,
            timeout=60,
        )
    )
    sender.start()

    deadline = time.monotonic() + 20
    descendants = []
    while time.monotonic() < deadline:
        descendants = psutil.Process(slave.process.pid).children(recursive=True)
        if any(p.name().startswith("tesseract") for p in descendants):
            break
        time.sleep(0.05)
    assert any(p.name().startswith("tesseract") for p in descendants)

    slave.signal(signal.SIGKILL)
    gone, alive = psutil.wait_procs(descendants, timeout=4)
    for process in alive:
        process.kill()
    assert alive == []
    sender.join(timeout=60)


class HeaderTricklingHandler(BaseHTTPRequestHandler):
    """Sends its status line, then one header line a second, for a long time."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for number in range(20):
                self.wfile.write(f"X-Pad-{number}: y\r\n".encode())
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            return

    def log_message(self, *args):
        pass


class EndlessAnswerHandler(BaseHTTPRequestHandler):
    """Announces a 2 GB answer and streams it as fast as it can."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", str(2**31))
        self.end_headers()
        block = b"A" * 2**20
        try:
            for _ in range(2**11):
                self.wfile.write(block)
        except OSError:
            return

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(
    "handler, message",
    [
        (TricklingSlaveHandler, "no complete answer within 2 s"),
        (HeaderTricklingHandler, "no complete answer within 2 s"),
        (EndlessAnswerHandler, "answered with more than 64 MB"),
    ],
    ids=["trickled-body", "trickled-headers", "endless-body"],
)
def test_a_slave_cannot_stall_or_flood_the_master(handler, message):
    """SLAVE_TIMEOUT bounds a whole answer, however it trickles; size is bounded too."""
    from master_service.errors import SlaveCallError
    from master_service.registry import SlaveRecord
    from master_service.slave_calls import send_chunk
    from task_types import TASK_TYPES

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slave = SlaveRecord("127.0.0.1", server.server_port, ("text",), 1)
    started = time.monotonic()
    try:
        with pytest.raises(SlaveCallError, match=message):
            send_chunk(
                slave,
                TASK_TYPES["text"],
                {},
                [("0", "a.txt", io.BytesIO(b"words"))],
                2.0,
            )
        # The abandoned call's thread is woken and ends; it does not linger.
        assert wait_until_no_thread_named("slave-call", timeout_s=2.0)
    finally:
        server.shutdown()
    assert time.monotonic() - started < 10


def wait_until_no_thread_named(name: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(t.name == name for t in threading.enumerate()):
            return True
        time.sleep(0.05)
    return False
