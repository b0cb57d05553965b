"""Property-based requests from the OpenAPI documents against a live master and slave.

schemathesis draws valid and invalid requests for every operation and runs all its
default checks on each answer: no 5xx, documented status, media type, headers and
body, valid data accepted, invalid data refused, tokens enforced.

A registration makes the master call the registered address, so every address the
master would accept is turned into this test's own slave before it is sent: the
master contacts nothing else.
"""

from __future__ import annotations

import json

import pytest

from master_service.errors import BadRequestError
from master_service.slave_fields import read_slave_address
from scripts.local_cluster import LocalCluster
from task_types import DEFAULT_TASK_TYPE, TASK_TYPES, UPLOAD_FIELDS
from tests.api_contract import load_document, load_schema

CLUSTER_TOKEN = "fuzz-cluster-token-0123456789"
API_TOKEN = "fuzz-api-token-0123456789"
LOOPBACK = "127.0.0.1"
MAX_EXAMPLES = 30
FUZZ_SETTINGS = {
    "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
    "request-timeout": 60,
}
SLAVE_ADDRESS_PATHS = ("/register", "/heartbeat")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A master with both tokens and one slave that runs every task type."""
    cluster = LocalCluster(tmp_path_factory.mktemp("fuzz-cluster"))
    try:
        cluster.start_master(CLUSTER_TOKEN=CLUSTER_TOKEN, API_TOKEN=API_TOKEN)
        cluster.start_slave(CLUSTER_TOKEN=CLUSTER_TOKEN, SLAVE_WORKERS=2)
        (slave,) = cluster.wait_for_slaves(1)
        if slave["task_types"] != list(TASK_TYPES):
            # A type no slave runs would answer 503, which the checks count as a bug.
            pytest.skip(f"the slave runs only {slave['task_types']} (no tesseract?)")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def registration_cluster(tmp_path_factory):
    """A master with a cluster token and one slave, where registrations may land."""
    cluster = LocalCluster(tmp_path_factory.mktemp("fuzz-registration"))
    try:
        cluster.start_master(CLUSTER_TOKEN=CLUSTER_TOKEN)
        cluster.start_slave(CLUSTER_TOKEN=CLUSTER_TOKEN, SLAVE_WORKERS=1)
        cluster.wait_for_slaves(1)
        yield cluster
    finally:
        cluster.stop()


def is_slave_address(body) -> bool:
    """Whether the master reads the body's slave_ip and slave_port as an address."""
    try:
        read_slave_address(body)
    except BadRequestError:
        return False
    return True


def aim_at_own_slave(case, slave_port: int) -> None:
    """Point every address the master would accept at this test's own slave.

    Addresses the master refuses stay as drawn: it answers 400 without calling out.
    Reassigning `case.body` makes schemathesis judge the request as it is sent.
    """
    if case.path not in SLAVE_ADDRESS_PATHS or not is_slave_address(case.body):
        return
    port = case.body["slave_port"]
    case.body = {
        **case.body,
        "slave_ip": LOOPBACK,
        "slave_port": str(slave_port) if isinstance(port, str) else slave_port,
    }


def files_as_sent(case) -> None:
    """Judge each drawn file by the bytes it is sent as.

    A file part carries bytes whatever value was drawn for it, so a drawn number or
    object is replaced by its JSON text: the same part on the wire, and a valid file.
    """
    body = case.body
    if not isinstance(body, dict) or not UPLOAD_FIELDS & set(body):
        return
    case.body = {
        name: (
            [item if isinstance(item, str) else json.dumps(item) for item in value]
            if name in UPLOAD_FIELDS and isinstance(value, list)
            else value
        )
        for name, value in body.items()
    }


def one_id_and_size_per_file(case) -> None:
    """Give a /get_task request one file_id and one file_size part per file.

    The slave needs one of each per file of the task type's field, a rule JSON
    Schema cannot state, so drawn lists of another length are cut or padded to fit.
    A single value is a list of one: multipart sends both as the same one part.
    """
    body = case.body
    if not isinstance(body, dict):
        return
    task_type = TASK_TYPES.get(body.get("task_type") or DEFAULT_TASK_TYPE)
    files = body.get(task_type.upload_field) if task_type else None
    if not isinstance(files, list) or not files:
        return
    fitted = dict(body)
    for name, filler in (("file_id", "0"), ("file_size", 0)):
        drawn = body.get(name)
        if isinstance(drawn, (str, int, float)):
            drawn = [drawn]
        if isinstance(drawn, list):
            fitted[name] = (drawn + [filler] * len(files))[: len(files)]
    case.body = fitted


master_api = load_schema(
    load_document("master"),
    **FUZZ_SETTINGS,
    auth={"openapi": {"ApiToken": {"bearer": API_TOKEN}}},
)
registration_api = load_schema(
    load_document("master"),
    **FUZZ_SETTINGS,
    auth={"openapi": {"ClusterToken": {"api_key": CLUSTER_TOKEN}}},
).include(path_regex="^/(register|heartbeat)$")
slave_api = load_schema(
    load_document("slave"),
    **FUZZ_SETTINGS,
    auth={"openapi": {"ClusterToken": {"api_key": CLUSTER_TOKEN}}},
)


@master_api.parametrize()
def test_master_keeps_its_contract_without_cluster_token(case, cluster):
    """Every master route answers as documented; registrations all need the token."""
    aim_at_own_slave(case, cluster.slaves[0].port)
    files_as_sent(case)

    case.call_and_validate(base_url=cluster.master_url)


@registration_api.parametrize()
def test_registrations_keep_the_contract_with_cluster_token(case, registration_cluster):
    """Registrations and heartbeats with the token answer as documented."""
    aim_at_own_slave(case, registration_cluster.slaves[0].port)

    case.call_and_validate(base_url=registration_cluster.master_url)


@slave_api.parametrize()
def test_slave_keeps_its_contract(case, cluster):
    """Every slave route answers as documented."""
    files_as_sent(case)
    if case.path == "/get_task":
        one_id_and_size_per_file(case)

    case.call_and_validate(base_url=cluster.slaves[0].url)
