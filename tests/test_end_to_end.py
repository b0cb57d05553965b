"""Real master and slave processes on loopback, driven over HTTP and through client.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from scripts.local_cluster import REPO_DIR, free_port
from scripts.samples import make_samples
from tests.stub_slave import StubSlave

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXPECTED_CORPUS_FAILURES = {
    "broken.png": "damaged",
    "decompression_bomb.gif": "too large",
    "truncated_jpeg.jpg": "truncated",
    "libreoffice-writer-password.pdf": "password",
}


def run_client(master_url: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO_DIR / "client.py"), master_url, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def post_files(url, field, paths, **form):
    files = [(field, (Path(p).name, Path(p).read_bytes())) for p in paths]
    return requests.post(f"{url}/assign_task", data=form, files=files, timeout=120)


def test_services_answer_their_status_routes(shared_cluster):
    """GET / and /check_status answer as the original services did."""
    master = shared_cluster.master_url
    index = requests.get(master)
    assert index.text == "Master is working"
    assert index.headers["Content-Type"] == "text/plain; charset=utf-8"
    status = requests.get(f"{master}/check_status").json()
    assert status["status"] == "alive"
    assert len(status["slaves"]) == 2
    for slave in status["slaves"]:
        assert slave["workers"] == 2
        assert slave["state"] == "up"
        assert "image" in slave["task_types"]

    slave_url = shared_cluster.slaves[0].url
    assert requests.get(slave_url).text == "Slave is working"
    slave_status = requests.get(f"{slave_url}/check_status").json()
    assert slave_status["status"] == "alive"
    assert slave_status["advertised_ip"] == "127.0.0.1"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"slave_port": 4000}, "slave_ip"),
        ({"slave_ip": "not an ip", "slave_port": 4000}, "slave_ip"),
        ({"slave_ip": "127.0.0.1"}, "slave_port"),
        ({"slave_ip": "127.0.0.1", "slave_port": 70000}, "slave_port"),
        (
            {"slave_ip": "127.0.0.1", "slave_port": 4000, "task_types": "image"},
            "task_types",
        ),
        (
            {"slave_ip": "127.0.0.1", "slave_port": 4000, "task_types": ["nope"]},
            "task_types",
        ),
        ({"slave_ip": "127.0.0.1", "slave_port": 4000, "workers": 0}, "workers"),
    ],
)
def test_register_rejects_bad_fields_naming_them(shared_cluster, body, field):
    """A malformed registration gets a 400 that names the field."""
    response = requests.post(f"{shared_cluster.master_url}/register", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert field in response.json()["error"]


def test_register_twice_is_idempotent(make_cluster):
    """Registering the same slave again updates it instead of adding another."""
    cluster = make_cluster()
    cluster.start_master()
    with StubSlave(workers=2) as stub:
        for _ in range(2):
            response = stub.register_with(cluster.master_url)
            assert response.status_code == 200
            assert response.json()["status"] == "success"
    slaves = requests.get(f"{cluster.master_url}/check_status").json()["slaves"]
    assert [s["address"] for s in slaves] == [f"127.0.0.1:{stub.port}"]


def test_assign_task_refuses_bad_requests(shared_cluster, tmp_path):
    """Unknown types, missing files and bad options get a 400 saying what to fix."""
    url = shared_cluster.master_url
    text = tmp_path / "a.txt"
    text.write_text("hello world")

    unknown = post_files(url, "texts", [text], task_type="poetry")
    assert unknown.status_code == 400
    assert "image" in unknown.json()["valid_task_types"]

    no_files = requests.post(f"{url}/assign_task", data={"task_type": "audio"})
    assert no_files.status_code == 400
    assert no_files.json()["field"] == "audio_files"

    bad_option = post_files(
        url, "texts", [text], task_type="embedding", max_features="x"
    )
    assert bad_option.status_code == 400
    assert "max_features" in bad_option.json()["error"]


def test_text_where_a_file_belongs_is_refused_not_skipped(shared_cluster, tmp_path):
    """`-F images=photo.jpg` (no @) beside real files gets a 400 naming the field."""
    samples = make_samples(tmp_path / "samples")
    response = requests.post(
        f"{shared_cluster.master_url}/assign_task",
        data={"task_type": "image", "images": "photo.jpg"},
        files=[("images", ("real.jpg", samples["image"][0].read_bytes()))],
    )
    assert response.status_code == 400
    assert response.json()["field"] == "images"
    assert response.json()["error"].startswith("the field 'images' holds text")


def test_missing_task_type_means_image_as_before(shared_cluster, tmp_path):
    """A curl upload without task_type is an image task."""
    samples = make_samples(tmp_path / "samples")
    response = post_files(shared_cluster.master_url, "images", samples["image"])
    assert response.status_code == 200
    answer = response.json()
    assert answer["task_type"] == "image"
    assert answer["total_files_processed"] == 2
    for path in answer["saved_files"]:
        assert Path(path).read_bytes().startswith(PNG_MAGIC)


def test_files_in_the_wrong_field_are_reported_not_dropped(shared_cluster, tmp_path):
    """A file sent in another type's field gets an error of its own."""
    samples = make_samples(tmp_path / "samples")
    files = [
        ("images", ("gradient.jpg", samples["image"][0].read_bytes())),
        ("texts", ("notes.txt", b"some words")),
    ]
    response = requests.post(
        f"{shared_cluster.master_url}/assign_task",
        data={"task_type": "image"},
        files=files,
    )
    answer = response.json()
    assert answer["total_files_processed"] == 1
    assert answer["failed"][0]["filename"] == "notes.txt"
    assert "'texts'" in answer["failed"][0]["error"]


