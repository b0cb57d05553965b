"""The client's side of the wire: a streamed multipart upload, and the master's answer
read whole within a deadline and a size limit."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3

from deadline import finish_within

CONNECT_TIMEOUT_S = 10.0
STREAM_CHUNK_BYTES = 1024 * 1024
READ_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 256 * 2**20


class MultipartUpload:
    """A multipart/form-data body read from disk as it is sent, its length known first."""

    def __init__(self, fields: list[tuple[str, str]], files: list[tuple[str, Path]]):
        self.boundary = uuid.uuid4().hex
        self._pieces: list[bytes | Path] = []
        for name, value in fields:
            self._pieces.append(self._part_header(name) + value.encode() + b"\r\n")
        for name, path in files:
            self._pieces.append(self._part_header(name, path.name))
            self._pieces.append(path)
            self._pieces.append(b"\r\n")
        self._pieces.append(f"--{self.boundary}--\r\n".encode())

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _part_header(self, name: str, filename: str | None = None) -> bytes:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            quoted = filename.replace("\\", "\\\\").replace('"', "%22")
            quoted = quoted.replace("\r", "").replace("\n", "")
            disposition += f'; filename="{quoted}"'
            disposition += "\r\nContent-Type: application/octet-stream"
        return (
            f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        )

    def __len__(self) -> int:
        return sum(
            piece.stat().st_size if isinstance(piece, Path) else len(piece)
            for piece in self._pieces
        )

    def __iter__(self):
        for piece in self._pieces:
            if isinstance(piece, bytes):
                yield piece
                continue
            with piece.open("rb") as handle:
                while chunk := handle.read(STREAM_CHUNK_BYTES):
                    yield chunk


@dataclass
class MasterAnswer:
    status: int
    body: bytes

    def json_object(self) -> dict | None:
        """The body as a JSON object, or None when it is anything else."""
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None


class UnreadableAnswer(Exception):
    """The master's answer broke off, came encoded, or grew past any real answer."""


def post_upload(
    url: str, body: MultipartUpload, api_token: str | None, timeout_s: float
) -> MasterAnswer:
    """POST the upload and read the whole answer, all within timeout_s.

    Raises requests.RequestException, UnreadableAnswer or deadline.DeadlinePassed.
    """
    headers = {"Content-Type": body.content_type, "Accept-Encoding": "identity"}
    if api_token:
        headers["Authorization"] = f"Bearer {api_token}"

    def post_and_read() -> MasterAnswer:
        with requests.post(
            url,
            data=body,
            headers=headers,
            timeout=(CONNECT_TIMEOUT_S, timeout_s),
            allow_redirects=False,
            stream=True,
        ) as response:
            return MasterAnswer(response.status_code, read_plain_body(response))

    return finish_within(post_and_read, timeout_s, "upload")


def read_plain_body(response: requests.Response) -> bytes:
    """The body as sent, refusing encodings (the master sends none) and huge sizes."""
    encoding = response.headers.get("Content-Encoding", "identity").lower()
    if encoding != "identity":
        raise UnreadableAnswer(f"it came {encoding}-encoded, which was not asked for")
    body = bytearray()
    try:
        while piece := response.raw.read(READ_BYTES, decode_content=False):
            body += piece
            if len(body) > MAX_ANSWER_BYTES:
                raise UnreadableAnswer(f"it is over {MAX_ANSWER_BYTES // 2**20} MB")
    except urllib3.exceptions.HTTPError as error:
        raise UnreadableAnswer(f"it broke off ({type(error).__name__})") from None
    return bytes(body)
