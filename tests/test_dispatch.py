"""Tests of sharing a request's files among slaves, with fake slaves instead of HTTP."""

import base64
import http.client
import io
import json
import threading
import time

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from deadline import DeadlinePassed
from master_service import dispatch as dispatch_module
from master_service import slave_calls
from master_service.dispatch import Dispatch, DispatchSettings, FileJob
from master_service.bounded_http import Answer, AnswerTooLarge
from master_service.errors import SlaveCallError
from master_service.registry import SlaveRegistry
from master_service.slave_calls import ChunkAnswer, parse_answer, send_chunk
from task_types import TASK_TYPES

HEARTBEAT_TIMEOUT_S = 5.0
SHORT_HEARTBEAT_TIMEOUT_S = 0.5
RUN_LIMIT_S = 10.0


def result_of(file_id: str, stream) -> bytes:
    stream.seek(0)
    return f"result {file_id}: ".encode() + stream.read()


def answer_all(files) -> ChunkAnswer:
    return ChunkAnswer({fid: result_of(fid, stream) for fid, _, stream in files}, {})


def fail_in_transport(files) -> ChunkAnswer:
    raise SlaveCallError("answered HTTP 500")


class FakeSlaves:
    """Stands in for send_chunk: each slave address answers with its own behaviour."""

    def __init__(self):
        self.behaviours = {}
        self.calls: list[tuple[str, list[str]]] = []
        self.options_seen: list[tuple[dict, float]] = []
        self._lock = threading.Lock()

    def send_chunk(self, slave, task_type, options, files, timeout_s, token=None):
        with self._lock:
            self.calls.append((slave.address, [filename for _, filename, _ in files]))
            self.options_seen.append((options, timeout_s))
        return self.behaviours[slave.address](files)

    def chunks_of(self, address: str) -> list[list[str]]:
        return [names for called, names in self.calls if called == address]


@pytest.fixture
def fake_slaves(monkeypatch) -> FakeSlaves:
    fakes = FakeSlaves()
    monkeypatch.setattr(dispatch_module, "send_chunk", fakes.send_chunk)
    return fakes


@pytest.fixture
def registry() -> SlaveRegistry:
    return SlaveRegistry(heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S)


def make_jobs(*names: str) -> list[FileJob]:
    return [
        FileJob(file_id=str(number), filename=name, stream=io.BytesIO(name.encode()))
        for number, name in enumerate(names)
    ]


def run_dispatch(
    registry, task_name, jobs, slaves, results_dir, max_attempts=3, options=None
):
    """Run a Dispatch to the end; fails the test instead of hanging."""
    settings = DispatchSettings(
        results_dir, slave_timeout_s=7.0, max_attempts=max_attempts
    )
    dispatch = Dispatch(registry, TASK_TYPES[task_name], options or {}, jobs, settings)
    runner = threading.Thread(target=dispatch.run, args=(slaves,), daemon=True)
    runner.start()
    runner.join(RUN_LIMIT_S)
    assert not runner.is_alive(), "Dispatch.run did not return"
    return dispatch


def test_results_are_stored_under_the_task_type_folder(tmp_path, registry, fake_slaves):
    """Results go to results_dir/<type>/ with safe names; a repeated stem gets _1.

    Slaves get the safe name too, so no upload name can confuse their form parser.
    """
    slave, _ = registry.register("10.0.0.1", 3000, ("text",), 1)
    fake_slaves.behaviours[slave.address] = answer_all
    jobs = make_jobs("a.txt", "dir/b.md", "../c.txt", "other/a.txt")

    run_dispatch(registry, "text", jobs, [slave], tmp_path)

    assert [job.saved_path for job in jobs] == [
        str(tmp_path / "text" / "a_analysis.json"),
        str(tmp_path / "text" / "b_analysis.json"),
        str(tmp_path / "text" / "c_analysis.json"),
        str(tmp_path / "text" / "a_analysis_1.json"),
    ]
    assert (tmp_path / "text" / "a_analysis_1.json").read_bytes() == (
        b"result 3: other/a.txt"
    )
    assert [job.error for job in jobs] == [None] * 4
    assert fake_slaves.calls == [
        ("10.0.0.1:3000", ["a.txt"]),
        ("10.0.0.1:3000", ["b.md"]),
        ("10.0.0.1:3000", ["c.txt"]),
        ("10.0.0.1:3000", ["a.txt"]),
    ]


