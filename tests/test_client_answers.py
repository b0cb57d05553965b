"""client.py against a fake master on loopback: whatever it answers, the client ends
in time with a line a person can act on, never a traceback, and never shows a token."""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import client
import client_upload

TOKEN = "client-token-secret-0123456789"


class FakeMasterHandler(BaseHTTPRequestHandler):
    """Reads the upload, then sends the server's raw answer, trickled if asked."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen_headers.append(dict(self.headers))
        try:
            if self.server.trickle_s:
                for byte in self.server.raw_answer:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(self.server.trickle_s)
            else:
                self.wfile.write(self.server.raw_answer)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_master():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeMasterHandler)
    server.raw_answer, server.trickle_s, server.seen_headers = b"", 0.0, []
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def http_answer(status: int, body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def run_client(fake_master, tmp_path, *extra_args, files=("a.txt",)):
    paths = []
    for name in files:
        path = tmp_path / name
        path.write_text("some words")
        paths.append(str(path))
    url = f"http://127.0.0.1:{fake_master.server_port}"
    return client.main([*extra_args, url, "text", *paths])


@pytest.mark.parametrize(
    "raw_answer, status, message",
    [
        (http_answer(200, b"[1, 2, 3]"), 2, "without the expected JSON"),
        (http_answer(400, b'["x"]'), 2, "without the expected JSON"),
        (http_answer(200, b"[" * 200_000), 2, "without the expected JSON"),
        (http_answer(200, b'"hello"'), 2, "without the expected JSON"),
        (
            http_answer(200, b'{"files": [1, "x", null]}'),
            1,
            "the master's answer says nothing of it",
        ),
        (
            http_answer(200, b'{"files": "abc", "saved_files": 5}'),
            1,
            "FAILED  (a file): the master's answer says nothing of it",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{",
            2,
            "could not be read (it broke off (ProtocolError))",
        ),
        (
            http_answer(200, b"not gzip at all", "Content-Encoding: gzip\r\n"),
            2,
            "could not be read (it came gzip-encoded, which was not asked for)",
        ),
        (
            http_answer(307, b"", "Location: /assign_task\r\n"),
            2,
            "HTTP 307 without the expected JSON",
        ),
        (http_answer(503, b'{"error": null}'), 1, "no reason given"),
    ],
    ids=[
        "list",
        "list-on-400",
        "deeply-nested",
        "string",
        "odd-entries",
        "odd-fields",
        "cut-short",
        "bad-gzip",
        "redirect",
        "null-error",
    ],
)
def test_odd_answers_end_cleanly(
    fake_master, tmp_path, capsys, raw_answer, status, message
):
    """Each odd answer gives an exit status and a message, no traceback."""
    fake_master.raw_answer = raw_answer
    assert run_client(fake_master, tmp_path) == status
    output = capsys.readouterr()
    assert message in output.out + output.err
    assert "Traceback" not in output.out + output.err


def test_an_answer_missing_files_counts_them_as_failed(fake_master, tmp_path, capsys):
    """Three files sent, one answered: two FAILED lines and exit status 1."""
    body = json.dumps(
        {"task_type": "text", "files": [{"filename": "a.txt", "saved_file": "r/a"}]}
    ).encode()
    fake_master.raw_answer = http_answer(200, body)

    status = run_client(fake_master, tmp_path, files=("a.txt", "b.txt", "c.txt"))

    lines = capsys.readouterr().out.splitlines()
    assert status == 1
    assert lines[1:] == [
        f"FAILED  {tmp_path / 'b.txt'}: the master's answer says nothing of it",
        f"FAILED  {tmp_path / 'c.txt'}: the master's answer says nothing of it",
        "1 of 3 file(s) processed, 2 failed (task type text)",
    ]


def test_a_trickling_master_is_given_up_at_the_timeout(fake_master, tmp_path, capsys):
    """--timeout bounds the whole wait, not each read."""
    fake_master.raw_answer = http_answer(200, b'{"files": []}' + b" " * 100)
    fake_master.trickle_s = 0.2
    started = time.monotonic()

    status = run_client(fake_master, tmp_path, "--timeout", "2")

    assert status == 2
    assert time.monotonic() - started < 4
    assert "did not answer within 2 s" in capsys.readouterr().err


def test_an_answer_over_the_size_limit_is_refused(
    fake_master, tmp_path, capsys, monkeypatch
):
    """The client reads no more than MAX_ANSWER_BYTES of an answer."""
    monkeypatch.setattr(client_upload, "MAX_ANSWER_BYTES", 1000)
    fake_master.raw_answer = http_answer(200, b"{" + b" " * 5000 + b"}")
    assert run_client(fake_master, tmp_path) == 2
    assert "could not be read (it is over 0 MB)" in capsys.readouterr().err


def test_control_characters_from_the_master_are_escaped(fake_master, tmp_path, capsys):
    """An error holding terminal escapes is printed with them escaped."""
    fake_master.raw_answer = http_answer(
        400, json.dumps({"error": "\x1b]0;pwned\x07\x1b[2Jgone"}).encode()
    )
    assert run_client(fake_master, tmp_path) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b]0;pwned\\x07\\x1b[2Jgone" in err


@pytest.mark.parametrize(
    "token", [TOKEN[:10] + "\r\n" + TOKEN[10:], TOKEN + " x", "jeton-" + "é" * 20]
)
def test_a_token_a_header_cannot_carry_is_refused_without_showing_it(
    fake_master, tmp_path, capsys, monkeypatch, token
):
    """A token with a line break or non-ASCII is refused before anything is sent."""
    monkeypatch.setenv("API_TOKEN", token)
    assert run_client(fake_master, tmp_path) == 2
    output = capsys.readouterr()
    assert "cannot carry" in output.err
    assert token.strip() not in output.out + output.err
    assert fake_master.seen_headers == []


def test_surrounding_whitespace_of_a_token_is_dropped(fake_master, tmp_path):
    """A token read from a file with a trailing newline is sent without it."""
    fake_master.raw_answer = http_answer(
        200, json.dumps({"files": [{"filename": "a.txt", "saved_file": "x"}]}).encode()
    )
    assert run_client(fake_master, tmp_path, "--api-token", f" {TOKEN}\n") == 0
    assert fake_master.seen_headers[0]["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("timeout", ["inf", "1e10", "nan", "0"])
def test_unusable_timeouts_are_usage_errors(tmp_path, timeout):
    """--timeout must be a finite number of seconds the sockets can take."""
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(SystemExit) as raised:
        client.main(
            [
                "--timeout",
                timeout,
                "http://127.0.0.1:9",
                "text",
                str(tmp_path / "a.txt"),
            ]
        )
    assert raised.value.code == 2


def test_a_malformed_master_url_is_a_usage_error(tmp_path, capsys, monkeypatch):
    """An unbalanced IPv6 bracket is reported, with or without a token."""
    monkeypatch.setenv("API_TOKEN", TOKEN)
    (tmp_path / "a.txt").write_text("x")
    assert client.main(["http://[::1", "text", str(tmp_path / "a.txt")]) == 2
    assert "is not a usable URL" in capsys.readouterr().err


def test_gzip_is_not_asked_for(fake_master, tmp_path):
    """The client asks for the answer as it is; it never inflates one."""
    fake_master.raw_answer = http_answer(
        200, gzip.compress(b"{}"), "Content-Encoding: gzip\r\n"
    )
    assert run_client(fake_master, tmp_path) == 2
    assert fake_master.seen_headers[0]["Accept-Encoding"] == "identity"
