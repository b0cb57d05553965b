"""A master and two slaves on three network hosts of their own (Linux network
namespaces joined by a bridge): slaves advertise their own addresses and share work.

Needs root and `ip netns`; skipped otherwise. Everything lives inside namespaces the
test creates and deletes: the veth pairs are created in them, never on the host.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scripts.local_cluster import REPO_DIR, Service

SUBNET_PREFIX = "10.231.77"
PREFIX_LENGTH = 24
MASTER_IP = f"{SUBNET_PREFIX}.1"
SLAVE_IPS = (f"{SUBNET_PREFIX}.11", f"{SUBNET_PREFIX}.12")
# Each namespace has its own ports, so fixed ones cannot collide with the host's.
MASTER_PORT = 5000
SLAVE_PORT = 3000
MASTER_URL = f"http://{MASTER_IP}:{MASTER_PORT}"
SERVICE_START_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 10.0
CLIENT_TIMEOUT_S = 20.0
SLAVE_TIMEOUT_S = 5
TEXT_FILE_COUNT = 8
# Settings a developer's shell might carry that would change what is tested here.
SERVICE_SETTINGS_TO_DROP = (
    "SLAVE_IP",
    "SLAVE_HOST",
    "MASTER_HOST",
    "MASTER_URL",
    "CLUSTER_TOKEN",
    "API_TOKEN",
)
CLUSTER_TOKEN = secrets.token_urlsafe(32)

FETCH_JSON_CODE = """
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as answer:
        print(answer.read().decode())
except OSError:
    print("null")
"""

POST_STATUS_CODE = """
import sys, urllib.error, urllib.request
request = urllib.request.Request(
    sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": sys.argv[3]}
)
try:
    with urllib.request.urlopen(request, timeout=5) as answer:
        print(answer.status)
except urllib.error.HTTPError as error:
    print(error.code)
"""


def ip_command(*args: str) -> subprocess.CompletedProcess:
    """Run `ip ARGS`, raising with its stderr when it fails."""
    result = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
    )
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def namespaces_unavailable_reason() -> str | None:
    """Why this machine cannot run the test, or None when it can."""
    if shutil.which("ip") is None:
        return "the `ip` program (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"fpt-probe-{secrets.token_hex(3)}"
    try:
        ip_command("netns", "add", probe)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        return f"`ip netns add` does not work here: {error}"
    try:
        ip_command("-n", probe, "link", "add", "probe-br", "type", "bridge")
        ip_command(
            "-n",
            probe,
            "link",
            "add",
            "probe-a",
            "type",
            "veth",
            "peer",
            "name",
            "probe-b",
        )
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        return f"bridges or veth pairs cannot be made in a namespace: {error}"
    finally:
        ip_command("netns", "del", probe)
    return None


@dataclass
class IsolatedNetwork:
    """A master namespace holding a bridge, and one namespace per slave wired to it."""

    master_namespace: str
    slave_namespaces: tuple[str, ...]
    created: list[str] = field(default_factory=list)

    def build(self) -> None:
        """Create the namespaces, the bridge and one veth pair per slave."""
        for namespace in (self.master_namespace, *self.slave_namespaces):
            ip_command("netns", "add", namespace)
            self.created.append(namespace)
            ip_command("-n", namespace, "link", "set", "lo", "up")

        master_link = ("-n", self.master_namespace, "link")
        ip_command(*master_link, "add", "fpt-br", "type", "bridge")
        ip_command(
            "-n",
            self.master_namespace,
            "addr",
            "add",
            f"{MASTER_IP}/{PREFIX_LENGTH}",
            "dev",
            "fpt-br",
        )
        ip_command(*master_link, "set", "fpt-br", "up")

        for number, (namespace, address) in enumerate(
            zip(self.slave_namespaces, SLAVE_IPS), start=1
        ):
            port_name = f"to-slave{number}"
            # Both ends are born inside namespaces, so the host never sees them.
            ip_command(
                *master_link,
                "add",
                port_name,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                namespace,
            )
            ip_command(*master_link, "set", port_name, "master", "fpt-br", "up")
            ip_command(
                "-n",
                namespace,
                "addr",
                "add",
                f"{address}/{PREFIX_LENGTH}",
                "dev",
                "eth0",
            )
            ip_command("-n", namespace, "link", "set", "eth0", "up")

    def destroy(self) -> None:
        """Delete the namespaces; their bridge and veth pairs go with them."""
        for namespace in reversed(self.created):
            subprocess.run(
                ["ip", "netns", "del", namespace],
                capture_output=True,
                timeout=COMMAND_TIMEOUT_S,
            )
        self.created.clear()


def start_in_namespace(
    name: str, namespace: str, script: str, settings: dict, port: int, workdir: Path
) -> Service:
    """A master.py or slave.py process inside a namespace, in a session of its own."""
    return Service(
        name,
        script,
        settings,
        workdir,
        port,
        command_prefix=("ip", "netns", "exec", namespace),
        base_environment=service_environment({}),
    )


def service_environment(settings: dict) -> dict:
    """This process's environment without stray service settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_SETTINGS_TO_DROP}
    return {**env, **{k: str(v) for k, v in settings.items()}}


