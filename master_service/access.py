"""Who may call the master: slaves with the cluster token, clients with the API token.

Without CLUSTER_TOKEN the cluster is one machine: registrations and heartbeats come
only from loopback and name only loopback addresses.
"""

from __future__ import annotations

from flask import current_app, request

from master_service.errors import ForbiddenError, UnauthorizedError
from security import (
    CLUSTER_TOKEN_HEADER,
    SET_A_TOKEN,
    bearer_token,
    cluster_refusal,
    is_loopback,
    token_matches,
)


def cluster_token() -> str | None:
    return current_app.config["MASTER"]["CLUSTER_TOKEN"]


def require_slave_caller() -> None:
    """The caller holds the cluster token or, when there is none, is on this machine."""
    refusal = cluster_refusal(
        cluster_token(),
        request.headers.get(CLUSTER_TOKEN_HEADER),
        request.remote_addr,
    )
    if refusal == 403:
        raise ForbiddenError(
            "this master takes slaves from this machine only; to add slaves on "
            f"other machines, {SET_A_TOKEN}"
        )
    if refusal == 401:
        raise UnauthorizedError(
            f"missing or wrong cluster token: send the master's CLUSTER_TOKEN in the "
            f"{CLUSTER_TOKEN_HEADER} header"
        )


def require_allowed_slave_address(host: str) -> None:
    """Without a cluster token, a slave must be on this machine too."""
    if cluster_token() is None and not is_loopback(host):
        raise ForbiddenError(
            f"without CLUSTER_TOKEN this master takes only loopback slave addresses, "
            f"not {host!r}; {SET_A_TOKEN}",
            field="slave_ip",
        )


def require_api_client() -> None:
    """When API_TOKEN is set, the caller sends it as a bearer token."""
    token = current_app.config["MASTER"]["API_TOKEN"]
    if token is None:
        return
    if not token_matches(bearer_token(request.headers.get("Authorization")), token):
        raise UnauthorizedError(
            "missing or wrong API token: send `Authorization: Bearer <API_TOKEN>` "
            "(client.py reads API_TOKEN from the environment or --api-token)",
            headers={"WWW-Authenticate": 'Bearer realm="master"'},
        )