def test_image_results_are_named_processed(tmp_path, registry, fake_slaves):
    """An image result is stored as image/processed_<stem>.png."""
    slave, _ = registry.register("10.0.0.1", 3000, ("image",), 1)
    fake_slaves.behaviours[slave.address] = answer_all
    (job,) = make_jobs("holiday photo.JPG")

    run_dispatch(registry, "image", [job], [slave], tmp_path)

    assert job.saved_path == str(tmp_path / "image" / "processed_holiday_photo.png")


def test_options_and_timeout_reach_the_slave(tmp_path, registry, fake_slaves):
    """The request's options and the slave timeout are passed with every chunk."""
    slave, _ = registry.register("10.0.0.1", 3000, ("ocr",), 1)
    fake_slaves.behaviours[slave.address] = answer_all

    run_dispatch(
        registry,
        "ocr",
        make_jobs("a.png", "b.png"),
        [slave],
        tmp_path,
        options={"lang": "deu"},
    )

    assert fake_slaves.options_seen == [({"lang": "deu"}, 7.0), ({"lang": "deu"}, 7.0)]


def test_processor_error_is_final(tmp_path, registry, fake_slaves):
    """An error a slave reports for a file is kept and the file is not sent again."""
    first, _ = registry.register("10.0.0.1", 3000, ("text",), 1)
    second, _ = registry.register("10.0.0.2", 3000, ("text",), 1)

    def report_empty(files):
        return ChunkAnswer(
            {}, {fid: "the file is empty (0 bytes)" for fid, _, _ in files}
        )

    fake_slaves.behaviours = {first.address: report_empty, second.address: report_empty}
    (job,) = make_jobs("empty.txt")

    run_dispatch(registry, "text", [job], [first, second], tmp_path)

    assert job.error == "the file is empty (0 bytes)"
    assert job.saved_path is None
    assert len(fake_slaves.calls) == 1
    assert not (tmp_path / "text").exists()


def test_failed_chunk_is_retried_on_another_slave(tmp_path, registry, fake_slaves):
    """A chunk whose slave fails in transport is processed by the other slave."""
    failing, _ = registry.register("10.0.0.1", 3000, ("text",), 1)
    working, _ = registry.register("10.0.0.2", 3000, ("text",), 1)
    failing_has_failed = threading.Event()

    def fail_once_noted(files):
        failing_has_failed.set()
        raise SlaveCallError("answered HTTP 500")

    def answer_after_the_failure(files):
        # Holding the first file here makes the failing slave take the other one.
        failing_has_failed.wait(5)
        return answer_all(files)

    fake_slaves.behaviours = {
        failing.address: fail_once_noted,
        working.address: answer_after_the_failure,
    }
    jobs = make_jobs("a.txt", "b.txt")

    run_dispatch(registry, "text", jobs, [failing, working], tmp_path)

    assert all(job.saved_path and job.error is None for job in jobs)
    assert sorted(job.slaves_tried for job in jobs) == [
        ["10.0.0.1:3000", "10.0.0.2:3000"],
        ["10.0.0.2:3000"],
    ]
    assert len(fake_slaves.chunks_of(failing.address)) == 1
    assert (failing.failures, failing.files_in_flight, failing.files_done) == (1, 0, 0)
    assert (working.failures, working.files_in_flight, working.files_done) == (0, 0, 2)