def test_results_never_overwrite_and_stay_in_the_results_folder(
    shared_cluster, tmp_path
):
    """Same names get numbered suffixes; folder parts of an upload name are dropped."""
    text = b"Plain words for analysis."
    names = [
        "report.txt",
        "report.txt",
        "../../escape/report.txt",
        "..\\..\\report.txt",
    ]
    files = [("texts", (name, text)) for name in names]
    answer = requests.post(
        f"{shared_cluster.master_url}/assign_task",
        data={"task_type": "text"},
        files=files,
    ).json()
    folder = shared_cluster.results_dir / "text"
    saved = sorted(Path(p).name for p in answer["saved_files"])
    assert len(saved) == 4 and len(set(saved)) == 4
    assert "report_analysis.json" in saved
    assert all(Path(p).parent == folder for p in answer["saved_files"])
    assert not list(folder.glob(".partial-*"))


@pytest.mark.parametrize(
    "task_type, folder",
    [
        ("image", "images"),
        ("ocr", "ocr"),
        ("text", "text"),
        ("embedding", "text"),
        ("audio", "audio"),
        ("document", "documents"),
    ],
)
def test_client_processes_every_corpus_file(shared_cluster, corpus, task_type, folder):
    """Every corpus file gets a stored result or the error it deserves."""
    from task_types import TASK_TYPES

    suffixes = TASK_TYPES[task_type].suffixes
    files = sorted(
        p for p in (corpus / folder).iterdir() if p.suffix.lower() in suffixes
    )
    result = run_client(shared_cluster.master_url, task_type, *files)

    expected_failures = {f.name for f in files} & set(EXPECTED_CORPUS_FAILURES)
    assert result.returncode == (1 if expected_failures else 0), result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(files) + 1
    for path, line in zip(files, lines):
        assert str(path) in line
        if path.name in expected_failures:
            assert line.startswith("FAILED")
            assert EXPECTED_CORPUS_FAILURES[path.name] in line
            continue
        assert line.startswith("ok"), line
        saved = Path(line.rsplit(" -> ", 1)[1])
        data = saved.read_bytes()
        if task_type == "image":
            assert data.startswith(PNG_MAGIC)
        else:
            assert json.loads(data)
    assert lines[-1].startswith(
        f"{len(files) - len(expected_failures)} of {len(files)}"
    )


def test_password_field_opens_an_encrypted_pdf(shared_cluster, corpus):
    """The password form field reaches the document processor."""
    pdf = corpus / "documents" / "libreoffice-writer-password.pdf"
    answer = post_files(
        shared_cluster.master_url,
        "documents",
        [pdf],
        task_type="document",
        password="openpassword",
    ).json()
    assert answer["failed"] == []
    result = json.loads(Path(answer["saved_files"][0]).read_text())
    assert result["format"] == "pdf"
    assert result["text"].strip()


def test_client_exit_codes(shared_cluster, tmp_path):
    """0 when all succeed, 2 for a missing path or an unreachable master."""
    samples = make_samples(tmp_path / "samples")
    ok = run_client(shared_cluster.master_url, "audio", *samples["audio"])
    assert ok.returncode == 0
    missing = run_client(shared_cluster.master_url, "audio", tmp_path / "nope.wav")
    assert missing.returncode == 2
    unreachable = run_client(
        f"http://127.0.0.1:{free_port()}", "audio", *samples["audio"]
    )
    assert unreachable.returncode == 2
    assert "cannot reach the master" in unreachable.stderr


