"""Tests of the client: streamed multipart body, file collection, help, report."""

import io
import json
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
from werkzeug.formparser import parse_form_data

import client
import client_upload
from client import collect_files, report
from client_upload import MasterAnswer, MultipartUpload

REPO_DIR = Path(__file__).resolve().parent.parent


class FakeStreamedResponse:
    """What requests.post(stream=True) gives: status, headers and a raw stream."""

    def __init__(self, status_code: int, body: bytes, headers=None):
        self.status_code = status_code
        self.headers = headers or {}
        self.raw = io.BytesIO(body)
        self.raw.read = lambda amount, decode_content=False, r=self.raw: (
            io.BytesIO.read(r, amount)
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def answer(status_code: int, fields) -> MasterAnswer:
    return MasterAnswer(status_code, json.dumps(fields).encode())


def parse_with_werkzeug(upload: MultipartUpload):
    """The form fields and files werkzeug reads from the upload's bytes."""
    body = b"".join(iter(upload))
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": upload.content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    _, form, files = parse_form_data(environ)
    return body, form, files


def test_multipart_length_matches_streamed_bytes(tmp_path):
    """len(upload) is the exact number of bytes the iteration yields."""
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 9000)  # over two 1 MiB read chunks
    upload = MultipartUpload(
        [("task_type", "text"), ("note", "héllo")],
        [("texts", small), ("texts", empty), ("texts", big)],
    )

    body = b"".join(iter(upload))

    assert len(body) == len(upload)
    assert body.endswith(f"--{upload.boundary}--\r\n".encode())
    assert upload.content_type == f"multipart/form-data; boundary={upload.boundary}"


def test_multipart_parses_to_the_right_fields_and_files(tmp_path):
    """werkzeug reads back every field and every file's exact bytes."""
    first = tmp_path / "a.png"
    first.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    tricky = tmp_path / "b.txt"
    tricky.write_bytes(b"line\r\n--not-the-boundary\r\n\r\nend")
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 9000)
    upload = MultipartUpload(
        [("task_type", "ocr"), ("lang", "eng+fra"), ("note", "héllo wörld")],
        [("images", first), ("images", tricky), ("images", big)],
    )

    body, form, files = parse_with_werkzeug(upload)

    assert len(body) == len(upload)
    assert form.to_dict(flat=False) == {
        "task_type": ["ocr"],
        "lang": ["eng+fra"],
        "note": ["héllo wörld"],
    }
    received = [(f.filename, f.read()) for f in files.getlist("images")]
    assert received == [
        ("a.png", first.read_bytes()),
        ("b.txt", b"line\r\n--not-the-boundary\r\n\r\nend"),
        ("big.bin", bytes(range(256)) * 9000),
    ]
    assert list(files) == ["images"]


@pytest.mark.parametrize(
    "filename",
    ['say "hi".txt', "отчёт – 日本.txt", 'mix "ü" \\ back.txt', "ünïcødé.png"],
)
def test_multipart_keeps_quotes_and_non_ascii_in_filenames(tmp_path, filename):
    """A filename with a quote, a backslash or non-ASCII letters arrives unchanged."""
    path = tmp_path / filename
    path.write_bytes(b"contents")
    upload = MultipartUpload([("task_type", "text")], [("texts", path)])

    body, _, files = parse_with_werkzeug(upload)

    assert len(body) == len(upload)
    (received,) = files.getlist("texts")
    assert received.filename == filename
    assert received.read() == b"contents"


def test_multipart_header_cannot_be_broken_by_a_line_break(tmp_path):
    """A line break in a filename is dropped, so it cannot start a new header."""
    path = tmp_path / "evil\r\nX-Injected: 1.txt"
    path.write_bytes(b"x")
    upload = MultipartUpload([], [("texts", path)])

    _, _, files = parse_with_werkzeug(upload)

    (received,) = files.getlist("texts")
    assert received.filename == "evilX-Injected: 1.txt"
    assert received.read() == b"x"


