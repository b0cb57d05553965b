"""Before a slave joins: does its address answer as a slave that runs what it claims?

So a registration cannot point the master, and the files it would send, at an
arbitrary host.
"""

from __future__ import annotations

import json

import requests
import urllib3

from master_service.deadline import DeadlinePassed, finish_within
from master_service.errors import NotASlaveError
from security import CLUSTER_TOKEN_HEADER

CONNECT_TIMEOUT_S = 3.0
ANSWER_TIMEOUT_S = 5.0
MAX_STATUS_BYTES = 64 * 1024


def check_slave(url: str, task_types: tuple[str, ...], cluster_token: str | None):
    """Raise NotASlaveError unless `url` answers /check_status as such a slave."""
    try:
        status, body = finish_within(
            lambda: fetch_status(url, cluster_token),
            CONNECT_TIMEOUT_S + ANSWER_TIMEOUT_S,
            "slave-check",
        )
    except DeadlinePassed:
        raise NotASlaveError(
            f"the slave at {url} did not answer /check_status within "
            f"{CONNECT_TIMEOUT_S + ANSWER_TIMEOUT_S:g} s",
            field="slave_ip",
        ) from None
    if status == 401:
        raise NotASlaveError(
            f"the slave at {url} refused this master's cluster token; set the same "
            "CLUSTER_TOKEN on both"
        )
    fields = parse_status(body) if status == 200 else None
    if fields is None or fields.get("role") != "slave":
        raise NotASlaveError(f"the address {url} does not answer as a slave")
    if fields.get("cluster_token_required") is True and cluster_token is None:
        raise NotASlaveError(
            f"the slave at {url} needs a cluster token and this master has none; set "
            "the same CLUSTER_TOKEN on both"
        )
    offered = fields.get("task_types")
    if not isinstance(offered, list):
        raise NotASlaveError(f"the address {url} does not answer as a slave")
    missing = [name for name in task_types if name not in offered]
    if missing:
        raise NotASlaveError(
            f"the slave at {url} does not offer {', '.join(missing)}",
            field="task_types",
        )


def fetch_status(url: str, cluster_token: str | None) -> tuple[int, bytes]:
    """The status code and (at most one byte past the limit of) the body."""
    headers = {CLUSTER_TOKEN_HEADER: cluster_token} if cluster_token else {}
    try:
        with requests.get(
            f"{url}/check_status",
            headers=headers,
            timeout=(CONNECT_TIMEOUT_S, ANSWER_TIMEOUT_S),
            allow_redirects=False,
            stream=True,
        ) as response:
            body = bytearray()
            while piece := response.raw.read1(MAX_STATUS_BYTES):
                body += piece
                if len(body) > MAX_STATUS_BYTES:
                    break
            return response.status_code, bytes(body)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise NotASlaveError(
            f"the slave at {url} does not answer ({type(error).__name__}); start it "
            "first, and check that this master can reach that address",
            field="slave_ip",
        ) from None


def parse_status(body: bytes) -> dict | None:
    if len(body) > MAX_STATUS_BYTES:
        return None
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return fields if isinstance(fields, dict) else None