def test_file_fails_after_max_attempts_naming_the_slaves(
    tmp_path, registry, fake_slaves
):
    """After max_attempts transport failures the error names every slave tried."""
    first, _ = registry.register("10.0.0.1", 3000, ("text",), 1)
    second, _ = registry.register("10.0.0.2", 3000, ("text",), 1)
    fake_slaves.behaviours = {
        first.address: fail_in_transport,
        second.address: fail_in_transport,
    }
    (job,) = make_jobs("a.txt")

    run_dispatch(registry, "text", [job], [first, second], tmp_path, max_attempts=2)

    assert sorted(job.slaves_tried) == ["10.0.0.1:3000", "10.0.0.2:3000"]
    tried_first, tried_last = job.slaves_tried
    assert job.error == (
        f"not processed after 2 attempts (slaves tried: {tried_first}, {tried_last}); "
        f"last problem: slave {tried_last} answered HTTP 500"
    )
    assert job.saved_path is None


def test_silent_failed_slave_gives_up_after_heartbeat_timeout(tmp_path, fake_slaves):
    """A lone slave that fails and sends no heartbeat leaves the file with an error."""
    registry = SlaveRegistry(heartbeat_timeout_s=SHORT_HEARTBEAT_TIMEOUT_S)
    slave, _ = registry.register("10.0.0.1", 3000, ("text",), 1)
    fake_slaves.behaviours[slave.address] = fail_in_transport
    (job,) = make_jobs("a.txt")
    started = time.monotonic()

    run_dispatch(registry, "text", [job], [slave], tmp_path, max_attempts=3)

    assert time.monotonic() - started >= SHORT_HEARTBEAT_TIMEOUT_S
    assert job.error == (
        "no slave could process the file (slaves tried: 10.0.0.1:3000); "
        "last problem: slave 10.0.0.1:3000 answered HTTP 500"
    )


def test_failed_slave_is_used_again_after_a_heartbeat(tmp_path, registry, fake_slaves):
    """A slave that failed a chunk takes it again once it heartbeats."""
    slave, _ = registry.register("10.0.0.1", 3000, ("text",), 1)
    answers = iter([fail_in_transport, answer_all])

    def fail_then_heartbeat_then_answer(files):
        behaviour = next(answers)
        if behaviour is fail_in_transport:
            threading.Timer(0.1, registry.heartbeat, (slave.address,)).start()
        return behaviour(files)

    fake_slaves.behaviours[slave.address] = fail_then_heartbeat_then_answer
    (job,) = make_jobs("a.txt")

    run_dispatch(registry, "text", [job], [slave], tmp_path)

    assert job.slaves_tried == ["10.0.0.1:3000", "10.0.0.1:3000"]
    assert job.saved_path == str(tmp_path / "text" / "a_analysis.json")


def test_result_missing_from_answer_is_retried(tmp_path, registry, fake_slaves):
    """A file a slave leaves out of its answer is sent again once the slave recovers."""
    slave, _ = registry.register("10.0.0.1", 3000, ("text",), 1)
    seen = set()

    def leave_out_b_once(files):
        answer = answer_all(files)
        for fid, name, _ in files:
            if name == "b.txt" and name not in seen:
                seen.add(name)
                del answer.results[fid]
                threading.Timer(0.1, registry.heartbeat, (slave.address,)).start()
        return answer

    fake_slaves.behaviours[slave.address] = leave_out_b_once
    jobs = make_jobs("a.txt", "b.txt")

    run_dispatch(registry, "text", jobs, [slave], tmp_path)

    assert fake_slaves.calls == [
        ("10.0.0.1:3000", ["a.txt"]),
        ("10.0.0.1:3000", ["b.txt"]),
        ("10.0.0.1:3000", ["b.txt"]),
    ]
    assert [job.slaves_tried for job in jobs] == [
        ["10.0.0.1:3000"],
        ["10.0.0.1:3000", "10.0.0.1:3000"],
    ]
    assert (tmp_path / "text" / "b_analysis.json").read_bytes() == b"result 1: b.txt"
    assert slave.failures == 1


