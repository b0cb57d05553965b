"""Sending one chunk of files to one slave and checking its answer."""

from __future__ import annotations

import base64
import binascii
import http.client
import json
from dataclasses import dataclass

from urllib3 import encode_multipart_formdata

from deadline import DeadlinePassed
from master_service.bounded_http import AnswerTooLarge, exchange
from master_service.errors import SlaveCallError
from master_service.registry import SlaveRecord
from security import CLUSTER_TOKEN_HEADER
from task_types import TaskType

CONNECT_TIMEOUT_S = 5.0
TIME_LIMIT_MARGIN_S = 2.0
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
    contents = [read_whole(stream) for _, _, stream in files]
    fields = [
        ("task_type", task_type.name),
        *options.items(),
        *[("file_id", file_id) for file_id, _, _ in files],
        *[("file_size", str(len(content))) for content in contents],
        # The slave stops a file before the master stops waiting for it, so a slow
        # file ends with its own error instead of being resent.
        ("time_limit_s", f"{max(1.0, timeout_s - TIME_LIMIT_MARGIN_S):g}"),
        *[
            (task_type.upload_field, (filename, content, "application/octet-stream"))
            for (_, filename, _), content in zip(files, contents)
        ],
    ]
    body, content_type = encode_multipart_formdata(fields)
    answer_limit = ANSWER_BASE_BYTES + ANSWER_BYTES_PER_SENT_BYTE * sum(
        map(len, contents)
    )
    headers = {"Content-Type": content_type}
    if cluster_token:
        headers[CLUSTER_TOKEN_HEADER] = cluster_token
    try:
        answer = exchange(
            slave.ip,
            slave.port,
            "POST",
            "/get_task",
            headers=headers,
            body=body,
            connect_timeout_s=CONNECT_TIMEOUT_S,
            timeout_s=timeout_s,
            answer_limit=answer_limit,
            name="slave-call",
        )
    except DeadlinePassed:
        raise SlaveCallError(f"no complete answer within {timeout_s:g} s") from None
    except AnswerTooLarge:
        raise SlaveCallError(
            f"answered with more than {answer_limit // 2**20} MB for this chunk"
        ) from None
    except TimeoutError:
        raise SlaveCallError(f"no answer within {timeout_s:g} s") from None
    except (http.client.HTTPException, OSError) as error:
        raise SlaveCallError(f"connection failed ({type(error).__name__})") from None
    if answer.status != 200:
        raise SlaveCallError(f"answered HTTP {answer.status}")
    return parse_answer(answer.body, task_type)


def read_whole(stream) -> bytes:
    stream.seek(0)
    return stream.read()


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
