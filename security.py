"""Shared secrets and who may call what: the pieces both services use."""

from __future__ import annotations

import hmac
import ipaddress
import re

CLUSTER_TOKEN_HEADER = "X-Cluster-Token"
MIN_TOKEN_LENGTH = 16
TOKEN_CHARACTERS = re.compile(r"[\x21-\x7e]+")
GENERATE_TOKEN_COMMAND = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
LOOPBACK_NAMES = ("localhost",)
SET_A_TOKEN = (
    "set the same CLUSTER_TOKEN on the master and every slave (make one with "
    f"{GENERATE_TOKEN_COMMAND})"
)


def token_setting(value: str) -> str:
    """A token from the settings: long enough to resist guessing, safe in a header."""
    if not TOKEN_CHARACTERS.fullmatch(value):
        raise ValueError("use printable ASCII without spaces")
    if len(value) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"use at least {MIN_TOKEN_LENGTH} characters; make one with "
            f"{GENERATE_TOKEN_COMMAND}"
        )
    return value


def token_matches(presented: str | None, expected: str) -> bool:
    """Compare in constant time, so timing does not tell how much of a guess is right."""
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if that is what it is."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost."""
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def cluster_refusal(
    configured: str | None, presented: str | None, caller: str | None
) -> int | None:
    """Why a cluster call is refused: 401 (token), 403 (off this machine), or None.

    With a token configured, only the token counts; without one, only loopback does.
    """
    if configured is None:
        return None if is_loopback(caller) else 403
    return None if token_matches(presented, configured) else 401
