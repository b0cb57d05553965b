"""Hostile upload names through a real cluster: results stay in RESULTS_DIR/<type>/."""

from __future__ import annotations

import base64
import io
import json
import re
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from PIL import Image
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from scripts.local_cluster import REPO_DIR
from task_types import TASK_TYPES
from tests.stub_slave import StubSlave, StubSlaveHandler

REQUEST_TIMEOUT_S = 120

# Upload name as requests sends it, and the stem of its result.
HOSTILE_NAMES = [
    ("../../x.png", "x"),
    ("/etc/passwd", "passwd"),
    ("C:\\Users\\a\\x.png", "C_Usersax"),
    ("a\x00b.txt", "a_b"),
    ("ctl\x01\x1f\x7f.txt", "ctl"),
    ("new\nline.txt", "new_0Aline"),
    ("x" * 296 + ".txt", "x" * 150),
    ("я" * 296 + ".txt", "я" * 75),
    ("отчёт.txt", "отчёт"),
    ("письмо.txt", "письмо"),
    ("CON", "CON_"),
    ("aux.txt", "aux_"),
    ("nul.png", "nul_"),
    ("COM1", "COM1_"),
    ("LPT9.txt", "LPT9_"),
    ("...", "file"),
    ("$$$.txt", "file"),
    ("-rf.txt", "rf"),
]
# Names the master is handed in place of what requests sent: Werkzeug reads "\" in a
# quoted header value as an escape, and requests, like browsers, sends a line break
# as %0A, which Werkzeug leaves as it is.
ARRIVING_NAMES = {
    "C:\\Users\\a\\x.png": "C:Usersax.png",
    "new\nline.txt": "new%0Aline.txt",
}

# Content-Disposition parameters requests cannot send, the name the master is
# handed, and the stem of its result.
HAND_BUILT_NAMES = [
    (b'filename="C:\\\\Users\\\\a\\\\x.png"', "C:\\Users\\a\\x.png", "x"),
    (b"filename*=UTF-8''a%0Ab%00c%2F..%2Fd.txt", "a\nb\x00c/../d.txt", "d"),
    (b"filename*=UTF-8''..%2F..%2F..%2Fclimb.txt", "../../../climb.txt", "climb"),
    (b"filename*=UTF-8''%E2%80%AEgnp.exe", "\u202egnp.exe", "gnp"),
    (b"filename*=UTF-8''COM%C2%B9.txt", "COM\u00b9.txt", "COM\u00b9_"),
    (b'filename="\x00"', "\x00", "file"),
    # an unquoted value ends at the first character a token cannot hold
    (b"filename=bare\\token.txt", "bare", "bare"),
    # of two filename parameters the last counts
    (b'filename="a.txt"; filename="b/../../c.txt"', "b/../../c.txt", "c"),
]


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


UPLOAD_DATA = {"image": tiny_png(), "text": "Hostile names, harmless text.\n".encode()}


def multipart_body(task_type: str, filename_parameters: list[bytes]) -> tuple:
    """A multipart body with the task type and one file per filename parameter."""
    boundary = b"hostile-names-boundary"
    data = UPLOAD_DATA[task_type]
    field = TASK_TYPES[task_type].upload_field.encode()
    parts = [
        b'Content-Disposition: form-data; name="task_type"\r\n\r\n' + task_type.encode()
    ]
    for parameter in filename_parameters:
        header = b'Content-Disposition: form-data; name="%s"; %s' % (field, parameter)
        parts.append(
            header + b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data
        )
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    body += b"--" + boundary + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary.decode()}"


def post_multipart(master_url: str, body: bytes, content_type: str):
    return requests.post(
        f"{master_url}/assign_task",
        data=body,
        headers={"Content-Type": content_type},
        timeout=REQUEST_TIMEOUT_S,
    )


def paths_around(cluster) -> set[Path]:
    """Everything in the cluster's work folder and in the folder holding it."""
    return set(cluster.workdir.rglob("*")) | set(cluster.workdir.parent.iterdir())


def is_numbered_variant(stored_name: str, result_name: str) -> bool:
    """True for result_name itself or result_name with _<n> before its suffix."""
    base, dot, suffix = result_name.rpartition(".")
    pattern = re.escape(base) + r"(_\d+)?" + re.escape(dot + suffix)
    return re.fullmatch(pattern, stored_name) is not None


