"""Tests of result storage: safe names, atomic writes that never replace a file."""

import os
import subprocess
import sys
import threading

import pytest

from master_service.storage import MAX_STEM_BYTES, safe_name, safe_stem, write_new_file
from task_types import TASK_TYPES

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Upload name, its safe stem, its safe name (what the slave is sent).
HOSTILE_NAMES = [
    ("../../x.png", "x", "x.png"),
    ("/etc/passwd", "passwd", "passwd"),
    ("C:\\Users\\a\\x.png", "x", "x.png"),
    # what Werkzeug makes of that name when a client sends its backslashes unescaped
    ("C:Usersax.png", "C_Usersax", "C_Usersax.png"),
    ("a\x00b.txt", "a_b", "a_b.txt"),
    ("\x00", "file", "file"),
    ("ctl\x01\x1f\x7f.txt", "ctl", "ctl.txt"),
    ("a\nb\x00c/../d.txt", "d", "d.txt"),
    ("new%0Aline.txt", "new_0Aline", "new_0Aline.txt"),
    ("\u202egnp.exe", "gnp", "gnp.exe"),
    ("x" * 296 + ".txt", "x" * 150, "x" * 150 + ".txt"),
    ("я" * 296 + ".txt", "я" * 75, "я" * 75 + ".txt"),
    ("中" * 296 + ".txt", "中" * 50, "中" * 50 + ".txt"),
    ("отчёт.txt", "отчёт", "отчёт.txt"),
    ("письмо.txt", "письмо", "письмо.txt"),
    ("CON", "CON_", "CON_"),
    ("aux.txt", "aux_", "aux_.txt"),
    ("nul.png", "nul_", "nul_.png"),
    ("COM1", "COM1_", "COM1_"),
    ("LPT9.txt", "LPT9_", "LPT9_.txt"),
    ("", "file", "file"),
    ("...", "file", "file"),
    ("$$$.txt", "file", "file.txt"),
    ("-rf.txt", "rf", "rf.txt"),
]
WINDOWS_DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789¹²³"
}


def is_portable_file_name(name: str) -> bool:
    """True if name is one plain file name on Linux and on Windows alike."""
    return (
        name not in ("", ".", "..")
        and not any(c in name for c in '<>:"/\\|?*')
        and all(ord(c) >= 32 for c in name)
        and not name.endswith((".", " "))
        and name.split(".")[0].upper() not in WINDOWS_DEVICE_NAMES
        and len(name.encode()) <= 255
    )


@pytest.mark.parametrize(
    "upload_name, stem, name", HOSTILE_NAMES, ids=lambda v: ascii(v)[:20]
)
def test_hostile_upload_names_get_safe_stems_and_names(upload_name, stem, name):
    """Each hostile upload name gives the stem and the name verified by hand."""
    assert safe_stem(upload_name) == stem
    assert safe_name(upload_name) == name


@pytest.mark.parametrize("task_type", list(TASK_TYPES))
def test_hostile_upload_names_give_portable_result_names(task_type):
    """Result names and names sent to slaves are plain names on Linux and Windows."""
    for upload_name, _, _ in HOSTILE_NAMES:
        result_name = TASK_TYPES[task_type].result_filename(safe_stem(upload_name))

        assert is_portable_file_name(result_name), (upload_name, result_name)
        assert is_portable_file_name(safe_name(upload_name)), upload_name


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


@pytest.mark.parametrize(
    "upload_name",
    ["", ".", "..", "...", "._.", "a/", "???", "$$$.txt", '".txt', "\x00", "-", "._-"],
)
def test_safe_stem_gives_file_for_empty_names(upload_name):
    """A name with nothing usable left gives "file"."""
    assert safe_stem(upload_name) == "file"


@pytest.mark.parametrize(
    "upload_name, stem",
    [
        ("CON", "CON_"),
        ("con", "con_"),
        ("Con.TXT", "Con_"),
        ("aUx.tar.gz", "aUx_.tar"),
        ("CON .txt", "CON_"),
        ("prn.", "prn_"),
        ("lpt0", "lpt0_"),
        ("com¹.txt", "com¹_"),
        ("dir/NUL.png", "NUL_"),
        # names that only look like devices stay as they are
        ("CONSOLE.txt", "CONSOLE"),
        ("COM10.txt", "COM10"),
        ("nully.png", "nully"),
        ("x.con", "x"),
    ],
)
def test_safe_stem_moves_windows_device_names_aside(upload_name, stem):
    """A stem Windows would take for a device (CON, aux, COM1...) gets a "_"."""
    assert safe_stem(upload_name) == stem


def test_safe_stem_strips_leading_dashes():
    """A result never starts with "-", so no shell command takes it for an option."""
    assert safe_stem("-rf.txt") == "rf"
    assert safe_stem("--help") == "help"
    assert safe_stem("a-b-.txt") == "a-b-"


@pytest.mark.parametrize(
    "upload_name, name",
    [
        (".bashrc", "bashrc"),
        ("x/.png", "png"),
        ("dir.d/name", "name"),
        ("C:\\a.d\\name", "name"),
        ("a.t\x00xt", "a"),
        ("a.ЖЖ", "a"),
        ("a.abcdefghijk", "a"),
        ("a.abcdefghij", "a.abcdefghij"),
        ("archive.tar.gz", "archive.tar.gz"),
    ],
)
def test_safe_name_keeps_only_a_plain_suffix_of_the_last_part(upload_name, name):
    """The suffix comes from the last path part: up to 10 ASCII letters and digits."""
    assert safe_name(upload_name) == name


def test_two_cyrillic_names_give_two_recognisable_results(tmp_path):
    """Names of Cyrillic letters only keep their letters, so they do not collide."""
    names = [
        TASK_TYPES["text"].result_filename(safe_stem(upload_name))
        for upload_name in ("отчёт.txt", "письмо.txt")
    ]

    paths = [write_new_file(tmp_path, name, b"{}") for name in names]

    assert [p.name for p in paths] == ["отчёт_analysis.json", "письмо_analysis.json"]


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


@pytest.mark.parametrize(
    "name", ["../escaped.json", "a/b.json", "..\\escaped.json", "..", ".", "", "a\x00b"]
)
def test_write_new_file_refuses_names_with_folder_parts(tmp_path, name):
    """A name that is not one plain file name is refused; nothing is written."""
    with pytest.raises(ValueError, match="not a plain file name"):
        write_new_file(tmp_path / "text", name, b"{}")

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("task_type", ["image", "text"])
def test_hostile_uploads_get_distinct_results_in_their_folder(tmp_path, task_type):
    """Results of all hostile names land in the folder, one file each, numbered."""
    folder = tmp_path / "results" / task_type
    names = [
        TASK_TYPES[task_type].result_filename(safe_stem(upload_name))
        for upload_name, _, _ in HOSTILE_NAMES
    ]

    paths = [write_new_file(folder, name, b"r") for name in names]

    assert all(path.parent == folder for path in paths)
    assert len(set(paths)) == len(HOSTILE_NAMES)
    assert sorted(tmp_path.rglob("*")) == sorted([folder.parent, folder, *paths])
    # "\x00", "", "..." and "$$$.txt" share the stem "file"; the two x.png share "x"
    expected = {
        "text": {"file_analysis_3.json", "x_analysis_1.json", "CON__analysis.json"},
        "image": {"processed_file_3.png", "processed_x_1.png", "processed_CON_.png"},
    }[task_type]
    assert expected <= {path.name for path in paths}


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
