"""Who may send this slave work: the master holding the cluster token, or, when there
is none, a master on this machine."""

from __future__ import annotations

from flask import current_app, request

from security import (
    CLUSTER_TOKEN_HEADER,
    SET_A_TOKEN,
    cluster_refusal,
    token_matches,
)


class AccessError(Exception):
    """A caller this slave does not take work from; carries the HTTP status."""

    def __init__(self, message: str, http_status: int):
        super().__init__(message)
        self.http_status = http_status


def cluster_token() -> str | None:
    return current_app.config["SLAVE"]["CLUSTER_TOKEN"]


def require_master_caller() -> None:
    """The caller holds the cluster token or, when there is none, is on this machine."""
    refusal = cluster_refusal(
        cluster_token(),
        request.headers.get(CLUSTER_TOKEN_HEADER),
        request.remote_addr,
    )
    if refusal == 403:
        raise AccessError(
            "this slave takes tasks from a master on this machine only; for a "
            f"master on another machine, {SET_A_TOKEN}",
            403,
        )
    if refusal == 401:
        raise AccessError(
            f"missing or wrong cluster token in the {CLUSTER_TOKEN_HEADER} header",
            401,
        )


def check_presented_token() -> None:
    """A token sent to an open endpoint must still be the right one."""
    presented = request.headers.get(CLUSTER_TOKEN_HEADER)
    if presented is None:
        return
    token = cluster_token()
    if token is None:
        raise AccessError(
            "this slave has no CLUSTER_TOKEN; set the same one as the master's", 401
        )
    if not token_matches(presented, token):
        raise AccessError(
            f"wrong cluster token in the {CLUSTER_TOKEN_HEADER} header", 401
        )
