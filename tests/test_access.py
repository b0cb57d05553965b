"""Who may register, heartbeat, send tasks and upload; what a refusal looks like."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import subprocess
import sys
import time
import urllib.parse

import pytest

import master_service.routes as master_routes
from master_service.app import create_app as create_master_app
from scripts.local_cluster import REPO_DIR
from security import bearer_token, is_loopback, token_matches
from settings import load_settings
from slave_service.app import create_app as create_slave_app
from slave_service.config import SLAVE_SETTINGS
from tests.stub_slave import StubSlave, StubSlaveHandler

CLUSTER_TOKEN = "cluster-token-for-tests-0123456789"
API_TOKEN = "api-token-for-tests-9876543210"
OTHER_MACHINE = {"REMOTE_ADDR": "192.0.2.7"}
REGISTRATION_WAIT_S = 4.0


def master_client(**settings):
    config = {"CLUSTER_TOKEN": None, "API_TOKEN": None, **settings}
    return create_master_app(config).test_client()


def slave_client(**settings):
    config = load_settings(
        SLAVE_SETTINGS, {"CLUSTER_TOKEN": None, **settings}, env_file=None
    )
    return create_slave_app(config, ("text",), pool=None).test_client()


@pytest.fixture
def no_outbound_check(monkeypatch):
    """Fail the test if the master tries to contact a slave address."""

    def refuse(*args):
        raise AssertionError("the master contacted a slave address")

    monkeypatch.setattr(master_routes, "check_slave", refuse)


@pytest.mark.parametrize(
    "host, expected",
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LocalHost", True),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("0.0.0.0", False),
        ("localhost.example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(host, expected):
    """Loopback means 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost, nothing else."""
    assert is_loopback(host) is expected


def test_token_matches_only_the_exact_token():
    """Prefixes, case changes, missing and non-ASCII tokens do not match."""
    assert token_matches(CLUSTER_TOKEN, CLUSTER_TOKEN)
    assert not token_matches(CLUSTER_TOKEN[:-1], CLUSTER_TOKEN)
    assert not token_matches(CLUSTER_TOKEN.upper(), CLUSTER_TOKEN)
    assert not token_matches(None, CLUSTER_TOKEN)
    assert not token_matches("", CLUSTER_TOKEN)
    assert not token_matches("tökén", CLUSTER_TOKEN)


@pytest.mark.parametrize(
    "header, token",
    [
        ("Bearer abc", "abc"),
        ("bearer   abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("abc", None),
        (None, None),
    ],
)
def test_bearer_token(header, token):
    """Only the Bearer scheme carries a token."""
    assert bearer_token(header) == token


def test_without_cluster_token_other_machines_cannot_register(no_outbound_check):
    """No token: a registration from another machine gets 403 saying what to set."""
    response = master_client().post(
        "/register",
        json={"slave_ip": "192.0.2.7", "slave_port": 3000},
        environ_base=OTHER_MACHINE,
    )
    assert response.status_code == 403
    body = response.get_json()
    assert body["status"] == "error"
    assert body["http_status"] == 403
    assert "set the same CLUSTER_TOKEN on the master and every slave" in body["error"]


@pytest.mark.parametrize("path", ["/register", "/heartbeat"])
def test_without_cluster_token_only_loopback_slave_addresses(path, no_outbound_check):
    """No token: even a local caller cannot name a slave on another machine."""
    response = master_client().post(
        path, json={"slave_ip": "198.51.100.4", "slave_port": 3000}
    )
    assert response.status_code == 403
    assert response.get_json()["field"] == "slave_ip"
    assert "'198.51.100.4'" in response.get_json()["error"]


@pytest.mark.parametrize("headers", [{}, {"X-Cluster-Token": "wrong-token-0123456789"}])
@pytest.mark.parametrize("path", ["/register", "/heartbeat"])
def test_cluster_token_is_required_when_set(path, headers, no_outbound_check):
    """With a token, a missing or wrong one is 401, from loopback too."""
    response = master_client(CLUSTER_TOKEN=CLUSTER_TOKEN).post(
        path, json={"slave_ip": "127.0.0.1", "slave_port": 3000}, headers=headers
    )
    assert response.status_code == 401
    assert response.get_json()["error"].startswith("missing or wrong cluster token")
    assert CLUSTER_TOKEN not in response.get_data(as_text=True)


def test_cluster_token_admits_slaves_on_other_machines():
    """With the token, a caller on another machine can register a slave."""
    with StubSlave() as stub:
        response = master_client(CLUSTER_TOKEN=CLUSTER_TOKEN).post(
            "/register",
            json={**stub.registration(), "task_types": None},
            headers={"X-Cluster-Token": CLUSTER_TOKEN},
            environ_base=OTHER_MACHINE,
        )
    # No task types means all of them, which the stub does not offer.
    assert response.status_code == 422
    assert response.get_json()["error"].endswith(
        "does not offer image, embedding, ocr, audio, document"
    )
    with StubSlave() as stub:
        response = master_client(CLUSTER_TOKEN=CLUSTER_TOKEN).post(
            "/register",
            json=stub.registration(),
            headers={"X-Cluster-Token": CLUSTER_TOKEN},
            environ_base=OTHER_MACHINE,
        )
    assert response.status_code == 200


def test_registration_checks_the_slave_with_the_token():
    """The master sends its token to the slave's /check_status before adding it."""
    seen_tokens = []
    with StubSlave(task_types=["text"]) as stub:
        handler_get = stub.server.RequestHandlerClass.do_GET

        def recording_get(handler):
            seen_tokens.append(handler.headers.get("X-Cluster-Token"))
            handler_get(handler)

        stub.server.RequestHandlerClass = type(
            "Recording", (stub.server.RequestHandlerClass,), {"do_GET": recording_get}
        )
        response = master_client(CLUSTER_TOKEN=CLUSTER_TOKEN).post(
            "/register",
            json={
                "slave_ip": "127.0.0.1",
                "slave_port": stub.port,
                "task_types": ["text"],
            },
            headers={"X-Cluster-Token": CLUSTER_TOKEN},
        )
    assert response.status_code == 200
    assert seen_tokens == [CLUSTER_TOKEN]


