"""The slave's settings, each with its unit and default."""

import os

from security import token_setting
from settings import (
    Setting,
    http_url,
    port_number,
    positive_float,
    positive_int,
)
from task_types import TASK_TYPES, UnknownTaskTypeError, get_task_type


def task_type_list(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    try:
        for name in names:
            get_task_type(name)
    except UnknownTaskTypeError as error:
        raise ValueError(str(error)) from None
    return names


SLAVE_SETTINGS = (
    Setting(
        "MASTER_URL", http_url, "http://localhost:5000", "where the master listens"
    ),
    Setting("SLAVE_HOST", str, "0.0.0.0", "address to listen on"),
    Setting("SLAVE_PORT", port_number, 3000, "port to listen on"),
    Setting(
        "SLAVE_IP",
        str,
        None,
        "address advertised to the master; unset: the local address that routes "
        "to the master",
    ),
    Setting("SLAVE_WORKERS", positive_int, os.cpu_count() or 1, "worker processes"),
    Setting("HEARTBEAT_INTERVAL", positive_float, 5.0, "seconds between heartbeats"),
    Setting(
        "SLAVE_TASK_TYPES",
        task_type_list,
        tuple(TASK_TYPES),
        "comma-separated task types to offer (those whose programs are missing are "
        "left out)",
    ),
    Setting("FILE_TIMEOUT", positive_float, 120.0, "seconds allowed per file"),
    Setting("WORKER_MEMORY_MB", positive_int, 2048, "memory cap per worker process"),
    Setting("SLAVE_THREADS", positive_int, 16, "requests served at once"),
    Setting(
        "CLUSTER_TOKEN",
        token_setting,
        None,
        "secret shared with the master; unset: only a master on this machine can "
        "send tasks",
        secret=True,
    ),
    Setting("LOG_LEVEL", str.upper, "INFO", "logging level"),
)