def test_missing_result_fails_after_max_attempts(tmp_path, registry, fake_slaves):
    """A file always left out ends with an error saying so after max_attempts."""
    slave, _ = registry.register("10.0.0.1", 3000, ("text",), 1)

    def answer_nothing_then_heartbeat(files):
        threading.Timer(0.1, registry.heartbeat, (slave.address,)).start()
        return ChunkAnswer({}, {})

    fake_slaves.behaviours[slave.address] = answer_nothing_then_heartbeat
    (job,) = make_jobs("a.txt")

    run_dispatch(registry, "text", [job], [slave], tmp_path, max_attempts=3)

    assert job.error == (
        "not processed after 3 attempts (slaves tried: 10.0.0.1:3000, 10.0.0.1:3000, "
        "10.0.0.1:3000); last problem: slave 10.0.0.1:3000 left 1 file(s) out of its "
        "answer"
    )


def test_whole_request_goes_to_one_slave_in_one_chunk(tmp_path, registry, fake_slaves):
    """All embedding files of a request go to one slave in a single chunk."""
    first, _ = registry.register("10.0.0.1", 3000, ("embedding",), 1)
    second, _ = registry.register("10.0.0.2", 3000, ("embedding",), 1)
    fake_slaves.behaviours = {first.address: answer_all, second.address: answer_all}
    jobs = make_jobs("a.txt", "b.txt", "c.txt", "d.txt", "e.txt")

    run_dispatch(registry, "embedding", jobs, [first, second], tmp_path)

    ((_, names),) = fake_slaves.calls
    assert names == ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]
    assert sorted(p.name for p in (tmp_path / "embedding").iterdir()) == [
        "a_embedding.json",
        "b_embedding.json",
        "c_embedding.json",
        "d_embedding.json",
        "e_embedding.json",
    ]


def test_whole_request_with_a_missing_result_is_redone_entirely(
    tmp_path, registry, fake_slaves
):
    """A whole-request answer missing a file stores nothing; the chunk is redone."""
    slave, _ = registry.register("10.0.0.1", 3000, ("embedding",), 1)
    answers = []

    def partial_then_full(files):
        answer = answer_all(files)
        answers.append(answer)
        if len(answers) == 1:
            del answer.results["2"]
            threading.Timer(0.1, registry.heartbeat, (slave.address,)).start()
        return answer

    fake_slaves.behaviours[slave.address] = partial_then_full
    jobs = make_jobs("a.txt", "b.txt", "c.txt")

    run_dispatch(registry, "embedding", jobs, [slave], tmp_path)

    assert [sorted(names) for _, names in fake_slaves.calls] == [
        ["a.txt", "b.txt", "c.txt"]
    ] * 2
    assert sorted(p.name for p in (tmp_path / "embedding").iterdir()) == [
        "a_embedding.json",
        "b_embedding.json",
        "c_embedding.json",
    ]
    assert slave.failures == 1


def test_every_job_finishes_exactly_once(tmp_path, registry, fake_slaves, monkeypatch):
    """Under failures, omissions and processor errors each file gets one outcome."""
    flaky, _ = registry.register("10.0.0.1", 3000, ("text",), 2)
    lossy, _ = registry.register("10.0.0.2", 3000, ("text",), 3)
    good, _ = registry.register("10.0.0.3", 3000, ("text",), 1)
    flaky_calls = []
    lossy_seen = set()

    def fail_every_other_call(files):
        flaky_calls.append(files)
        if len(flaky_calls) % 2:
            raise SlaveCallError("answered HTTP 502")
        return answer_with_errors(files)

    def leave_out_last_file_once(files):
        answer = answer_with_errors(files)
        last_id = files[-1][0]
        if last_id not in lossy_seen:
            lossy_seen.add(last_id)
            answer.results.pop(last_id, None)
            answer.errors.pop(last_id, None)
        return answer

    def answer_with_errors(files):
        answer = answer_all(files)
        for fid, name, _ in files:
            if name.startswith("bad"):
                del answer.results[fid]
                answer.errors[fid] = f"{name} is not text"
        return answer

    fake_slaves.behaviours = {
        flaky.address: fail_every_other_call,
        lossy.address: leave_out_last_file_once,
        good.address: answer_with_errors,
    }
    stored = []
    real_write = dispatch_module.write_new_file

    def counting_write(folder, name, data):
        stored.append(data)
        return real_write(folder, name, data)

    monkeypatch.setattr(dispatch_module, "write_new_file", counting_write)
    names = [f"{'bad' if n % 5 == 0 else 'good'}{n}.txt" for n in range(30)]
    jobs = make_jobs(*names)

    dispatch = run_dispatch(registry, "text", jobs, [flaky, lossy, good], tmp_path)

    assert dispatch._unfinished == 0
    for job in jobs:
        assert (job.saved_path is None) != (job.error is None), job
        if job.filename.startswith("bad"):
            assert job.error == f"{job.filename} is not text"
        else:
            assert job.saved_path is not None
    assert sorted(stored) == sorted(
        result_of(job.file_id, job.stream) for job in jobs if job.saved_path
    )
    assert len(list((tmp_path / "text").iterdir())) == 24
    assert [s.files_in_flight for s in (flaky, lossy, good)] == [0, 0, 0]
    assert sum(s.files_done for s in (flaky, lossy, good)) == 24


