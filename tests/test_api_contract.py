"""The OpenAPI documents in api/ against task_types.py and against real answers.

Every (method, path, status) the documents list is produced here by a real request to
a real master or slave, and the answer is checked against the document.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import pytest
import requests
from PIL import Image

from scripts.local_cluster import LocalCluster
from task_types import TASK_TYPES
from tests.api_contract import (
    assert_conforms,
    assert_route_independent_conforms,
    documented_exchanges,
    load_document,
    load_schema,
    local_non_loopback_ipv4,
    session_from,
)

CLUSTER_TOKEN = "contract-cluster-token-0123456789"
API_TOKEN = "contract-api-token-0123456789"
MAX_UPLOAD_MB = 1
REQUEST_TIMEOUT_S = 60
MASTER_DOCUMENT = load_document("master")
SLAVE_DOCUMENT = load_document("slave")
DOCUMENTS = {"master": MASTER_DOCUMENT, "slave": SLAVE_DOCUMENT}


def form_schema(document: dict) -> dict:
    request_body = next(
        item["post"]["requestBody"]
        for path, item in document["paths"].items()
        if path in ("/assign_task", "/get_task")
    )
    reference = request_body["content"]["multipart/form-data"]["schema"]["$ref"]
    return document["components"]["schemas"][reference.rsplit("/", 1)[-1]]


@pytest.mark.parametrize("service", DOCUMENTS)
def test_task_type_enums_list_every_task_type(service):
    """Both task type enums of a document name exactly the types of TASK_TYPES."""
    document = DOCUMENTS[service]

    names = document["components"]["schemas"]["TaskTypeName"]["enum"]
    form_names = form_schema(document)["properties"]["task_type"]["enum"]

    assert names == list(TASK_TYPES)
    # The empty string is how a form leaves the type at its default, image.
    assert form_names == [*TASK_TYPES, ""]


@pytest.mark.parametrize("service", DOCUMENTS)
@pytest.mark.parametrize("name", TASK_TYPES)
def test_upload_form_takes_each_type_with_its_field_and_options(service, name):
    """The form has the type's upload field and options; its variant requires them."""
    task_type = TASK_TYPES[name]
    form = form_schema(DOCUMENTS[service])

    upload = form["properties"][task_type.upload_field]
    variant = next(v for v in form["anyOf"] if v["title"] == name)

    assert upload["type"] == "array"
    assert upload["items"] == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
    }
    assert task_type.upload_field in variant["required"]
    assert variant["properties"][task_type.upload_field] == {"minItems": 1}
    assert name in variant["properties"]["task_type"]["enum"]
    for option in task_type.option_names:
        assert option in form["properties"]
        assert option in variant["properties"]
    unused = {
        option
        for other in TASK_TYPES.values()
        for option in other.option_names
        if option not in task_type.option_names
    }
    assert not unused & set(variant["properties"])


def test_slave_results_have_each_data_key():
    """A slave's result entry may carry the data key of every task type."""
    result = SLAVE_DOCUMENT["components"]["schemas"]["FileResult"]

    keys = set(result["properties"]) - {"filename", "file_id"}

    assert keys == {t.data_key for t in TASK_TYPES.values()}


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Clusters:
    """A cluster with both tokens and an image-only slave, and one without tokens."""

    with_tokens: LocalCluster
    without_tokens: LocalCluster
    source_ip: str | None

    @property
    def master(self) -> str:
        return self.with_tokens.master_url

    @property
    def slave(self) -> str:
        return self.with_tokens.slaves[0].url

    @property
    def slave_port(self) -> int:
        return self.with_tokens.slaves[0].port

    def from_elsewhere(self) -> requests.Session:
        """A session calling the token-less cluster from a non-loopback address."""
        if self.source_ip is None:
            pytest.skip("this machine has no address outside loopback to call from")
        return session_from(self.source_ip)


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    """Both clusters, started once for the module."""
    with_tokens = LocalCluster(tmp_path_factory.mktemp("contract-with-tokens"))
    without_tokens = LocalCluster(tmp_path_factory.mktemp("contract-without-tokens"))
    try:
        with_tokens.start_master(
            CLUSTER_TOKEN=CLUSTER_TOKEN,
            API_TOKEN=API_TOKEN,
            MAX_UPLOAD_MB=MAX_UPLOAD_MB,
        )
        with_tokens.start_slave(
            CLUSTER_TOKEN=CLUSTER_TOKEN, SLAVE_TASK_TYPES="image", SLAVE_WORKERS=1
        )
        without_tokens.start_master()
        without_tokens.start_slave(SLAVE_WORKERS=1)
        with_tokens.wait_for_slaves(1)
        without_tokens.wait_for_slaves(1)
        yield Clusters(with_tokens, without_tokens, local_non_loopback_ipv4())
    finally:
        with_tokens.stop()
        without_tokens.stop()


