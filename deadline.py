"""Calls that must end by a deadline, even when the other side trickles its answer."""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

Result = TypeVar("Result")


class DeadlinePassed(Exception):
    """The call was still running at its deadline; it is left to end by itself."""


def finish_within(call: Callable[[], Result], timeout_s: float, name: str) -> Result:
    """The result of call(), or its exception, if it ends within timeout_s.

    Socket timeouts bound each read only, so a peer sending a byte at a time could
    hold a call open for ever. The call runs in a daemon thread that is abandoned at
    the deadline; it ends when the peer closes or the connection's own limits stop it.
    """
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = call()
        except BaseException as error:  # handed to the caller, who decides
            outcome["error"] = error

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise DeadlinePassed(f"{name} still running after {timeout_s:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