def test_working_slave_takes_over_from_one_that_always_fails(
    tmp_path, registry, fake_slaves
):
    """With one slave always failing and one working, every file is processed."""
    broken, _ = registry.register("10.0.0.1", 3000, ("text",), 2)
    working, _ = registry.register("10.0.0.2", 3000, ("text",), 2)
    fake_slaves.behaviours = {
        broken.address: fail_in_transport,
        working.address: answer_all,
    }
    jobs = make_jobs(*[f"f{n}.txt" for n in range(8)])

    run_dispatch(registry, "text", jobs, [broken, working], tmp_path)

    assert [job.error for job in jobs] == [None] * 8
    assert sorted(p.name for p in (tmp_path / "text").iterdir()) == [
        f"f{n}_analysis.json" for n in range(8)
    ]
    assert all(job.slaves_tried[-1] == working.address for job in jobs)
    assert len(fake_slaves.chunks_of(broken.address)) <= broken.workers


def test_slow_slave_gets_fewer_chunks_than_fast_one(tmp_path, registry, fake_slaves):
    """A slave that answers slowly takes fewer chunks from the shared queue."""
    slow, _ = registry.register("10.0.0.1", 3000, ("text",), 1)
    fast, _ = registry.register("10.0.0.2", 3000, ("text",), 1)

    def answer_slowly(files):
        time.sleep(0.4)
        return answer_all(files)

    def answer_quickly(files):
        time.sleep(0.01)
        return answer_all(files)

    fake_slaves.behaviours = {slow.address: answer_slowly, fast.address: answer_quickly}
    jobs = make_jobs(*[f"f{n}.txt" for n in range(12)])

    run_dispatch(registry, "text", jobs, [slow, fast], tmp_path)

    slow_chunks = len(fake_slaves.chunks_of(slow.address))
    fast_chunks = len(fake_slaves.chunks_of(fast.address))
    assert slow_chunks + fast_chunks == 12
    assert slow_chunks <= 2
    assert fast_chunks >= 10
    assert all(job.saved_path for job in jobs)


def test_no_slave_at_all_leaves_every_file_with_an_error(tmp_path, registry):
    """Without slaves every file gets an error saying none was up."""
    jobs = make_jobs("a.txt", "b.txt")

    run_dispatch(registry, "text", jobs, [], tmp_path)

    assert [job.error for job in jobs] == [
        "no slave could process the file (slaves tried: none); "
        "last problem: no capable slave was up"
    ] * 2


def test_failure_to_store_a_result_is_the_files_error(
    tmp_path, registry, fake_slaves, monkeypatch
):
    """A result that cannot be written gives its file an error; other files go on."""
    first, _ = registry.register("10.0.0.1", 3000, ("text",), 1)
    second, _ = registry.register("10.0.0.2", 3000, ("text",), 1)
    fake_slaves.behaviours = {first.address: answer_all, second.address: answer_all}
    real_write = dispatch_module.write_new_file

    def disk_full_for_b(folder, name, data):
        if name.startswith("b"):
            raise OSError(28, "No space left on device")
        return real_write(folder, name, data)

    monkeypatch.setattr(dispatch_module, "write_new_file", disk_full_for_b)
    jobs = make_jobs("a.txt", "b.txt", "c.txt")

    run_dispatch(registry, "text", jobs, [first, second], tmp_path)

    assert [job.error for job in jobs] == [
        None,
        "the result could not be stored on the master: "
        "[Errno 28] No space left on device",
        None,
    ]
    assert sorted(p.name for p in (tmp_path / "text").iterdir()) == [
        "a_analysis.json",
        "c_analysis.json",
    ]
    assert len(fake_slaves.calls) == 3