def assert_stored_safely(cluster, task_type, answer, before, arrived_and_stems):
    """One result per upload in RESULTS_DIR/<type>/, and nothing else written."""
    type_folder = (cluster.results_dir / task_type).resolve()
    assert answer["failed"] == []
    assert [entry["filename"] for entry in answer["files"]] == [
        arrived for arrived, _ in arrived_and_stems
    ]

    saved = [Path(entry["saved_file"]) for entry in answer["files"]]
    assert len(set(saved)) == len(saved)
    for path, (arrived, stem) in zip(saved, arrived_and_stems):
        assert path.resolve().parent == type_folder, arrived
        assert path.is_file(), arrived
        result_name = TASK_TYPES[task_type].result_filename(stem)
        assert is_numbered_variant(path.name, result_name), (arrived, path.name)

    appeared = paths_around(cluster) - before
    assert {p for p in appeared if not p.is_dir()} == set(saved)
    assert {p for p in appeared if p.is_dir()} <= {
        cluster.results_dir,
        cluster.results_dir / task_type,
    }


@pytest.mark.parametrize("task_type", ["image", "text"])
def test_hostile_names_sent_by_requests_stay_in_the_type_folder(
    shared_cluster, task_type
):
    """Every name requests can send gets one result of its own in RESULTS_DIR/<type>."""
    field = TASK_TYPES[task_type].upload_field
    sent_names = [name for name, _ in HOSTILE_NAMES] + [""]
    files = [(field, (name, UPLOAD_DATA[task_type])) for name in sent_names]
    # the master names a nameless upload after its position in the field
    nameless = f"unnamed_upload_{len(HOSTILE_NAMES)}"
    expected = [(ARRIVING_NAMES.get(name, name), stem) for name, stem in HOSTILE_NAMES]
    expected.append((nameless, nameless))
    before = paths_around(shared_cluster)

    response = requests.post(
        f"{shared_cluster.master_url}/assign_task",
        data={"task_type": task_type},
        files=files,
        timeout=REQUEST_TIMEOUT_S,
    )

    assert response.status_code == 200, response.text
    assert_stored_safely(shared_cluster, task_type, response.json(), before, expected)


@pytest.mark.parametrize("task_type", ["image", "text"])
def test_hostile_names_built_by_hand_stay_in_the_type_folder(shared_cluster, task_type):
    """Escaped backslashes, RFC 2231 names with NUL, "/" and line breaks stay inside."""
    body, content_type = multipart_body(
        task_type, [parameter for parameter, _, _ in HAND_BUILT_NAMES]
    )
    expected = [(arrived, stem) for _, arrived, stem in HAND_BUILT_NAMES]
    before = paths_around(shared_cluster)

    response = post_multipart(shared_cluster.master_url, body, content_type)

    assert response.status_code == 200, response.text
    assert_stored_safely(shared_cluster, task_type, response.json(), before, expected)


def test_name_that_is_not_utf8_is_refused_and_nothing_stored(shared_cluster):
    """A part header in Latin-1 makes the form unreadable: 400, nothing written."""
    body, content_type = multipart_body("text", [b'filename="caf\xe9.txt"'])
    before = paths_around(shared_cluster)

    response = post_multipart(shared_cluster.master_url, body, content_type)

    assert response.status_code == 400
    assert response.json()["error"].startswith("the multipart body could not be read")
    assert paths_around(shared_cluster) == before