def reference_vectors(texts: list[bytes]) -> np.ndarray:
    from slave_service.processors.decoding import decode_text
    from slave_service.processors.embedding import make_vectorizer

    decoded = [decode_text(t).text for t in texts]
    return make_vectorizer().fit_transform(decoded).toarray()


@pytest.mark.parametrize("slave_count", [1, 2, 3])
def test_embeddings_share_one_vector_space_whatever_the_slave_count(
    make_cluster, corpus, slave_count
):
    """Vectors equal one TfidfVectorizer fitted on all the request's texts."""
    cluster = make_cluster()
    cluster.start_master()
    for _ in range(slave_count):
        cluster.start_slave(SLAVE_WORKERS=1, SLAVE_TASK_TYPES="embedding")
    cluster.wait_for_slaves(slave_count)

    paths = sorted((corpus / "text").glob("*.txt"))
    answer = post_files(
        cluster.master_url, "texts", paths, task_type="embedding"
    ).json()
    assert answer["total_files_processed"] == len(paths)
    vectors = np.array(
        [json.loads(Path(p).read_text())["vector"] for p in answer["saved_files"]]
    )
    expected = reference_vectors([p.read_bytes() for p in paths])
    assert vectors.shape == expected.shape
    np.testing.assert_allclose(vectors, expected, rtol=0, atol=1e-9)


def test_no_capable_slave_gets_503(make_cluster, tmp_path):
    """OCR with only non-OCR slaves answers 503 saying tesseract is missing."""
    cluster = make_cluster()
    cluster.start_master()
    cluster.start_slave(SLAVE_TASK_TYPES="image,text")
    cluster.wait_for_slaves(1)
    samples = make_samples(tmp_path / "samples")
    response = post_files(cluster.master_url, "images", samples["ocr"], task_type="ocr")
    assert response.status_code == 503
    assert "tesseract" in response.json()["error"]


def test_slave_started_before_master_registers_once_it_is_up(make_cluster):
    """A slave keeps retrying while the master is down, then registers."""
    cluster = make_cluster()
    cluster.start_slave(SLAVE_TASK_TYPES="image")
    time.sleep(2)
    cluster.start_master()
    slaves = cluster.wait_for_slaves(1, timeout_s=15)
    assert slaves[0]["slave_port"] == cluster.slaves[0].port


def test_restarted_master_gets_its_slaves_back(make_cluster, tmp_path):
    """After a master restart the slaves re-register and take work again."""
    cluster = make_cluster()
    cluster.start_master()
    cluster.start_slave(SLAVE_TASK_TYPES="image")
    cluster.start_slave(SLAVE_TASK_TYPES="image")
    cluster.wait_for_slaves(2)

    cluster.master.stop()
    cluster.start_master()
    started = time.monotonic()
    cluster.wait_for_slaves(2, timeout_s=10)
    assert time.monotonic() - started < 5  # heartbeat interval is 1 s in tests

    samples = make_samples(tmp_path / "samples")
    answer = post_files(cluster.master_url, "images", samples["image"]).json()
    assert answer["total_files_processed"] == 2


def test_files_of_a_dead_slave_go_to_a_live_one(make_cluster, tmp_path):
    """A registered slave that refuses connections loses its chunk to the others."""
    cluster = make_cluster()
    cluster.start_master()
    cluster.start_slave(SLAVE_TASK_TYPES="text", SLAVE_WORKERS=1)
    cluster.wait_for_slaves(1)
    with StubSlave(task_types=["text"], workers=8) as stub:
        stub.register_with(cluster.master_url).raise_for_status()
    # The stub is gone: its port now refuses connections.

    files = [("texts", (f"t{n}.txt", f"text number {n}".encode())) for n in range(12)]
    answer = requests.post(
        f"{cluster.master_url}/assign_task", data={"task_type": "text"}, files=files
    ).json()
    assert answer["failed"] == []
    assert answer["total_files_processed"] == 12
    status = requests.get(f"{cluster.master_url}/check_status").json()
    dead = [s for s in status["slaves"] if s["workers"] == 8][0]
    assert dead["failures"] >= 1
    assert dead["files_done"] == 0
    assert dead["state"] == "failing"


