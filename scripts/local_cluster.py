"""Start a master and slaves as real processes on loopback, for the demo, tests and
benchmark, and stop everything they started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO_DIR = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
NO_TOKENS = {"CLUSTER_TOKEN": "", "API_TOKEN": ""}
"""Tokens from the caller's environment would change what a local cluster accepts;
tests and the demo pass their own."""
STOP_GRACE_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class Service:
    """One master or slave process, in a session of its own so all its children stop."""

    def __init__(
        self,
        name: str,
        script: str,
        env: dict,
        workdir: Path,
        port: int,
        command_prefix: tuple[str, ...] = (),
        base_environment: dict | None = None,
    ):
        """Run `command_prefix python script` with `env` over `base_environment`."""
        self.name = name
        self.port = port
        self.url = f"http://{LOOPBACK}:{port}"
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("ab")
        base = os.environ if base_environment is None else base_environment
        self.process = subprocess.Popen(
            [*command_prefix, sys.executable, str(REPO_DIR / script)],
            cwd=workdir,
            env={**base, **{k: str(v) for k, v in env.items()}},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_until_answering(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/check_status", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} did not answer in {timeout_s} s:\n{self.log_tail()}"
        )

    def signal(self, number: int) -> None:
        os.killpg(self.process.pid, number)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        self._log.close()


class LocalCluster:
    """A master and any number of slaves on free loopback ports."""

    def __init__(self, workdir: Path, results_dir: Path | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.results_dir = Path(results_dir or self.workdir / "processed_results")
        self.master: Service | None = None
        self.master_port = free_port()
        self.slaves: list[Service] = []

    @property
    def master_url(self) -> str:
        return f"http://{LOOPBACK}:{self.master_port}"

    def start_master(self, **settings) -> Service:
        env = {
            "MASTER_HOST": LOOPBACK,
            "MASTER_PORT": self.master_port,
            "RESULTS_DIR": self.results_dir,
            **NO_TOKENS,
            **settings,
        }
        self.master = Service(
            "master", "master.py", env, self.workdir, self.master_port
        )
        self.master.wait_until_answering()
        return self.master

    def start_slave(
        self, port: int | None = None, wait: bool = True, **settings
    ) -> Service:
        port = port or free_port()
        env = {
            "MASTER_URL": self.master_url,
            "SLAVE_HOST": LOOPBACK,
            "SLAVE_PORT": port,
            "HEARTBEAT_INTERVAL": 1,
            **NO_TOKENS,
            **settings,
        }
        slave = Service(f"slave-{port}", "slave.py", env, self.workdir, port)
        self.slaves.append(slave)
        if wait:
            slave.wait_until_answering()
        return slave

    def registered_slaves(self) -> list[dict]:
        try:
            status = requests.get(f"{self.master_url}/check_status", timeout=5).json()
        except requests.RequestException:
            return []
        return [s for s in status["slaves"] if s["state"] == "up"]

    def wait_for_slaves(self, count: int, timeout_s: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            slaves = self.registered_slaves()
            if len(slaves) >= count:
                return slaves
            time.sleep(0.1)
        logs = "\n".join(s.log_tail() for s in self.slaves)
        raise RuntimeError(
            f"{count} slave(s) did not register in {timeout_s} s:\n{logs}"
        )

    def stop(self) -> None:
        for service in [*self.slaves, self.master]:
            if service is not None:
                service.stop()

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