class EchoingSlaveHandler(StubSlaveHandler):
    """Answers each file_id under the server's answer_filename, plus its extras."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        environ = EnvironBuilder(
            method="POST",
            input_stream=io.BytesIO(body),
            content_type=self.headers["Content-Type"],
            content_length=len(body),
        ).get_environ()
        form_request = Request(environ)
        self.server.calls += 1
        self.server.received_names += [
            upload.filename for upload in form_request.files.getlist("texts")
        ]
        results = [
            {
                "filename": self.server.answer_filename,
                "file_id": file_id,
                "analysis_data": encoded_result(file_id),
            }
            for file_id in form_request.form.getlist("file_id")
        ]
        answer = {
            "results": results + self.server.extra_results,
            "errors": self.server.extra_errors,
        }
        self.send_body(200, json.dumps(answer).encode())


def encoded_result(file_id: str) -> str:
    return base64.b64encode(f'{{"file_id": "{file_id}"}}'.encode()).decode()


@pytest.fixture
def echoing_slave(make_cluster):
    """A master whose only text slave is an EchoingSlaveHandler; yields both."""
    cluster = make_cluster()
    cluster.start_master(HEARTBEAT_TIMEOUT=120)
    with StubSlave(task_types=["text"], handler=EchoingSlaveHandler) as fake:
        fake.server.answer_filename = "../../../escaped.json"
        fake.server.extra_results = []
        fake.server.extra_errors = []
        fake.server.received_names = []
        fake.register_with(cluster.master_url).raise_for_status()
        yield cluster, fake


def names_starting_with_escaped(cluster) -> list[Path]:
    """Files named escaped* in or beside the test's folder, the repository or /tmp."""
    test_folder = cluster.workdir.parent
    return [
        *test_folder.rglob("escaped*"),
        *test_folder.parent.glob("escaped*"),
        *REPO_DIR.glob("escaped*"),
        *Path(tempfile.gettempdir()).glob("escaped*"),
    ]


def test_name_a_slave_sends_back_is_ignored(echoing_slave):
    """Results take the upload's safe name, whatever name the slave sends back."""
    cluster, fake = echoing_slave
    uploads = ["report.txt", "../../notes.txt", "отчёт.txt"]

    response = requests.post(
        f"{cluster.master_url}/assign_task",
        data={"task_type": "text"},
        files=[("texts", (name, b"some text")) for name in uploads],
        timeout=REQUEST_TIMEOUT_S,
    )

    assert response.status_code == 200, response.text
    text_folder = cluster.results_dir / "text"
    assert response.json()["files"] == [
        {
            "filename": name,
            "saved_file": str(text_folder / result_name),
            "result_url": f"/results/text/{quote(result_name)}",
        }
        for name, result_name in [
            ("report.txt", "report_analysis.json"),
            ("../../notes.txt", "notes_analysis.json"),
            ("отчёт.txt", "отчёт_analysis.json"),
        ]
    ]
    # the slave is sent the safe names, and its own name for the result is ignored
    received = sorted(fake.server.received_names)
    assert received == ["notes.txt", "report.txt", "отчёт.txt"]
    assert (text_folder / "notes_analysis.json").read_bytes() == b'{"file_id": "1"}'
    assert sorted(p.name for p in cluster.results_dir.rglob("*")) == [
        "notes_analysis.json",
        "report_analysis.json",
        "text",
        "отчёт_analysis.json",
    ]
    assert names_starting_with_escaped(cluster) == []


def test_answer_for_an_unknown_file_id_is_ignored(echoing_slave):
    """Results and errors for file ids the master never sent store nothing."""
    cluster, fake = echoing_slave
    fake.server.answer_filename = "report.txt"
    fake.server.extra_results = [
        {"filename": "escaped_extra.json", "file_id": "999", "analysis_data": "e30="},
        {"filename": "../escaped.json", "file_id": "../1", "analysis_data": "e30="},
    ]
    fake.server.extra_errors = [
        {"filename": "escaped_error.txt", "file_id": "998", "error": "invented"}
    ]

    response = requests.post(
        f"{cluster.master_url}/assign_task",
        data={"task_type": "text"},
        files=[("texts", ("a.txt", b"one")), ("texts", ("b.txt", b"two"))],
        timeout=REQUEST_TIMEOUT_S,
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["total_files_processed"] == 2
    assert answer["failed"] == []
    assert [entry["filename"] for entry in answer["files"]] == ["a.txt", "b.txt"]
    text_folder = cluster.results_dir / "text"
    assert (text_folder / "b_analysis.json").read_bytes() == b'{"file_id": "1"}'
    assert sorted(p.name for p in cluster.results_dir.rglob("*")) == [
        "a_analysis.json",
        "b_analysis.json",
        "text",
    ]
    assert names_starting_with_escaped(cluster) == []
