"""One HTTP exchange with another service that ends by its deadline, whatever the
other side does: trickling headers or body, answering without end, or never closing.
"""

from __future__ import annotations

import http.client
import socket
import threading
from dataclasses import dataclass

from deadline import finish_within

READ_BYTES = 256 * 1024


class AnswerTooLarge(Exception):
    """The answer grew past the limit the caller set."""


@dataclass
class Answer:
    status: int
    body: bytes


def exchange(
    host: str,
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str],
    body: bytes | None = None,
    connect_timeout_s: float,
    timeout_s: float,
    answer_limit: int,
    name: str,
) -> Answer:
    """Send the request and read the whole answer within connect_timeout_s + timeout_s.

    Raises deadline.DeadlinePassed, AnswerTooLarge, http.client.HTTPException or
    OSError. At the deadline the socket is shut from outside, so the thread that was
    reading ends at once instead of lingering with its copy of the request.
    """
    connection = http.client.HTTPConnection(host, port, timeout=connect_timeout_s)
    # The connection drops its socket once a response will close it, so keep our own.
    opened: list[socket.socket] = []
    hung_up = threading.Event()

    def run() -> Answer:
        connection.connect()
        opened.append(connection.sock)
        if hung_up.is_set():  # the deadline passed while connecting
            raise OSError("abandoned")
        connection.sock.settimeout(timeout_s)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = bytearray()
        while piece := response.read1(READ_BYTES):
            data += piece
            if len(data) > answer_limit:
                raise AnswerTooLarge(f"more than {answer_limit} bytes")
        return Answer(response.status, bytes(data))

    try:
        return finish_within(run, connect_timeout_s + timeout_s, name)
    finally:
        hung_up.set()  # before looking at `opened`: see run()
        for sock in opened:
            shut(sock)


def shut(sock: socket.socket) -> None:
    """End the connection for both sides, waking any thread blocked reading it."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