def test_upload_limits_answer_json_naming_the_limit(make_cluster):
    """Too many files gets a 400 naming MAX_FILES; too many bytes a 413 naming MAX_UPLOAD_MB."""
    cluster = make_cluster()
    cluster.start_master(MAX_FILES=5, MAX_UPLOAD_MB=1)
    cluster.start_slave(SLAVE_TASK_TYPES="text")
    cluster.wait_for_slaves(1)

    many = [("texts", (f"t{n}.txt", b"words")) for n in range(6)]
    response = requests.post(
        f"{cluster.master_url}/assign_task", data={"task_type": "text"}, files=many
    )
    assert response.status_code == 400
    assert response.json()["limit"] == "MAX_FILES"

    parts = [("texts", (f"t{n}.txt", b"words")) for n in range(200)]
    response = requests.post(
        f"{cluster.master_url}/assign_task", data={"task_type": "text"}, files=parts
    )
    assert response.status_code == 400
    assert response.json()["limit"] == "MAX_FILES"

    big = [("texts", ("big.txt", b"x" * (2 * 1024 * 1024)))]
    response = requests.post(
        f"{cluster.master_url}/assign_task", data={"task_type": "text"}, files=big
    )
    assert response.status_code == 413
    assert response.json()["limit"] == "MAX_UPLOAD_MB"

    # Without a Content-Length the body is cut off where it passes the limit.
    chunks = (b"x" * 1024 * 1024 for _ in range(20))
    response = requests.post(
        f"{cluster.master_url}/assign_task",
        data=chunks,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413
    assert response.json()["limit"] == "MAX_UPLOAD_MB"


def test_master_leaves_no_temporary_files(make_cluster, tmp_path):
    """Spooled uploads are gone once a request ends, after success and after failure."""
    temporary = tmp_path / "master-tmp"
    temporary.mkdir()
    cluster = make_cluster()
    cluster.start_master(TMPDIR=temporary, MAX_UPLOAD_MB=2)
    cluster.start_slave(SLAVE_TASK_TYPES="text")
    cluster.wait_for_slaves(1)

    big_texts = [("texts", (f"t{n}.txt", b"word " * 200_000)) for n in range(3)]
    ok = requests.post(
        f"{cluster.master_url}/assign_task",
        data={"task_type": "text"},
        files=big_texts[:1],
    )
    assert ok.status_code == 200 and ok.json()["failed"] == []
    too_big = requests.post(
        f"{cluster.master_url}/assign_task", data={"task_type": "text"}, files=big_texts
    )
    assert too_big.status_code == 413
    assert list(temporary.iterdir()) == []


def test_slave_leaves_out_a_file_that_arrived_incomplete(shared_cluster):
    """A file whose size differs from the declared one is left for the master to resend."""
    slave_url = shared_cluster.slaves[0].url
    files = [("texts", ("whole.txt", b"all of it")), ("texts", ("cut.txt", b"part"))]
    form = {"task_type": "text", "file_id": ["1", "2"], "file_size": ["9", "100"]}
    answer = requests.post(f"{slave_url}/get_task", data=form, files=files).json()
    assert [r["file_id"] for r in answer["results"]] == ["1"]
    assert answer["errors"] == []


def test_a_file_part_without_a_name_is_processed_not_dropped(shared_cluster):
    """Bytes sent without a file name still get an outcome; an empty slot is ignored."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="task_type"\r\n\r\ntext\r\n'
        b'--b\r\nContent-Disposition: form-data; name="texts"; filename=""\r\n\r\n'
        b"words without a name\r\n"
        b'--b\r\nContent-Disposition: form-data; name="texts"; filename=""\r\n\r\n\r\n'
        b'--b\r\nContent-Disposition: form-data; name="texts"; filename="a.txt"\r\n'
        b"\r\nnamed words\r\n--b--\r\n"
    )
    response = requests.post(
        f"{shared_cluster.master_url}/assign_task",
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    answer = response.json()
    assert [f["filename"] for f in answer["files"]] == ["unnamed_upload_0", "a.txt"]
    assert answer["total_files_processed"] == 2


def test_more_files_than_werkzeugs_default_part_limit(shared_cluster):
    """1200 files in one request (Werkzeug allows 1000 form parts by default)."""
    files = [("texts", (f"n{n:04d}.txt", f"note {n}".encode())) for n in range(1200)]
    response = requests.post(
        f"{shared_cluster.master_url}/assign_task",
        data={"task_type": "text"},
        files=files,
        timeout=300,
    )
    answer = response.json()
    assert response.status_code == 200
    assert answer["total_files_processed"] == 1200
    assert answer["failed"] == []