def token(value: str = CLUSTER_TOKEN) -> dict:
    return {"X-Cluster-Token": value}


def bearer(value: str = API_TOKEN) -> dict:
    return {"Authorization": f"Bearer {value}"}


def call(method: str, url: str, session=requests, **kwargs) -> requests.Response:
    return session.request(method, url, timeout=REQUEST_TIMEOUT_S, **kwargs)


def image_upload(name: str = "red.png") -> list:
    return [("images", (name, png_bytes(), "image/png"))]


def processed_image_url(clusters: Clusters) -> str:
    """The result_url of an image the master has just processed."""
    answer = call(
        "POST",
        f"{clusters.master}/assign_task",
        headers=bearer(),
        files=image_upload(),
    ).json()
    return answer["files"][0]["result_url"]


# One real request per documented answer: (service, METHOD, path, status) -> request.
EXCHANGES: dict[tuple[str, str, str, int], Callable[[Clusters], requests.Response]] = {
    ("master", "GET", "/", 200): lambda c: call("GET", c.master),
    ("master", "GET", "/check_status", 200): lambda c: call(
        "GET", f"{c.master}/check_status"
    ),
    ("master", "GET", "/openapi.json", 200): lambda c: call(
        "GET", f"{c.master}/openapi.json"
    ),
    ("master", "POST", "/register", 200): lambda c: call(
        "POST",
        f"{c.master}/register",
        headers=token(),
        json={
            "slave_ip": "127.0.0.1",
            "slave_port": c.slave_port,
            "task_types": ["image"],
            "workers": 1,
        },
    ),
    ("master", "POST", "/register", 400): lambda c: call(
        "POST", f"{c.master}/register", headers=token(), json={"slave_port": 1}
    ),
    ("master", "POST", "/register", 401): lambda c: call(
        "POST",
        f"{c.master}/register",
        headers=token("wrong-cluster-token-0123456789"),
        json={"slave_ip": "127.0.0.1", "slave_port": c.slave_port},
    ),
    ("master", "POST", "/register", 403): lambda c: call(
        "POST",
        f"{c.without_tokens.master_url}/register",
        c.from_elsewhere(),
        json={
            "slave_ip": "127.0.0.1",
            "slave_port": c.without_tokens.slaves[0].port,
        },
    ),
    # The slave offers image only, so it cannot be registered for text.
    ("master", "POST", "/register", 422): lambda c: call(
        "POST",
        f"{c.master}/register",
        headers=token(),
        json={
            "slave_ip": "127.0.0.1",
            "slave_port": c.slave_port,
            "task_types": ["text"],
        },
    ),
    ("master", "POST", "/heartbeat", 200): lambda c: call(
        "POST",
        f"{c.master}/heartbeat",
        headers=token(),
        json={"slave_ip": "127.0.0.1", "slave_port": c.slave_port},
    ),
    ("master", "POST", "/heartbeat", 400): lambda c: call(
        "POST", f"{c.master}/heartbeat", headers=token(), json=["127.0.0.1"]
    ),
    ("master", "POST", "/heartbeat", 401): lambda c: call(
        "POST",
        f"{c.master}/heartbeat",
        json={"slave_ip": "127.0.0.1", "slave_port": c.slave_port},
    ),
    ("master", "POST", "/heartbeat", 403): lambda c: call(
        "POST",
        f"{c.without_tokens.master_url}/heartbeat",
        c.from_elsewhere(),
        json={
            "slave_ip": "127.0.0.1",
            "slave_port": c.without_tokens.slaves[0].port,
        },
    ),
    # Heartbeats do not contact the slave, so any unregistered port will do.
    ("master", "POST", "/heartbeat", 404): lambda c: call(
        "POST",
        f"{c.master}/heartbeat",
        headers=token(),
        json={"slave_ip": "127.0.0.1", "slave_port": c.with_tokens.master_port},
    ),
    ("master", "POST", "/assign_task", 200): lambda c: call(
        "POST",
        f"{c.master}/assign_task",
        headers=bearer(),
        data={"task_type": "image"},
        files=image_upload(),
    ),
    ("master", "POST", "/assign_task", 400): lambda c: call(
        "POST",
        f"{c.master}/assign_task",
        headers=bearer(),
        data={"task_type": "sculpture"},
        files=image_upload(),
    ),
    ("master", "POST", "/assign_task", 401): lambda c: call(
        "POST",
        f"{c.master}/assign_task",
        headers=bearer("wrong-api-token-0123456789"),
        files=image_upload(),
    ),
    ("master", "POST", "/assign_task", 413): lambda c: call(
        "POST",
        f"{c.master}/assign_task",
        headers=bearer(),
        files=[("images", ("big.bin", bytes(2 * MAX_UPLOAD_MB * 2**20)))],
    ),
    # The only slave of that cluster runs image tasks only.
    ("master", "POST", "/assign_task", 503): lambda c: call(
        "POST",
        f"{c.master}/assign_task",
        headers=bearer(),
        data={"task_type": "text"},
        files=[("texts", ("note.txt", b"A short note."))],
    ),
    ("master", "GET", "/results/{task_type}/{name}", 200): lambda c: call(
        "GET", c.master + processed_image_url(c), headers=bearer()
    ),
    ("master", "GET", "/results/{task_type}/{name}", 401): lambda c: call(
        "GET", c.master + processed_image_url(c)
    ),
    ("master", "GET", "/results/{task_type}/{name}", 404): lambda c: call(
        "GET", f"{c.master}/results/image/no_such_result.png", headers=bearer()
    ),
    ("master", "*", "*", 404): lambda c: call("GET", f"{c.master}/no_such_route"),
    ("master", "*", "*", 405): lambda c: call("DELETE", f"{c.master}/register"),
    ("slave", "GET", "/", 200): lambda c: call("GET", c.slave),
    ("slave", "GET", "/check_status", 200): lambda c: call(
        "GET", f"{c.slave}/check_status"
    ),
    ("slave", "GET", "/check_status", 401): lambda c: call(
        "GET", f"{c.slave}/check_status", headers=token("wrong-cluster-token-0123")
    ),
    ("slave", "GET", "/openapi.json", 200): lambda c: call(
        "GET", f"{c.slave}/openapi.json"
    ),
    ("slave", "POST", "/get_task", 200): lambda c: call(
        "POST",
        f"{c.slave}/get_task",
        headers=token(),
        data={"task_type": "image", "file_id": "7", "time_limit_s": "30"},
        files=image_upload(),
    ),
    ("slave", "POST", "/get_task", 400): lambda c: call(
        "POST",
        f"{c.slave}/get_task",
        headers=token(),
        data={"task_type": "text"},
        files=[("texts", ("note.txt", b"A short note."))],
    ),
    ("slave", "POST", "/get_task", 401): lambda c: call(
        "POST", f"{c.slave}/get_task", files=image_upload()
    ),
    ("slave", "POST", "/get_task", 403): lambda c: call(
        "POST",
        f"{c.without_tokens.slaves[0].url}/get_task",
        c.from_elsewhere(),
        files=image_upload(),
    ),
    ("slave", "*", "*", 404): lambda c: call("GET", f"{c.slave}/no_such_route"),
    ("slave", "*", "*", 405): lambda c: call("PUT", f"{c.slave}/get_task"),
}
ROUTE_INDEPENDENT_NAMES = {404: "UnknownPath", 405: "MethodNotAllowed"}


@pytest.mark.parametrize("service", DOCUMENTS)
def test_every_documented_answer_is_produced_here(service):
    """The documents list no answer this module does not produce, and no fewer."""
    produced = {key[1:] for key in EXCHANGES if key[0] == service}

    assert documented_exchanges(DOCUMENTS[service]) == produced


@pytest.mark.parametrize("exchange", EXCHANGES, ids=lambda key: " ".join(map(str, key)))
def test_real_answer_matches_document(clusters, exchange):
    """The service gives the documented status, and the answer matches the document."""
    service, method, path, status = exchange
    document = DOCUMENTS[service]

    response = EXCHANGES[exchange](clusters)

    assert response.status_code == status, response.text
    if path == "*":
        assert_route_independent_conforms(
            document, ROUTE_INDEPENDENT_NAMES[status], response
        )
    else:
        assert_conforms(load_schema(document), path, response)


@pytest.mark.parametrize("service", DOCUMENTS)
def test_services_serve_their_own_document(clusters, service):
    """GET /openapi.json answers the document in api/, unchanged."""
    url = clusters.master if service == "master" else clusters.slave

    served = requests.get(f"{url}/openapi.json", timeout=REQUEST_TIMEOUT_S).json()

    assert served == DOCUMENTS[service]