def test_slave_never_holds_more_files_than_workers(tmp_path, registry, fake_slaves):
    """A slave gets one file per worker at a time, and uses all of its workers."""
    slave, _ = registry.register("10.0.0.1", 3000, ("text",), 3)
    in_flight = []
    counter_lock = threading.Lock()
    current = 0

    def answer_counting(files):
        nonlocal current
        with counter_lock:
            current += len(files)
            in_flight.append(current)
        time.sleep(0.05)
        with counter_lock:
            current -= len(files)
        return answer_all(files)

    fake_slaves.behaviours[slave.address] = answer_counting
    jobs = make_jobs(*[f"f{n}.txt" for n in range(12)])

    run_dispatch(registry, "text", jobs, [slave], tmp_path)

    assert max(in_flight) == 3
    assert [len(names) for _, names in fake_slaves.calls] == [1] * 12
    assert all(job.saved_path for job in jobs)


def test_slave_that_is_down_gets_no_files(tmp_path, registry, fake_slaves):
    """A slave whose heartbeats stopped before the request is not sent files."""
    down, _ = registry.register("10.0.0.1", 3000, ("text",), 2)
    up, _ = registry.register("10.0.0.2", 3000, ("text",), 1)
    down.last_seen -= HEARTBEAT_TIMEOUT_S + 1
    fake_slaves.behaviours = {down.address: answer_all, up.address: answer_all}
    jobs = make_jobs("a.txt", "b.txt", "c.txt")

    run_dispatch(registry, "text", jobs, [down, up], tmp_path)

    assert fake_slaves.chunks_of(down.address) == []
    assert [job.slaves_tried for job in jobs] == [["10.0.0.2:3000"]] * 3


def test_recovered_slave_takes_files_it_has_not_failed_first(
    tmp_path, registry, fake_slaves
):
    """After a heartbeat a slave takes an untried file before the one it failed."""
    slave, _ = registry.register("10.0.0.1", 3000, ("text",), 1)
    answers = iter([fail_in_transport, answer_all, answer_all])

    def fail_first_then_answer(files):
        behaviour = next(answers)
        if behaviour is fail_in_transport:
            threading.Timer(0.1, registry.heartbeat, (slave.address,)).start()
        return behaviour(files)

    fake_slaves.behaviours[slave.address] = fail_first_then_answer
    jobs = make_jobs("a.txt", "b.txt")

    run_dispatch(registry, "text", jobs, [slave], tmp_path)

    assert [names for _, names in fake_slaves.calls] == [
        ["a.txt"],
        ["b.txt"],
        ["a.txt"],
    ]
    assert all(job.saved_path for job in jobs)


def test_parse_answer_decodes_results_and_errors():
    """A slave's JSON answer gives result bytes and error messages keyed by file id."""
    body = {
        "results": [{"file_id": 0, "analysis_data": base64.b64encode(b"{}").decode()}],
        "errors": [{"file_id": "1", "error": "the file is empty (0 bytes)"}],
    }

    answer = parse_answer(json.dumps(body).encode(), TASK_TYPES["text"])

    assert answer == ChunkAnswer({"0": b"{}"}, {"1": "the file is empty (0 bytes)"})


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"results": []}',
        b'{"results": [{"file_id": "0", "image_data": "e30="}], "errors": []}',
        b'{"results": [{"file_id": "0", "analysis_data": "no base64!"}], "errors": []}',
        b'{"results": 5, "errors": []}',
    ],
)
def test_parse_answer_rejects_unexpected_bodies(body):
    """A body that is not the expected JSON raises SlaveCallError."""
    with pytest.raises(SlaveCallError) as raised:
        parse_answer(body, TASK_TYPES["text"])

    assert str(raised.value) == "answered with a body that is not the expected JSON"


