"""Send files to the master: `python client.py MASTER_URL TASK_TYPE PATH...`.

Exit status: 0 when every file was processed, 1 when some failed, 2 on bad usage or
when the master cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import requests

from client_upload import MasterAnswer, MultipartUpload, UnreadableAnswer, post_upload
from deadline import DeadlinePassed
from security import TOKEN_CHARACTERS, is_loopback
from task_types import TASK_TYPES

EXIT_ALL_PROCESSED = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
DEFAULT_READ_TIMEOUT_S = 3600.0
MAX_TIMEOUT_S = 30 * 24 * 3600.0


def positive_seconds(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {MAX_TIMEOUT_S:g}, got {value}"
        )
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


def send(args, files: list[Path]) -> MasterAnswer:
    """Upload the files and read the whole answer, all within --timeout."""
    task_type = TASK_TYPES[args.task_type]
    fields = [("task_type", task_type.name)] + [
        (o.name, getattr(args, o.name))
        for o in task_type.options
        if getattr(args, o.name) is not None
    ]
    body = MultipartUpload(fields, [(task_type.upload_field, f) for f in files])
    return post_upload(
        f"{args.master_url.rstrip('/')}/assign_task", body, args.api_token, args.timeout
    )


def shown(value) -> str:
    """Text from the master made safe for a terminal: control characters escaped."""
    text = str(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def report(files: list[Path], answer: dict) -> int:
    """One line per file sent, then a summary; a file the answer skips has failed."""
    outcomes = answer.get("files")
    if isinstance(outcomes, list):
        pairs = [
            (shown(path), outcomes[n] if n < len(outcomes) else None)
            for n, path in enumerate(files)
        ]
    else:  # a master that does not list each file: its names, in its order
        listed = [{"saved_file": p} for p in as_list(answer.get("saved_files"))]
        listed += as_list(answer.get("failed"))
        pairs = [(shown(outcome_name(o)), o) for o in listed]
        pairs += [("(a file)", None)] * (len(files) - len(listed))
    failed = 0
    for name, outcome in pairs:
        if not isinstance(outcome, dict):
            failed += 1
            print(f"FAILED  {name}: the master's answer says nothing of it")
        elif "saved_file" in outcome:
            print(f"ok      {name} -> {shown(outcome['saved_file'])}")
        else:
            failed += 1
            print(f"FAILED  {name}: {shown(outcome.get('error'))}")
    print(
        f"{len(pairs) - failed} of {len(pairs)} file(s) processed, {failed} failed "
        f"(task type {shown(answer.get('task_type'))})"
    )
    return EXIT_ALL_PROCESSED if failed == 0 else EXIT_SOME_FAILED


def outcome_name(outcome) -> str:
    if isinstance(outcome, dict):
        return str(outcome.get("filename", outcome.get("saved_file", "?")))
    return "?"


def as_list(value) -> list:
    return value if isinstance(value, list) else []


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

    problem = master_url_problem(args.master_url)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.api_token is not None:
        args.api_token = args.api_token.strip()
        if args.api_token and not TOKEN_CHARACTERS.fullmatch(args.api_token):
            print(
                "error: the API token holds characters an HTTP header cannot carry "
                "(spaces, line breaks or non-ASCII); check how API_TOKEN was set",
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
        answer = send(args, files)
    except requests.exceptions.InvalidURL as error:
        print(f"error: {args.master_url} is not a usable URL: {error}", file=sys.stderr)
        return EXIT_USAGE
    except requests.ConnectionError:
        print(
            f"error: cannot reach the master at {args.master_url}, or it broke the "
            "connection; check that `python master.py` runs there and that the "
            "address and port are right",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except (requests.Timeout, DeadlinePassed):
        print(
            f"error: the master at {args.master_url} did not answer within "
            f"{args.timeout:g} s (see --timeout); it still finishes and stores the "
            "results",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except (requests.RequestException, UnreadableAnswer) as error:
        reason = error if isinstance(error, UnreadableAnswer) else type(error).__name__
        print(
            f"error: the master's answer could not be read ({reason}); "
            f"is {args.master_url} really the master?",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return explain(answer, files, args.master_url)


def master_url_problem(master_url: str) -> str | None:
    if not master_url.startswith(("http://", "https://")):
        return (
            "the master URL must start with http:// or https://, such as "
            f"http://{master_url}"
        )
    try:
        urlsplit(master_url).port
    except ValueError as error:
        return f"{master_url} is not a usable URL: {error}"
    return None


def explain(answer: MasterAnswer, files: list[Path], master_url: str) -> int:
    """Print what the master said and return the exit status."""
    fields = answer.json_object()
    if fields is None:
        if answer.status == 413:
            print(
                "error: the upload is larger than the master accepts (its "
                "MAX_UPLOAD_MB); send fewer or smaller files",
                file=sys.stderr,
            )
            return EXIT_USAGE
        print(
            f"error: the master answered HTTP {answer.status} without the expected "
            f"JSON; is {master_url} really the master?",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if answer.status != 200:
        print(
            f"error: the master refused the request (HTTP {answer.status}): "
            f"{shown(fields.get('error') or 'no reason given')}",
            file=sys.stderr,
        )
        return EXIT_USAGE if answer.status < 500 else EXIT_SOME_FAILED
    return report(files, fields)


if __name__ == "__main__":
    sys.exit(main())
