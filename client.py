"""Send files to the master: `python client.py MASTER_URL TASK_TYPE PATH...`.

Exit status: 0 when every file was processed, 1 when some failed, 2 on bad usage or
when the master cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import requests

from security import is_loopback
from task_types import TASK_TYPES

EXIT_ALL_PROCESSED = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 3600.0
STREAM_CHUNK_BYTES = 1024 * 1024


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


def positive_seconds(value: str) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    task_lines = "\n".join(
        f"  {t.name:<10} {t.summary}\n"
        f"  {'':<10} files go in the field {t.upload_field!r}; result: "
        f"{t.result_filename('<name>')}"
        for t in TASK_TYPES.values()
    )
    parser = argparse.ArgumentParser(
        prog="client.py",
        description="Send files to the master for processing and report each outcome.",
        epilog=f"task types:\n{task_lines}\n\nexit status: 0 all files processed; "
        "1 some failed, or no slave can run the type (503); 2 bad usage, a request the "
        "master refused (400, 401, 413), or the master unreachable",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("master_url", help="e.g. http://localhost:5000")
    parser.add_argument(
        "task_type",
        choices=list(TASK_TYPES),
        metavar="TASK_TYPE",
        help="one of the task types below",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="files, or folders whose files are all sent",
    )
    options = {o.name: o for t in TASK_TYPES.values() for o in t.options}
    for option in options.values():
        users = [t.name for t in TASK_TYPES.values() if option in t.options]
        parser.add_argument(
            f"--{option.name.replace('_', '-')}",
            dest=option.name,
            help=f"{option.help} ({', '.join(users)})",
        )
    parser.add_argument(
        "--api-token",
        default=os.environ.get("API_TOKEN") or None,
        help="the master's API_TOKEN, if it has one (default: the API_TOKEN "
        "environment variable, which other users cannot see in the process list)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_READ_TIMEOUT_S,
        help="seconds to wait for the master's answer "
        f"(default {DEFAULT_READ_TIMEOUT_S:g})",
    )
    return parser


def collect_files(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return files


def send(args, files: list[Path]) -> requests.Response:
    task_type = TASK_TYPES[args.task_type]
    fields = [("task_type", task_type.name)] + [
        (o.name, getattr(args, o.name))
        for o in task_type.options
        if getattr(args, o.name) is not None
    ]
    body = MultipartUpload(fields, [(task_type.upload_field, f) for f in files])
    headers = {"Content-Type": body.content_type}
    if args.api_token:
        headers["Authorization"] = f"Bearer {args.api_token}"
    return requests.post(
        f"{args.master_url.rstrip('/')}/assign_task",
        data=body,
        headers=headers,
        timeout=(CONNECT_TIMEOUT_S, args.timeout),
    )


def report(files: list[Path], answer: dict) -> int:
    outcomes = answer.get("files")
    if outcomes is None:  # a master that does not list outcomes per file
        outcomes = [{"saved_file": p} for p in answer.get("saved_files", [])]
        outcomes += answer.get("failed", [])
        files = [Path(o.get("filename", "?")) for o in outcomes]
    for path, outcome in zip(files, outcomes):
        if "saved_file" in outcome:
            print(f"ok      {path} -> {outcome['saved_file']}")
        else:
            print(f"FAILED  {path}: {outcome.get('error')}")
    failed = len(answer.get("failed", []))
    total = len(outcomes)
    print(
        f"{total - failed} of {total} file(s) processed, {failed} failed "
        f"(task type {answer.get('task_type')})"
    )
    return EXIT_ALL_PROCESSED if failed == 0 else EXIT_SOME_FAILED


def is_private_route(master_url: str) -> bool:
    """HTTPS, or a master on this machine: a token sent there is not seen on the way."""
    parts = urlsplit(master_url)
    return parts.scheme == "https" or is_loopback(parts.hostname)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    task_type = TASK_TYPES[args.task_type]
    unused = [
        o.name
        for t in TASK_TYPES.values()
        for o in t.options
        if getattr(args, o.name) is not None and o not in task_type.options
    ]
    if unused:
        parser.error(
            f"--{unused[0].replace('_', '-')} does not apply to "
            f"{task_type.name} tasks"
        )
    try:
        files = collect_files(args.paths)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not files:
        print("error: the folders given hold no files", file=sys.stderr)
        return EXIT_USAGE

    if not args.master_url.startswith(("http://", "https://")):
        print(
            f"error: the master URL must start with http:// or https://, such as "
            f"http://{args.master_url}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.api_token and not is_private_route(args.master_url):
        print(
            "warning: the API token goes over plain HTTP; serve the master behind "
            "HTTPS (see README, Security)",
            file=sys.stderr,
        )
    try:
        response = send(args, files)
    except requests.exceptions.InvalidURL as error:
        print(f"error: {args.master_url} is not a usable URL: {error}", file=sys.stderr)
        return EXIT_USAGE
    except requests.ConnectionError:
        print(
            f"error: cannot reach the master at {args.master_url}; check that "
            "`python master.py` runs there and that the address and port are right",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except requests.Timeout:
        print(
            f"error: the master at {args.master_url} did not answer within "
            f"{args.timeout:g} s (see --timeout)",
            file=sys.stderr,
        )
        return EXIT_USAGE

    try:
        answer = response.json()
    except ValueError:
        if response.status_code == 413:
            print(
                "error: the upload is larger than the master accepts (its "
                "MAX_UPLOAD_MB); send fewer or smaller files",
                file=sys.stderr,
            )
            return EXIT_USAGE
        print(
            f"error: the master answered HTTP {response.status_code} without JSON; "
            f"is {args.master_url} really the master?",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if response.status_code != 200:
        print(
            f"error: the master refused the request (HTTP {response.status_code}): "
            f"{answer.get('error')}",
            file=sys.stderr,
        )
        return EXIT_USAGE if response.status_code < 500 else EXIT_SOME_FAILED
    return report(files, answer)


if __name__ == "__main__":
    sys.exit(main())