@pytest.mark.parametrize(
    "status, message",
    [
        ({"status": "alive"}, "does not answer as a slave"),
        ({"role": "slave", "task_types": "text"}, "does not answer as a slave"),
        ({"role": "slave", "task_types": ["image"]}, "does not offer text"),
        (
            {"role": "slave", "task_types": ["text"], "cluster_token_required": True},
            "needs a cluster token and this master has none",
        ),
    ],
)
def test_an_address_that_is_not_a_fitting_slave_is_refused(status, message):
    """A registration naming something other than a fitting slave gets 422."""
    with StubSlave() as stub:
        stub.server.status = status
        response = stub.register_with_client(master_client())
    assert response.status_code == 422
    assert message in response.get_json()["error"]


def test_an_address_that_does_not_answer_is_refused():
    """A registration naming a closed port gets 422 and is not added."""
    stub = StubSlave()
    stub.stop()
    client = master_client()
    response = stub.register_with_client(client)
    assert response.status_code == 422
    assert "does not answer (ConnectionRefusedError)" in response.get_json()["error"]
    assert client.get("/check_status").get_json()["slaves"] == []


@pytest.mark.parametrize(
    "slave_ip",
    [
        "not a host",
        "-bad-.example",
        "999.1.1.1",
        "a" * 64 + ".example",
        "::1%]@127.0.0.3:36069#",
        "fe80::1%lo",
        "::1%1",
        "0x7f000001",
        "127.0.0.0x1",
        "0x7f.1",
    ],
)
def test_slave_ip_must_be_an_ip_address_or_host_name(slave_ip, no_outbound_check):
    """Anything else gets a 400 naming the field, before any contact."""
    response = master_client(CLUSTER_TOKEN=CLUSTER_TOKEN).post(
        "/register",
        json={"slave_ip": slave_ip, "slave_port": 3000},
        headers={"X-Cluster-Token": CLUSTER_TOKEN},
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == "slave_ip"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {API_TOKEN}"},
        {"Authorization": f"Bearer {API_TOKEN}x"},
    ],
)
def test_api_token_guards_uploads(headers):
    """With API_TOKEN, uploads without the right bearer token get 401."""
    response = master_client(API_TOKEN=API_TOKEN).post(
        "/assign_task",
        data={"task_type": "text"},
        headers=headers,
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="master"'
    assert response.get_json()["error"].startswith("missing or wrong API token")


def test_the_right_api_token_gets_past_the_guard():
    """The right token reaches the request's own checks (here: no files, 400)."""
    response = master_client(API_TOKEN=API_TOKEN).post(
        "/assign_task",
        data={"task_type": "text"},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == "texts"


@pytest.mark.parametrize("path", ["/", "/check_status", "/openapi.json"])
def test_health_and_contract_stay_open_and_show_no_secrets(path):
    """GET /, /check_status and /openapi.json need no token and show none."""
    client = master_client(CLUSTER_TOKEN=CLUSTER_TOKEN, API_TOKEN=API_TOKEN)
    response = client.get(path)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert CLUSTER_TOKEN not in text and API_TOKEN not in text


def test_slave_without_token_takes_tasks_from_loopback_only():
    """No token: /get_task from another machine is 403, before the form is read."""
    response = slave_client().post(
        "/get_task", data={"task_type": "text"}, environ_base=OTHER_MACHINE
    )
    assert response.status_code == 403
    assert response.get_json()["http_status"] == 403
    assert "set the same CLUSTER_TOKEN" in response.get_json()["error"]


@pytest.mark.parametrize("headers", [{}, {"X-Cluster-Token": "wrong-token-0123456789"}])
def test_slave_with_token_needs_it_on_get_task(headers):
    """With a token, a missing or wrong one is 401 from loopback too."""
    response = slave_client(CLUSTER_TOKEN=CLUSTER_TOKEN).post(
        "/get_task", data={"task_type": "text"}, headers=headers
    )
    assert response.status_code == 401
    assert CLUSTER_TOKEN not in response.get_data(as_text=True)


def test_slave_with_token_takes_the_master_with_it():
    """The right token gets to the task's own checks (here: no files, 400)."""
    response = slave_client(CLUSTER_TOKEN=CLUSTER_TOKEN).post(
        "/get_task",
        data={"task_type": "text"},
        headers={"X-Cluster-Token": CLUSTER_TOKEN},
        environ_base=OTHER_MACHINE,
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "no files in the field 'texts'"


@pytest.mark.parametrize(
    "slave_token, presented, status",
    [
        (None, None, 200),
        (CLUSTER_TOKEN, None, 200),
        (CLUSTER_TOKEN, CLUSTER_TOKEN, 200),
        (CLUSTER_TOKEN, "wrong-token-0123456789", 401),
        (None, CLUSTER_TOKEN, 401),
    ],
)
def test_slave_status_is_open_but_checks_a_presented_token(
    slave_token, presented, status
):
    """/check_status answers anyone, and refuses a token that is not its own."""
    headers = {"X-Cluster-Token": presented} if presented else {}
    response = slave_client(CLUSTER_TOKEN=slave_token).get(
        "/check_status", headers=headers
    )
    assert response.status_code == status
    if status == 200:
        body = response.get_json()
        assert body["role"] == "slave"
        assert body["cluster_token_required"] is (slave_token is not None)


class Exploding:
    """Stands in for an object whose every use fails unexpectedly."""

    def __getattr__(self, name):
        raise RuntimeError("connection string postgres://admin:hunter2@db")


def test_unexpected_master_error_is_a_500_with_a_request_id(caplog):
    """No detail reaches the client; the log has the id and the traceback."""
    app = create_master_app({"CLUSTER_TOKEN": None, "API_TOKEN": None})
    app.extensions["slave_registry"] = Exploding()
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/check_status")
    assert response.status_code == 500
    body = response.get_json()
    assert set(body) == {"status", "error", "http_status", "request_id"}
    assert "hunter2" not in response.get_data(as_text=True)
    (record,) = [r for r in caplog.records if body["request_id"] in r.getMessage()]
    assert "GET '/check_status'" in record.getMessage()
    assert "hunter2" in caplog.text  # the traceback, for whoever reads the log


def test_unexpected_slave_error_is_a_500_with_a_request_id(caplog):
    """The slave answers the same way."""
    config = load_settings(SLAVE_SETTINGS, {"CLUSTER_TOKEN": None}, env_file=None)
    app = create_slave_app(config, ("text",), pool=None, master_link=Exploding())
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/check_status")
    assert response.status_code == 500
    assert "hunter2" not in response.get_data(as_text=True)
    assert response.get_json()["request_id"] in caplog.text


@pytest.mark.parametrize(
    "make_client, method, path, status",
    [
        (master_client, "get", "/nowhere", 404),
        (master_client, "get", "/assign_task", 405),
        (master_client, "delete", "/register", 405),
        (master_client, "delete", "/check_status", 405),
        (slave_client, "get", "/nowhere", 404),
        (slave_client, "get", "/get_task", 405),
    ],
)
def test_routing_errors_have_the_error_shape(make_client, method, path, status):
    """Unknown paths and wrong methods answer JSON errors like every other."""
    response = getattr(make_client(), method)(path)
    assert response.status_code == status
    body = response.get_json()
    assert body["status"] == "error"
    assert body["http_status"] == status
    assert isinstance(body["error"], str) and body["error"]
    if status == 405:
        assert "GET" in response.headers["Allow"] or "POST" in response.headers["Allow"]


def run_client(
    master_url: str, path, env_token: str | None
) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin"}
    if env_token:
        env["API_TOKEN"] = env_token
    return subprocess.run(
        [sys.executable, str(REPO_DIR / "client.py"), master_url, "text", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def all_logs(cluster) -> str:
    services = [cluster.master, *cluster.slaves]
    return "\n".join(s.log_path.read_text(errors="replace") for s in services)


def test_a_cluster_with_both_tokens_works_and_logs_neither(make_cluster, tmp_path):
    """Same CLUSTER_TOKEN on both, API_TOKEN for the client: files are processed."""
    cluster = make_cluster()
    cluster.start_master(CLUSTER_TOKEN=CLUSTER_TOKEN, API_TOKEN=API_TOKEN)
    cluster.start_slave(CLUSTER_TOKEN=CLUSTER_TOKEN, SLAVE_TASK_TYPES="text")
    cluster.wait_for_slaves(1)
    text = tmp_path / "note.txt"
    text.write_text("Tokens keep strangers out. The cluster still works.")

    refused = run_client(cluster.master_url, text, env_token=None)
    accepted = run_client(cluster.master_url, text, env_token=API_TOKEN)

    assert refused.returncode == 2
    assert "(HTTP 401): missing or wrong API token" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.splitlines()[-1] == (
        "1 of 1 file(s) processed, 0 failed (task type text)"
    )
    logs = all_logs(cluster)
    assert CLUSTER_TOKEN not in logs and API_TOKEN not in logs


@pytest.mark.parametrize(
    "master_token, slave_token, master_says",
    [
        (CLUSTER_TOKEN, "another-token-0123456789", "(HTTP 401): missing or wrong"),
        (CLUSTER_TOKEN, None, "(HTTP 401): missing or wrong"),
        (None, CLUSTER_TOKEN, "(HTTP 422): the slave at"),
    ],
    ids=["different-tokens", "slave-without", "master-without"],
)
def test_mismatched_tokens_keep_a_slave_out_and_say_why(
    make_cluster, master_token, slave_token, master_says
):
    """A slave whose token does not match never joins; its log says why."""
    cluster = make_cluster()
    cluster.start_master(CLUSTER_TOKEN=master_token or "")
    slave = cluster.start_slave(CLUSTER_TOKEN=slave_token or "")
    deadline = time.monotonic() + REGISTRATION_WAIT_S
    while master_says not in slave.log_tail() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"refused the registration {master_says}" in slave.log_tail()
    assert cluster.registered_slaves() == []
    if master_token is None:
        assert "needs a cluster token and this master has none" in slave.log_tail()
    logs = all_logs(cluster)
    assert CLUSTER_TOKEN not in logs and "another-token-0123456789" not in logs


def test_both_services_say_how_to_set_a_token_when_they_have_none(make_cluster):
    """Without CLUSTER_TOKEN each service logs once how to add other machines."""
    cluster = make_cluster()
    cluster.start_master()
    slave = cluster.start_slave(SLAVE_TASK_TYPES="text")
    cluster.wait_for_slaves(1)
    advice = "set the same CLUSTER_TOKEN on the master and every slave"
    assert cluster.master.log_tail(200).count(advice) == 1
    assert slave.log_tail(200).count(advice) == 1
    assert "No CLUSTER_TOKEN: only slaves on this machine" in cluster.master.log_tail()


def test_refusals_are_logged_without_what_was_sent(caplog):
    """A refused caller is logged with its address, never with the token it sent."""
    client = master_client(CLUSTER_TOKEN=CLUSTER_TOKEN)
    with caplog.at_level(logging.WARNING):
        client.post(
            "/heartbeat",
            json={"slave_ip": "127.0.0.1", "slave_port": 3000},
            headers={"X-Cluster-Token": "guessed-token-0123456789"},
            environ_base=OTHER_MACHINE,
        )
    assert "Refused POST '/heartbeat' from 192.0.2.7 (HTTP 401)" in caplog.text
    assert "guessed-token" not in caplog.text


@pytest.mark.parametrize(
    "form, message",
    [
        (
            {"file_size": "-1"},
            "form field 'file_size' must be one byte count per file (1)",
        ),
        (
            {"file_size": ["5", "5"]},
            "form field 'file_size' must be one byte count per file (1)",
        ),
        ({"time_limit_s": "inf"}, "form field 'time_limit_s' must be a number more"),
        ({"texts": "not a file"}, "the field 'texts' holds text, not a file"),
    ],
)
def test_slave_refuses_malformed_task_fields(form, message):
    """A malformed task is a 400 saying what is wrong, never a silent drop."""
    response = slave_client().post(
        "/get_task",
        data={"task_type": "text", "texts": (io.BytesIO(b"words"), "a.txt"), **form},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(message)


def test_whole_numbers_may_be_written_as_floats():
    """JSON's 3000.0 is the number 3000, for the port and for workers."""
    with StubSlave(workers=4) as stub:
        body = {**stub.registration(), "slave_port": float(stub.port), "workers": 4.0}
        response = master_client().post("/register", json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["address"] == f"127.0.0.1:{stub.port}"
    assert response.get_json()["workers"] == 4


@pytest.mark.parametrize(
    "field, value",
    [
        ("slave_port", 3000.5),
        ("slave_port", True),
        ("workers", 1.5),
        ("workers", False),
    ],
)
def test_fractions_and_booleans_are_not_whole_numbers(field, value, no_outbound_check):
    """3000.5 and true are refused with a 400 naming the field."""
    body = {"slave_ip": "127.0.0.1", "slave_port": 3000, field: value}
    response = master_client().post("/register", json=body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_a_refused_path_cannot_forge_log_lines(caplog):
    """A line break or NUL in a refused path is logged quoted, on one line."""
    client = master_client(API_TOKEN=API_TOKEN)
    with caplog.at_level(logging.WARNING):
        client.get("/results/text/x%0AFORGED%00line")
    (line,) = [r.getMessage() for r in caplog.records if "Refused" in r.getMessage()]
    assert (
        line
        == "Refused GET '/results/text/x\\nFORGED\\x00line' from 127.0.0.1 (HTTP 401)"
    )


class TricklingStatusHandler(StubSlaveHandler):
    """Sends the status line of /check_status, then a header byte every second."""

    def do_GET(self):
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for _ in range(20):
                self.wfile.write(b"X")
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            return


class RawStatusHandler(StubSlaveHandler):
    """Answers /check_status with the server's raw bytes, whatever they are."""

    def do_GET(self):
        self.wfile.write(self.server.raw_answer)


def test_a_trickling_status_answer_cannot_hold_a_registration():
    """The whole check of a slave ends within its deadline, with a 422."""
    with StubSlave(handler=TricklingStatusHandler) as stub:
        started = time.monotonic()
        response = stub.register_with_client(master_client())
        elapsed = time.monotonic() - started
        assert response.status_code == 422
        assert "did not answer /check_status within 8 s" in response.get_json()["error"]
        assert elapsed < 12
        # The check's thread is woken at the deadline, not left reading.
        time.sleep(0.5)
        assert not any(t.name == "slave-check" for t in threading.enumerate())


@pytest.mark.parametrize(
    "raw_answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 60000\r\n\r\n"
        + b"[" * 30000
        + b"]" * 30000,
        b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"role": "slave"',
    ],
    ids=["deeply-nested-json", "body-shorter-than-declared"],
)
def test_odd_status_answers_are_a_422_not_a_500(raw_answer):
    """Deep JSON and a cut-off body mean "not a slave", never an internal error."""
    with StubSlave(handler=RawStatusHandler) as stub:
        stub.server.raw_answer = raw_answer
        response = stub.register_with_client(master_client())
    assert response.status_code == 422


def raw_exchange(url: str, request_bytes: bytes) -> tuple[int, dict]:
    """Send raw bytes to a loopback service; its status and JSON body."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(request_bytes)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except ConnectionResetError:  # closed with some of the request unread
            if not answer:
                raise
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    assert b"Content-Type: application/json" in head
    return status, json.loads(body)


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"NOT A REQUEST\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 262_200 + b"\r\n\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ],
    ids=["bad-request-line", "bad-header", "huge-header", "unknown-encoding"],
)
def test_errors_waitress_answers_itself_have_the_error_shape(
    shared_cluster, request_bytes, status
):
    """Malformed HTTP gets JSON errors from the master and the slaves alike."""
    for url in (shared_cluster.master_url, shared_cluster.slaves[0].url):
        answered, body = raw_exchange(url, request_bytes)
        assert answered == status
        assert body["status"] == "error" and body["http_status"] == status


def test_a_huge_text_field_gets_a_message_that_fits_it():
    """A 600 KB text field is not reported as too many files."""
    response = master_client().post(
        "/assign_task",
        data={
            "task_type": "text",
            "password": "x" * 600_000,
            "texts": (io.BytesIO(b"words"), "a.txt"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["limit"] == "MAX_FILES"
    assert "each text field at most 500 KB" in body["error"]