def run_in_namespace(
    namespace: str, *command: str, timeout_s: float = COMMAND_TIMEOUT_S
) -> subprocess.CompletedProcess:
    """Run a command inside a namespace, from the repository folder."""
    return subprocess.run(
        ["ip", "netns", "exec", namespace, *command],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO_DIR,
    )


def fetch_json_in(namespace: str, url: str):
    """GET a JSON answer from inside a namespace; None when nothing answers."""
    result = run_in_namespace(namespace, sys.executable, "-c", FETCH_JSON_CODE, url)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def post_status_in(namespace: str, url: str, body: str, content_type: str) -> int:
    """POST from inside a namespace; the HTTP status of the answer."""
    result = run_in_namespace(
        namespace, sys.executable, "-c", POST_STATUS_CODE, url, body, content_type
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def wait_for_up_slaves(namespace: str, count: int, services: list) -> dict:
    """The master's status once `count` slaves are up, seen from its namespace."""
    deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
    status = None
    while time.monotonic() < deadline:
        for service in services:
            if service.process.poll() is not None:
                pytest.fail(f"{service.name} exited:\n{service.log_tail()}")
        status = fetch_json_in(namespace, f"{MASTER_URL}/check_status")
        if status and sum(s["state"] == "up" for s in status["slaves"]) >= count:
            return status
        time.sleep(0.2)
    logs = "\n".join(service.log_tail() for service in services)
    pytest.fail(
        f"{count} slaves not up in {SERVICE_START_TIMEOUT_S} s: {status}\n{logs}"
    )


@pytest.fixture(scope="module")
def namespaced_cluster(tmp_path_factory):
    """A master and two single-worker text slaves, each in its own network namespace."""
    reason = namespaces_unavailable_reason()
    if reason:
        pytest.skip(reason)

    workdir = tmp_path_factory.mktemp("multi-host")
    run_id = secrets.token_hex(3)
    network = IsolatedNetwork(
        master_namespace=f"fpt-{run_id}-m",
        slave_namespaces=(f"fpt-{run_id}-s1", f"fpt-{run_id}-s2"),
    )
    services: list[Service] = []
    try:
        network.build()
        master_settings = {
            "MASTER_HOST": MASTER_IP,
            "MASTER_PORT": MASTER_PORT,
            "RESULTS_DIR": workdir / "results",
            "SLAVE_TIMEOUT": SLAVE_TIMEOUT_S,
            "CLUSTER_TOKEN": CLUSTER_TOKEN,
        }
        services.append(
            start_in_namespace(
                "master",
                network.master_namespace,
                "master.py",
                master_settings,
                MASTER_PORT,
                workdir,
            )
        )
        for number, namespace in enumerate(network.slave_namespaces, start=1):
            slave_settings = {
                "MASTER_URL": MASTER_URL,
                "SLAVE_HOST": "0.0.0.0",
                "SLAVE_PORT": SLAVE_PORT,
                "SLAVE_WORKERS": 1,
                "SLAVE_TASK_TYPES": "text",
                "HEARTBEAT_INTERVAL": 1,
                "CLUSTER_TOKEN": CLUSTER_TOKEN,
            }
            services.append(
                start_in_namespace(
                    f"slave{number}",
                    namespace,
                    "slave.py",
                    slave_settings,
                    SLAVE_PORT,
                    workdir,
                )
            )
        wait_for_up_slaves(network.master_namespace, 2, services)
        yield network, workdir
    finally:
        for service in reversed(services):
            service.stop()
        network.destroy()


def test_slaves_advertise_their_own_namespace_addresses(namespaced_cluster):
    """Without SLAVE_IP each slave registers the address that routes to the master."""
    network, _ = namespaced_cluster
    status = fetch_json_in(network.master_namespace, f"{MASTER_URL}/check_status")

    addresses = sorted(slave["address"] for slave in status["slaves"])
    assert addresses == [f"{ip}:{SLAVE_PORT}" for ip in SLAVE_IPS]
    assert all(slave["state"] == "up" for slave in status["slaves"])

    # The master's namespace reaches each slave at the address it advertised.
    for ip in SLAVE_IPS:
        slave_status = fetch_json_in(
            network.master_namespace, f"http://{ip}:{SLAVE_PORT}/check_status"
        )
        assert slave_status["advertised_ip"] == ip
        assert slave_status["registered"] is True


def test_client_request_is_shared_between_both_hosts(namespaced_cluster, tmp_path):
    """Eight texts sent from the master's host are processed by both slaves."""
    network, workdir = namespaced_cluster
    paths = []
    for number in range(TEXT_FILE_COUNT):
        path = tmp_path / f"note{number}.txt"
        path.write_text(f"Note number {number}. The network test is going well.")
        paths.append(path)

    result = run_in_namespace(
        network.master_namespace,
        sys.executable,
        str(REPO_DIR / "client.py"),
        MASTER_URL,
        "text",
        *map(str, paths),
        timeout_s=CLIENT_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("ok") for line in lines) == TEXT_FILE_COUNT
    saved = [Path(line.rsplit(" -> ", 1)[1]) for line in lines if line.startswith("ok")]
    assert all(path.parent == workdir / "results" / "text" for path in saved)
    assert json.loads(saved[0].read_text())["words"] == 9

    status = fetch_json_in(network.master_namespace, f"{MASTER_URL}/check_status")
    done_by_ip = {slave["slave_ip"]: slave["files_done"] for slave in status["slaves"]}
    assert set(done_by_ip) == set(SLAVE_IPS)
    assert all(done > 0 for done in done_by_ip.values()), done_by_ip
    assert sum(done_by_ip.values()) == TEXT_FILE_COUNT


def test_registration_from_another_host_needs_the_token(namespaced_cluster):
    """From a slave's host, /register without the cluster token gets 401."""
    network, _ = namespaced_cluster
    body = json.dumps({"slave_ip": SLAVE_IPS[0], "slave_port": SLAVE_PORT})
    status = post_status_in(
        network.slave_namespaces[0],
        f"{MASTER_URL}/register",
        body,
        "application/json",
    )
    assert status == 401


def test_without_a_token_nothing_crosses_hosts(namespaced_cluster):
    """A token-less master refuses a remote slave; a token-less slave a remote master."""
    network, workdir = namespaced_cluster
    open_master_port, open_slave_port = MASTER_PORT + 1, SLAVE_PORT + 1
    master = start_in_namespace(
        "open-master",
        network.master_namespace,
        "master.py",
        {
            "MASTER_HOST": "0.0.0.0",
            "MASTER_PORT": open_master_port,
            "RESULTS_DIR": workdir / "open-results",
        },
        open_master_port,
        workdir,
    )
    slave = start_in_namespace(
        "open-slave",
        network.slave_namespaces[0],
        "slave.py",
        {
            "MASTER_URL": f"http://{MASTER_IP}:{open_master_port}",
            "SLAVE_HOST": "0.0.0.0",
            "SLAVE_PORT": open_slave_port,
            "SLAVE_WORKERS": 1,
            "SLAVE_TASK_TYPES": "text",
            "HEARTBEAT_INTERVAL": 1,
        },
        open_slave_port,
        workdir,
    )
    try:
        deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
        refusal = "refused the registration (HTTP 403)"
        while refusal not in slave.log_tail() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert refusal in slave.log_tail()
        assert "takes slaves from this machine only" in slave.log_tail()
        status = fetch_json_in(
            network.master_namespace,
            f"http://{MASTER_IP}:{open_master_port}/check_status",
        )
        assert status["slaves"] == []

        task_status = post_status_in(
            network.master_namespace,
            f"http://{SLAVE_IPS[0]}:{open_slave_port}/get_task",
            "task_type=text",
            "application/x-www-form-urlencoded",
        )
        assert task_status == 403
    finally:
        slave.stop()
        master.stop()
