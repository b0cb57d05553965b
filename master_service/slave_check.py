"""Before a slave joins: does its address answer as a slave that runs what it claims?

So a registration cannot point the master, and the files it would send, at an
arbitrary host.
"""

from __future__ import annotations

import http.client
import json

from deadline import DeadlinePassed
from master_service.bounded_http import AnswerTooLarge, exchange
from master_service.errors import NotASlaveError
from master_service.registry import SlaveRecord
from security import CLUSTER_TOKEN_HEADER

CONNECT_TIMEOUT_S = 3.0
ANSWER_TIMEOUT_S = 5.0
MAX_STATUS_BYTES = 64 * 1024


def check_slave(
    slave: SlaveRecord, task_types: tuple[str, ...], cluster_token: str | None
) -> None:
    """Raise NotASlaveError unless the address answers /check_status as such a slave."""
    url = slave.url
    headers = {CLUSTER_TOKEN_HEADER: cluster_token} if cluster_token else {}
    try:
        answer = exchange(
            slave.ip,
            slave.port,
            "GET",
            "/check_status",
            headers=headers,
            connect_timeout_s=CONNECT_TIMEOUT_S,
            timeout_s=ANSWER_TIMEOUT_S,
            answer_limit=MAX_STATUS_BYTES,
            name="slave-check",
        )
    except DeadlinePassed:
        raise NotASlaveError(
            f"the slave at {url} did not answer /check_status within "
            f"{CONNECT_TIMEOUT_S + ANSWER_TIMEOUT_S:g} s",
            field="slave_ip",
        ) from None
    except AnswerTooLarge:
        raise NotASlaveError(f"the address {url} does not answer as a slave") from None
    except (http.client.HTTPException, OSError) as error:
        raise NotASlaveError(
            f"the slave at {url} does not answer ({type(error).__name__}); start it "
            "first, and check that this master can reach that address",
            field="slave_ip",
        ) from None
    status, body = answer.status, answer.body
    if status == 401:
        raise NotASlaveError(
            f"the slave at {url} refused this master's cluster token; set the same "
            "CLUSTER_TOKEN on both"
        )
    fields = parse_status(body) if status == 200 else None
    if (
        fields is None
        or fields.get("role") != "slave"
        or not isinstance(fields.get("task_types"), list)
    ):
        raise NotASlaveError(f"the address {url} does not answer as a slave")
    if fields.get("cluster_token_required") is True and cluster_token is None:
        raise NotASlaveError(
            f"the slave at {url} needs a cluster token and this master has none; set "
            "the same CLUSTER_TOKEN on both"
        )
    missing = [name for name in task_types if name not in fields["task_types"]]
    if missing:
        raise NotASlaveError(
            f"the slave at {url} does not offer {', '.join(missing)}",
            field="task_types",
        )


def parse_status(body: bytes) -> dict | None:
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return fields if isinstance(fields, dict) else None
