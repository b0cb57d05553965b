"""Reading a slave's registration and heartbeat bodies, naming any bad field."""

from __future__ import annotations

import ipaddress
import re
import socket

from flask import request

from master_service.errors import BadRequestError
from task_types import TASK_TYPES

MAX_SLAVE_WORKERS = 1024
HOST_NAME_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
MAX_HOST_NAME_LENGTH = 253


def read_json_body() -> object:
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def read_slave_address(body) -> tuple[str, int]:
    if not isinstance(body, dict):
        raise BadRequestError("expected a JSON object with slave_ip and slave_port")
    ip = body.get("slave_ip")
    if not isinstance(ip, str) or not ip:
        raise BadRequestError(
            "field 'slave_ip' is missing or not a string", field="slave_ip"
        )
    ip = normal_host(ip)
    raw_port = body.get("slave_port")
    port = whole_number(raw_port)
    if isinstance(port, str) and port.isascii() and port.isdigit() and len(port) <= 5:
        port = int(port)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise BadRequestError(
            f"field 'slave_port' must be a port number 1-65535, got {raw_port!r}",
            field="slave_port",
        )
    return ip, port


def normal_host(value: str) -> str:
    """An IP address in its usual spelling, or a host name in lower case.

    IPv6 zone ids ("fe80::1%eth0") are refused: the text after "%" may be anything,
    and in a URL it could name another host.
    """
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is not None and getattr(address, "scope_id", None) is None:
        return str(address)
    name = value.lower().removesuffix(".")
    labels = name.split(".")
    if (
        len(name) > MAX_HOST_NAME_LENGTH
        or not all(HOST_NAME_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
        or is_numeric_address(name)
    ):
        raise BadRequestError(
            f"field 'slave_ip' must be an IP address or a host name, got {value!r}",
            field="slave_ip",
        )
    return name


def is_numeric_address(name: str) -> bool:
    """Names such as 0x7f000001 or 127.1, which resolvers read as IPv4 addresses."""
    try:
        socket.inet_aton(name)
    except OSError:
        return False
    return True


def read_task_types(value) -> tuple[str, ...]:
    if value is None:
        return tuple(TASK_TYPES)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequestError(
            "field 'task_types' must be a list of task type names", field="task_types"
        )
    unknown = [v for v in value if v not in TASK_TYPES]
    if unknown:
        raise BadRequestError(
            f"field 'task_types' names unknown task type(s) {', '.join(unknown)}; "
            f"known: {', '.join(TASK_TYPES)}",
            field="task_types",
        )
    return tuple(dict.fromkeys(value))


def whole_number(value):
    """JSON's 3.0 is the whole number 3; booleans are not numbers here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def read_workers(value) -> int:
    if value is None:
        return 1
    workers = whole_number(value)
    if not isinstance(workers, int) or not 1 <= workers <= MAX_SLAVE_WORKERS:
        raise BadRequestError(
            f"field 'workers' must be a whole number from 1 to {MAX_SLAVE_WORKERS}, "
            f"got {value!r}",
            field="workers",
        )
    return workers
