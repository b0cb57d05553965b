"""A stand-in slave on loopback: it answers /check_status as a slave would and
/get_task however a test wants, so the master's handling of bad slaves can be tested."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

EMPTY_ANSWER = (200, b'{"results": [], "errors": []}')


class StubSlaveHandler(BaseHTTPRequestHandler):
    """GET /check_status from the server's status; POST answers with its `answer`."""

    def do_GET(self):
        if self.path != "/check_status":
            self.send_body(404, b'{"status": "error", "error": "not found"}')
            return
        self.send_body(200, json.dumps(self.server.status).encode())

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.calls += 1
        self.send_body(*self.server.answer)

    def send_body(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class StubSlave:
    """A stub slave serving in a thread of its own until stop()."""

    def __init__(
        self,
        task_types=("text",),
        workers: int = 1,
        answer=EMPTY_ANSWER,
        handler=StubSlaveHandler,
    ):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.answer = answer
        self.server.calls = 0
        self.server.status = {
            "status": "alive",
            "role": "slave",
            "task_types": list(task_types),
            "workers": workers,
            "registered": True,
            "advertised_ip": "127.0.0.1",
            "cluster_token_required": False,
        }
        self.task_types = list(task_types)
        self.workers = workers
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_port

    @property
    def calls(self) -> int:
        return self.server.calls

    def registration(self) -> dict:
        return {
            "slave_ip": "127.0.0.1",
            "slave_port": self.port,
            "task_types": self.task_types,
            "workers": self.workers,
        }

    def register_with(self, master_url: str, headers=None) -> requests.Response:
        return requests.post(
            f"{master_url}/register",
            json=self.registration(),
            headers=headers,
            timeout=10,
        )

    def register_with_client(self, client, headers=None):
        """Register through a Flask test client of the master."""
        return client.post("/register", json=self.registration(), headers=headers)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> StubSlave:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
