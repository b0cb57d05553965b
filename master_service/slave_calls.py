"""Sending one chunk of files to one slave and checking its answer."""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass

import requests
import urllib3

from master_service.deadline import DeadlinePassed, finish_within
from master_service.errors import SlaveCallError
from master_service.registry import SlaveRecord
from security import CLUSTER_TOKEN_HEADER
from task_types import TaskType

CONNECT_TIMEOUT_S = 5.0
TIME_LIMIT_MARGIN_S = 2.0
ANSWER_READ_BYTES = 256 * 1024
ANSWER_BASE_BYTES = 64 * 2**20
ANSWER_BYTES_PER_SENT_BYTE = 32
"""An answer may hold this much beyond ANSWER_BASE_BYTES per byte sent (a PNG of a
JPEG, base64 on top, runs to ten times its input)."""


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
    cluster_token: str | None = None,
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
    parts = [
        (
            task_type.upload_field,
            (filename, read_whole(stream), "application/octet-stream"),
        )
        for _, filename, stream in files
    ]
    sent_bytes = sum(len(part[1][1]) for part in parts)
    answer_limit = ANSWER_BASE_BYTES + ANSWER_BYTES_PER_SENT_BYTE * sent_bytes
    headers = {CLUSTER_TOKEN_HEADER: cluster_token} if cluster_token else {}
    body = post_within(
        f"{slave.url}/get_task", form, parts, headers, timeout_s, answer_limit
    )
    return parse_answer(body, task_type)


def read_whole(stream) -> bytes:
    stream.seek(0)
    return stream.read()


def post_within(
    url: str, form, parts, headers, timeout_s: float, answer_limit: int
) -> bytes:
    """POST and read the whole answer within timeout_s, however slowly it trickles.

    The abandoned call holds its own copy of the files, so a resend elsewhere is not
    disturbed.
    """
    try:
        return finish_within(
            lambda: post_and_read(url, form, parts, headers, timeout_s, answer_limit),
            CONNECT_TIMEOUT_S + timeout_s,
            "slave-call",
        )
    except DeadlinePassed:
        raise SlaveCallError(f"no complete answer within {timeout_s:g} s") from None


def post_and_read(
    url: str, form, parts, headers, timeout_s: float, answer_limit: int
) -> bytes:
    deadline = time.monotonic() + timeout_s
    try:
        with requests.post(
            url,
            data=form,
            files=parts,
            headers=headers,
            timeout=(CONNECT_TIMEOUT_S, timeout_s),
            stream=True,
            allow_redirects=False,
        ) as response:
            if response.status_code != 200:
                raise SlaveCallError(f"answered HTTP {response.status_code}")
            return read_before(response, deadline, timeout_s, answer_limit)
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        raise SlaveCallError(f"no answer within {timeout_s:g} s") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise SlaveCallError(f"connection failed ({type(error).__name__})") from None


def read_before(
    response: requests.Response, deadline: float, timeout_s: float, answer_limit: int
) -> bytes:
    """The whole body, unless it is still arriving at the deadline or grows too big."""
    body = bytearray()
    # read1 returns what has arrived; read would wait for a whole buffer's worth.
    while piece := response.raw.read1(ANSWER_READ_BYTES):
        body += piece
        if time.monotonic() > deadline:
            raise SlaveCallError(f"no complete answer within {timeout_s:g} s")
        if len(body) > answer_limit:
            raise SlaveCallError(
                f"answered with more than {answer_limit // 2**20} MB for this chunk"
            )
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
            str(item["file_id"]): base64.b64decode(
                item[task_type.data_key], validate=True
            )
            for item in body["results"]
        }
        errors = {str(item["file_id"]): str(item["error"]) for item in body["errors"]}
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error):
        raise SlaveCallError(
            "answered with a body that is not the expected JSON"
        ) from None
    return ChunkAnswer(results, errors)
