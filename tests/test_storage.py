"""Tests of result storage: safe names, atomic writes that never replace a file."""

import os
import subprocess
import sys
import threading

import pytest

from master_service.storage import MAX_STEM_BYTES, safe_stem, write_new_file
from task_types import TASK_TYPES

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize(
    "upload_name, stem",
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("..\\..\\windows\\win.ini", "win"),
        ("C:\\Users\\ann\\report.pdf", "report"),
        ("dir/sub\\mixed.txt", "mixed"),
    ],
)
def test_safe_stem_drops_folder_parts(upload_name, stem):
    """Only the last part of a Unix or Windows path is kept."""
    assert safe_stem(upload_name) == stem


@pytest.mark.parametrize(
    "upload_name, stem",
    [
        ("a b$c*?.txt", "a_b_c"),
        ("semi;colon|pipe.csv", "semi_colon_pipe"),
        ('quote"and<angle>.png', "quote_and_angle"),
        ("tab\tnew\nline.txt", "tab_new_line"),
        ("keep-dash_under.score.txt", "keep-dash_under.score"),
    ],
)
def test_safe_stem_replaces_unsafe_characters(upload_name, stem):
    """Each run of characters other than letters, digits, '.', '-', '_' becomes '_'."""
    assert safe_stem(upload_name) == stem


@pytest.mark.parametrize(
    "upload_name, stem",
    [
        ("отчёт.txt", "отчёт"),
        ("日本語のファイル.png", "日本語のファイル"),
        ("Müller café.docx", "Müller_café"),
    ],
)
def test_safe_stem_keeps_unicode_letters(upload_name, stem):
    """Letters of any script stay as they are."""
    assert safe_stem(upload_name) == stem


def test_safe_stem_normalises_combining_accents():
    """A decomposed "ö" (o + combining diaeresis) becomes the single character."""
    assert safe_stem("o\u0308l.txt") == "\u00f6l"


@pytest.mark.parametrize("upload_name", ["", ".", "..", "...", "._.", "a/", "???"])
def test_safe_stem_gives_file_for_empty_names(upload_name):
    """A name with nothing usable left gives "file"."""
    assert safe_stem(upload_name) == "file"


def test_safe_stem_drops_only_the_last_suffix():
    """Only the final suffix goes; leading dots of hidden files are stripped."""
    assert safe_stem("archive.tar.gz") == "archive.tar"
    assert safe_stem(".bashrc") == "bashrc"
    assert safe_stem("name.") == "name"


@pytest.mark.parametrize(
    "upload_name, stem",
    [
        ("x" * 300 + ".txt", "x" * 150),
        ("я" * 200 + ".txt", "я" * 75),
        ("中" * 200 + ".txt", "中" * 50),
        # the 150th byte falls inside a character, which is dropped whole
        ("a" + "中" * 100 + ".txt", "a" + "中" * 49),
        # a cut that ends in "." or "_" loses it too
        ("x" * 149 + "_y.txt", "x" * 149),
    ],
)
def test_safe_stem_caps_length_in_bytes(upload_name, stem):
    """A long name is cut to MAX_STEM_BYTES bytes of UTF-8, on a character boundary."""
    assert MAX_STEM_BYTES == 150
    assert safe_stem(upload_name) == stem


@pytest.mark.parametrize("task_type", list(TASK_TYPES))
@pytest.mark.parametrize("character", ["x", "я", "中", "😀"])
def test_long_name_gives_a_writable_result_name(tmp_path, task_type, character):
    """A 200-character upload name still gives result files that fit the name limit."""
    name = TASK_TYPES[task_type].result_filename(safe_stem(character * 200 + ".txt"))

    first = write_new_file(tmp_path, name, b"one")
    second = write_new_file(tmp_path, name, b"two")

    assert first.read_bytes() == b"one"
    assert second.read_bytes() == b"two"
    assert len(second.name.encode()) <= 255


def test_write_new_file_never_overwrites(tmp_path):
    """The second and third writes of one name get name_1.ext and name_2.ext."""
    paths = [write_new_file(tmp_path, "r.json", data) for data in (b"1", b"2", b"3")]

    assert [p.name for p in paths] == ["r.json", "r_1.json", "r_2.json"]
    assert [p.read_bytes() for p in paths] == [b"1", b"2", b"3"]


def test_write_new_file_numbers_names_without_suffix(tmp_path):
    """A name without a dot gets _1 at its end."""
    write_new_file(tmp_path, "result", b"a")

    assert write_new_file(tmp_path, "result", b"b").name == "result_1"


def test_write_new_file_creates_the_folder(tmp_path):
    """Missing folders are made."""
    path = write_new_file(tmp_path / "text" / "deeper", "a.json", b"{}")

    assert path == tmp_path / "text" / "deeper" / "a.json"
    assert path.read_bytes() == b"{}"


def test_write_new_file_leaves_no_partial_files(tmp_path):
    """Only the result files remain in the folder after writing."""
    for _ in range(3):
        write_new_file(tmp_path, "r.png", b"data")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.png", "r_1.png", "r_2.png"]


def test_write_new_file_mode_follows_current_umask(tmp_path):
    """The result's mode follows the umask, not mkstemp's owner-only 0600."""
    umask = os.umask(0)
    os.umask(umask)

    path = write_new_file(tmp_path, "r.json", b"{}")

    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize(
    "umask, mode", [(0o002, 0o664), (0o022, 0o644), (0o027, 0o640)]
)
def test_write_new_file_mode_follows_umask_at_start(tmp_path, umask, mode):
    """In a process started with a given umask, results get 0666 minus that umask."""
    script = (
        "import os, sys; from pathlib import Path\n"
        "from master_service.storage import write_new_file\n"
        "path = write_new_file(Path(sys.argv[1]), 'r.json', b'{}')\n"
        "print(oct(path.stat().st_mode & 0o777))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(umask),
        timeout=30,
    )

    assert finished.stdout.strip() == oct(mode), finished.stderr


def test_concurrent_writes_of_one_name_get_distinct_files(tmp_path):
    """8 threads writing the same name at once get 8 files, each with its own bytes."""
    thread_count = 8
    start_together = threading.Barrier(thread_count)
    paths = {}

    def write(number: int) -> None:
        data = f"writer {number} ".encode() * 1000
        start_together.wait()
        paths[number] = write_new_file(tmp_path, "same.json", data)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(thread_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    expected_names = {"same.json"} | {f"same_{n}.json" for n in range(1, 8)}
    assert {p.name for p in paths.values()} == expected_names
    for number, path in paths.items():
        assert path.read_bytes() == f"writer {number} ".encode() * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(expected_names)


def test_many_writes_of_one_name_do_not_retry_taken_names(tmp_path, monkeypatch):
    """The 500th copy of a name does not try the 499 names before it again."""
    links = []
    real_link = os.link

    def counting_link(source, target):
        links.append(target)
        return real_link(source, target)

    monkeypatch.setattr(os, "link", counting_link)
    paths = [write_new_file(tmp_path, "same.json", b"x") for _ in range(500)]

    assert paths[-1].name == "same_499.json"
    assert len(links) == 501  # one collision, at the second write
