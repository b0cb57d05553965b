"""Sending one chunk of files to one slave and checking its answer."""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass

import requests
import urllib3

from master_service.errors import SlaveCallError
from master_service.registry import SlaveRecord
from task_types import TaskType

CONNECT_TIMEOUT_S = 5.0
TIME_LIMIT_MARGIN_S = 2.0
ANSWER_READ_BYTES = 256 * 1024


@dataclass
class ChunkAnswer:
    """What a slave said about each file of a chunk, keyed by file id."""

    results: dict[str, bytes]
    errors: dict[str, str]


def send_chunk(
    slave: SlaveRecord,
    task_type: TaskType,
    options: dict[str, str],
    files: list[tuple[str, str, object]],
    timeout_s: float,
) -> ChunkAnswer:
    """Post (file_id, filename, stream) triples to a slave; raises SlaveCallError."""
    form = {
        "task_type": task_type.name,
        **options,
        "file_id": [f[0] for f in files],
        "file_size": [str(stream_size(f[2])) for f in files],
        # The slave stops a file before the master stops waiting for it, so a slow
        # file ends with its own error instead of being resent.
        "time_limit_s": f"{max(1.0, timeout_s - TIME_LIMIT_MARGIN_S):g}",
    }
    parts = []
    for _, filename, stream in files:
        stream.seek(0)
        parts.append(
            (task_type.upload_field, (filename, stream, "application/octet-stream"))
        )
    deadline = time.monotonic() + timeout_s
    try:
        with requests.post(
            f"{slave.url}/get_task",
            data=form,
            files=parts,
            timeout=(CONNECT_TIMEOUT_S, timeout_s),
            stream=True,
            allow_redirects=False,
        ) as response:
            if response.status_code != 200:
                raise SlaveCallError(f"answered HTTP {response.status_code}")
            body = read_before(response, deadline, timeout_s)
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        raise SlaveCallError(f"no answer within {timeout_s:g} s") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise SlaveCallError(f"connection failed ({type(error).__name__})") from None
    return parse_answer(body, task_type)


def read_before(response: requests.Response, deadline: float, timeout_s: float) -> bytes:
    """The whole body, unless it is still arriving at the deadline (a trickling slave)."""
    body = bytearray()
    # read1 returns what has arrived; read would wait for a whole buffer's worth.
    while piece := response.raw.read1(ANSWER_READ_BYTES):
        body += piece
        if time.monotonic() > deadline:
            raise SlaveCallError(f"no complete answer within {timeout_s:g} s")
    return bytes(body)


def stream_size(stream) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def parse_answer(body: bytes, task_type: TaskType) -> ChunkAnswer:
    try:
        body = json.loads(body)
        results = {
            str(item["file_id"]): base64.b64decode(item[task_type.data_key], validate=True)
            for item in body["results"]
        }
        errors = {str(item["file_id"]): str(item["error"]) for item in body["errors"]}
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise SlaveCallError("answered with a body that is not the expected JSON") from None
    return ChunkAnswer(results, errors)
