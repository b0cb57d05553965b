"""Keeping the master informed: register, heartbeat, register again when forgotten."""

from __future__ import annotations

import logging
import shutil
import socket
import threading
from urllib.parse import urlsplit

import requests

from security import CLUSTER_TOKEN_HEADER
from task_types import TASK_TYPES

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 5.0
FIRST_RETRY_DELAY_S = 0.5


def offered_task_types(wanted: tuple[str, ...]) -> tuple[str, ...]:
    """The wanted task types whose required programs this machine has."""
    offered = []
    for name in wanted:
        program = TASK_TYPES[name].required_program
        if program and shutil.which(program) is None:
            logger.warning("Not offering %s: %s is not installed", name, program)
            continue
        offered.append(name)
    return tuple(offered)


def local_address_towards(master_url: str, listen_host: str = "0.0.0.0") -> str:
    """The address of the local interface that routes to the master.

    Only addresses of the family the slave listens on count: "localhost" often
    resolves to ::1 first, which a slave listening on 0.0.0.0 would not answer.
    Connecting a UDP socket sends nothing; it only makes the kernel pick a route.
    """
    parts = urlsplit(master_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    candidates = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_DGRAM)
    listening_family = socket.AF_INET6 if ":" in listen_host else socket.AF_INET
    fitting = [c for c in candidates if c[0] == listening_family] or candidates
    family, _, _, _, address = fitting[0]
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect(address)
        return probe.getsockname()[0]


class MasterLink(threading.Thread):
    """Background thread that registers the slave and then heartbeats."""

    def __init__(self, config: dict, task_types: tuple[str, ...]):
        super().__init__(name="master-link", daemon=True)
        self.master_url = config["MASTER_URL"].rstrip("/")
        self.configured_ip = config["SLAVE_IP"]
        self.listen_host = config["SLAVE_HOST"]
        self.port = config["SLAVE_PORT"]
        self.workers = config["SLAVE_WORKERS"]
        self.heartbeat_interval_s = config["HEARTBEAT_INTERVAL"]
        self.task_types = task_types
        token = config["CLUSTER_TOKEN"]
        self.headers = {CLUSTER_TOKEN_HEADER: token} if token else {}
        self.registered = False
        self.advertised_ip: str | None = None
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        delay_s = FIRST_RETRY_DELAY_S
        while not self._stopping.is_set():
            if not self.registered:
                if self._register():
                    delay_s = FIRST_RETRY_DELAY_S
                    continue
                self._stopping.wait(delay_s)
                delay_s = min(delay_s * 2, self.heartbeat_interval_s)
                continue
            self._stopping.wait(self.heartbeat_interval_s)
            if not self._stopping.is_set():
                self._heartbeat()

    def _identity(self) -> dict:
        ip = self.configured_ip or local_address_towards(
            self.master_url, self.listen_host
        )
        self.advertised_ip = ip
        return {"slave_ip": ip, "slave_port": self.port}

    def _register(self) -> bool:
        try:
            body = {
                **self._identity(),
                "task_types": list(self.task_types),
                "workers": self.workers,
            }
            response = requests.post(
                f"{self.master_url}/register",
                json=body,
                headers=self.headers,
                timeout=REQUEST_TIMEOUT_S,
            )
        except (requests.RequestException, OSError) as error:
            logger.warning(
                "Cannot register with the master at %s (%s); retrying",
                self.master_url,
                error,
            )
            return False
        if response.status_code != 200:
            logger.warning(
                "The master at %s refused the registration (HTTP %s): %s; retrying",
                self.master_url,
                response.status_code,
                error_message(response),
            )
            return False
        logger.info(
            "Registered with %s as %s:%s offering %s",
            self.master_url,
            body["slave_ip"],
            self.port,
            ", ".join(self.task_types),
        )
        self.registered = True
        return True

    def _heartbeat(self) -> None:
        try:
            response = requests.post(
                f"{self.master_url}/heartbeat",
                json=self._identity(),
                headers=self.headers,
                timeout=REQUEST_TIMEOUT_S,
            )
        except (requests.RequestException, OSError) as error:
            logger.warning("Heartbeat to %s failed: %s", self.master_url, error)
            return
        if response.status_code == 404:
            logger.info("The master does not know this slave; registering again")
            self.registered = False
        elif response.status_code != 200:
            logger.warning(
                "Heartbeat answered HTTP %s: %s",
                response.status_code,
                error_message(response),
            )


def error_message(response: requests.Response) -> str:
    """The `error` of a JSON error answer, or the start of whatever came instead."""
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