@pytest.mark.parametrize(
    "raised, message",
    [
        (TimeoutError(), "no answer within 7 s"),
        (DeadlinePassed(), "no complete answer within 7 s"),
        (AnswerTooLarge(), "answered with more than 64 MB for this chunk"),
        (ConnectionRefusedError(), "connection failed (ConnectionRefusedError)"),
        (http.client.IncompleteRead(b""), "connection failed (IncompleteRead)"),
        (http.client.LineTooLong("header"), "connection failed (LineTooLong)"),
    ],
)
def test_send_chunk_turns_transport_errors_into_slave_call_errors(
    registry, monkeypatch, raised, message
):
    """Timeouts and connection problems become SlaveCallError with a clear reason."""
    slave, _ = registry.register("10.0.0.1", 3000, ("text",), 1)

    def exchange(*args, **kwargs):
        raise raised

    monkeypatch.setattr(slave_calls, "exchange", exchange)

    with pytest.raises(SlaveCallError) as raised_error:
        send_chunk(
            slave, TASK_TYPES["text"], {}, [("0", "a.txt", io.BytesIO(b"a"))], 7.0
        )

    assert str(raised_error.value) == message


def test_send_chunk_posts_the_files_and_rejects_http_errors(registry, monkeypatch):
    """Files go to /get_task with their ids; a non-200 status raises SlaveCallError."""
    slave, _ = registry.register("10.0.0.1", 3000, ("ocr",), 1)
    sent = []

    def exchange(host, port, method, path, **kwargs):
        sent.append((host, port, method, path, kwargs))
        return Answer(503, b"{}")

    monkeypatch.setattr(slave_calls, "exchange", exchange)
    stream = io.BytesIO(b"image")
    stream.read()

    with pytest.raises(SlaveCallError) as raised:
        send_chunk(
            slave,
            TASK_TYPES["ocr"],
            {"lang": "deu"},
            [("4", "a.png", stream)],
            7.0,
            "cluster-token-0123456789",
        )

    assert str(raised.value) == "answered HTTP 503"
    ((host, port, method, path, kwargs),) = sent
    assert (host, port, method, path) == ("10.0.0.1", 3000, "POST", "/get_task")
    assert kwargs["headers"]["X-Cluster-Token"] == "cluster-token-0123456789"
    assert (kwargs["connect_timeout_s"], kwargs["timeout_s"]) == (5.0, 7.0)
    form_request = Request(
        EnvironBuilder(
            method="POST",
            input_stream=io.BytesIO(kwargs["body"]),
            content_type=kwargs["headers"]["Content-Type"],
            content_length=len(kwargs["body"]),
        ).get_environ()
    )
    assert form_request.form.to_dict(flat=False) == {
        "task_type": ["ocr"],
        "lang": ["deu"],
        "file_id": ["4"],
        "file_size": ["5"],
        "time_limit_s": ["5"],
    }
    (upload,) = form_request.files.getlist("images")
    assert (upload.filename, upload.read()) == ("a.png", b"image")


def test_dead_registered_slaves_cost_one_attempt_each_not_the_files(
    tmp_path, registry, fake_slaves
):
    """Three dead slaves with many workers cannot use up the files' attempts."""
    healthy, _ = registry.register("10.0.0.9", 3000, ("text",), 2)
    dead = [registry.register(f"10.0.0.{n}", 3000, ("text",), 50)[0] for n in (1, 2, 3)]
    for slave in dead:
        fake_slaves.behaviours[slave.address] = fail_in_transport
    fake_slaves.behaviours[healthy.address] = answer_all
    jobs = make_jobs(*(f"t{n}.txt" for n in range(40)))

    run_dispatch(registry, "text", jobs, [*dead, healthy], tmp_path, max_attempts=3)

    assert [job.error for job in jobs] == [None] * 40
    assert all(job.saved_path for job in jobs)
    assert [slave.failures for slave in dead] == [1, 1, 1]
    assert max(len(job.slaves_tried) for job in jobs) <= 2