def test_collect_files_expands_folders_recursively_and_sorted(tmp_path):
    """A folder gives all its files, in subfolders too, sorted; files stay in order."""
    folder = tmp_path / "in"
    (folder / "sub" / "deeper").mkdir(parents=True)
    for relative in ["b.txt", "a.txt", "sub/c.txt", "sub/deeper/d.txt", "sub/A.txt"]:
        (folder / relative).write_text(relative)
    single = tmp_path / "single.txt"
    single.write_text("single")

    files = collect_files([single, folder])

    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "single.txt",
        "in/a.txt",
        "in/b.txt",
        "in/sub/A.txt",
        "in/sub/c.txt",
        "in/sub/deeper/d.txt",
    ]


def test_collect_files_raises_for_missing_path(tmp_path):
    """A path that does not exist raises FileNotFoundError naming it."""
    missing = tmp_path / "nope.txt"

    with pytest.raises(FileNotFoundError) as raised:
        collect_files([missing])

    assert str(raised.value) == f"no such file or folder: {missing}"


def test_help_lists_all_task_types():
    """`client.py --help` lists the six task types with their fields and results."""
    finished = subprocess.run(
        [sys.executable, "client.py", "--help"],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert finished.returncode == 0, finished.stderr
    for line in [
        "  image      grayscale PNG",
        "  text       encoding, counts",
        "  embedding  TF-IDF vectors",
        "  ocr        text, confidence",
        "  audio      duration, levels",
        "  document   text, structure",
        "files go in the field 'audio_files'; result: <name>_audio_analysis.json",
        "--max-features MAX_FEATURES",
        "--lang LANG",
        "--password PASSWORD",
    ]:
        assert line in finished.stdout


def test_report_prints_one_line_per_file_and_returns_1_on_failure(tmp_path, capsys):
    """Each file gets an ok or FAILED line, then a summary; a failure gives status 1."""
    files = [Path("in/a.txt"), Path("in/b.txt")]
    answer = {
        "task_type": "text",
        "files": [
            {"filename": "a.txt", "saved_file": "results/text/a_analysis.json"},
            {"filename": "b.txt", "error": "the file is empty (0 bytes)"},
        ],
        "failed": [{"filename": "b.txt", "error": "the file is empty (0 bytes)"}],
    }

    status = report(files, answer)

    assert status == 1
    assert capsys.readouterr().out.splitlines() == [
        "ok      in/a.txt -> results/text/a_analysis.json",
        "FAILED  in/b.txt: the file is empty (0 bytes)",
        "1 of 2 file(s) processed, 1 failed (task type text)",
    ]


def test_report_returns_0_when_all_files_are_processed(capsys):
    """With no failures the status is 0."""
    answer = {
        "task_type": "image",
        "files": [{"filename": "x.png", "saved_file": "r/image/processed_x.png"}],
        "failed": [],
    }

    assert report([Path("x.png")], answer) == 0
    assert capsys.readouterr().out.splitlines() == [
        "ok      x.png -> r/image/processed_x.png",
        "1 of 1 file(s) processed, 0 failed (task type image)",
    ]


def test_report_reads_an_answer_without_per_file_outcomes(capsys):
    """An answer with only saved_files and failed is still reported per file."""
    answer = {
        "task_type": "ocr",
        "saved_files": ["r/ocr/a_ocr.json"],
        "failed": [{"filename": "b.png", "error": "timed out after 120 s"}],
    }

    assert report([Path("a.png"), Path("b.png")], answer) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("ok      ")
    assert lines[0].endswith(" -> r/ocr/a_ocr.json")
    assert lines[1:] == [
        "FAILED  b.png: timed out after 120 s",
        "1 of 2 file(s) processed, 1 failed (task type ocr)",
    ]


def test_send_posts_the_streamed_body(tmp_path, monkeypatch):
    """send posts to /assign_task with the task type, set options and the files."""
    path = tmp_path / "scan.png"
    path.write_bytes(b"image bytes")
    calls = []

    def fake_post(url, **kwargs):
        calls.append((url, kwargs))
        return FakeStreamedResponse(200, b"{}")

    monkeypatch.setattr(client_upload.requests, "post", fake_post)
    args = Namespace(
        master_url="http://master.invalid:5000/",
        task_type="ocr",
        lang="deu",
        max_features=None,
        password=None,
        timeout=12.0,
        api_token=None,
    )

    client.send(args, [path])

    ((url, kwargs),) = calls
    assert url == "http://master.invalid:5000/assign_task"
    assert kwargs["timeout"] == (10.0, 12.0)
    assert kwargs["headers"] == {
        "Content-Type": kwargs["data"].content_type,
        "Accept-Encoding": "identity",
    }
    assert kwargs["allow_redirects"] is False
    _, form, files = parse_with_werkzeug(kwargs["data"])
    assert form.to_dict(flat=False) == {"task_type": ["ocr"], "lang": ["deu"]}
    assert [(f.filename, f.read()) for f in files.getlist("images")] == [
        ("scan.png", b"image bytes")
    ]


def test_main_returns_2_for_a_missing_path(tmp_path, capsys):
    """A missing path is bad usage, reported on stderr."""
    status = client.main(["http://master.invalid", "text", str(tmp_path / "nope")])

    assert status == 2
    assert (
        capsys.readouterr().err == f"error: no such file or folder: {tmp_path}/nope\n"
    )


def test_main_returns_2_for_empty_folders(tmp_path, capsys):
    """Folders without files are bad usage."""
    status = client.main(["http://master.invalid", "text", str(tmp_path)])

    assert status == 2
    assert capsys.readouterr().err == "error: the folders given hold no files\n"


@pytest.mark.parametrize("status_code, expected_status", [(400, 2), (503, 1), (500, 1)])
def test_main_status_for_a_refused_request(
    tmp_path, monkeypatch, capsys, status_code, expected_status
):
    """A refusal is bad usage (2) for 4xx answers and a failure (1) for 5xx."""
    path = tmp_path / "a.txt"
    path.write_text("hello")
    monkeypatch.setattr(
        client, "send", lambda args, files: answer(status_code, {"error": "no"})
    )

    status = client.main(["http://master.invalid", "text", str(path)])

    assert status == expected_status
    assert capsys.readouterr().err == (
        f"error: the master refused the request (HTTP {status_code}): no\n"
    )


def sent_headers(monkeypatch, tmp_path, argv: list[str]) -> dict:
    """The headers main() sends for argv, with the files of tmp_path."""
    (tmp_path / "a.txt").write_text("hello")
    calls = []

    def fake_post(url, **kwargs):
        calls.append(kwargs["headers"])
        fields = {
            "files": [{"filename": "a.txt", "saved_file": "r/a_analysis.json"}],
            "failed": [],
            "task_type": "text",
        }
        return FakeStreamedResponse(200, json.dumps(fields).encode())

    monkeypatch.setattr(client_upload.requests, "post", fake_post)
    assert client.main(argv + ["text", str(tmp_path / "a.txt")]) == 0
    return calls[0]


def test_api_token_comes_from_the_environment(monkeypatch, tmp_path, capsys):
    """API_TOKEN in the environment becomes a bearer header; loopback: no warning."""
    monkeypatch.setenv("API_TOKEN", "from-the-environment-0123")
    headers = sent_headers(monkeypatch, tmp_path, ["http://127.0.0.1:5000"])
    assert headers["Authorization"] == "Bearer from-the-environment-0123"
    assert capsys.readouterr().err == ""


def test_api_token_option_wins_over_the_environment(monkeypatch, tmp_path):
    """--api-token is sent instead of API_TOKEN."""
    monkeypatch.setenv("API_TOKEN", "from-the-environment-0123")
    headers = sent_headers(
        monkeypatch,
        tmp_path,
        ["--api-token", "from-the-option-456789", "https://master.invalid"],
    )
    assert headers["Authorization"] == "Bearer from-the-option-456789"


def test_no_token_sends_no_authorization(monkeypatch, tmp_path):
    """Without a token the request has no Authorization header at all."""
    monkeypatch.delenv("API_TOKEN", raising=False)
    headers = sent_headers(monkeypatch, tmp_path, ["http://127.0.0.1:5000"])
    assert "Authorization" not in headers


def test_token_over_plain_http_to_another_host_is_warned(monkeypatch, tmp_path, capsys):
    """A token sent in the clear to another machine gets a warning, not the token."""
    monkeypatch.setenv("API_TOKEN", "secret-token-value-0123")
    sent_headers(monkeypatch, tmp_path, ["http://master.invalid:5000"])
    err = capsys.readouterr().err
    assert err.startswith("warning: the API token goes over plain HTTP")
    assert "secret-token-value-0123" not in err
