"""Tests of the task type table shared by the master, the slaves and the client."""

import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from task_types import (
    DEFAULT_TASK_TYPE,
    TASK_TYPES,
    OptionError,
    UnknownTaskTypeError,
    get_task_type,
)

REPO_DIR = Path(__file__).resolve().parent.parent
HEAVY_MODULES = ["PIL", "numpy", "sklearn", "pytesseract", "pypdf", "docx", "soundfile"]

# name: (upload field, data key, result name of the stem "scan")
ESTABLISHED_INTERFACE = {
    "image": ("images", "image_data", "processed_scan.png"),
    "text": ("texts", "analysis_data", "scan_analysis.json"),
    "embedding": ("texts", "embedding_data", "scan_embedding.json"),
    "ocr": ("images", "ocr_data", "scan_ocr.json"),
    "audio": ("audio_files", "audio_data", "scan_audio_analysis.json"),
    "document": ("documents", "document_data", "scan_document_analysis.json"),
}


def test_import_loads_no_processor_library():
    """`import task_types` in a fresh interpreter loads no heavy library."""
    script = (
        "import json, sys\n"
        "import task_types\n"
        f"heavy = {HEAVY_MODULES!r}\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in heavy]\n"
        "print(json.dumps(sorted(loaded)))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout) == []


def test_names_fields_keys_and_result_names():
    """Every task type keeps the field, data key and result name clients rely on."""
    actual = {
        name: (t.upload_field, t.data_key, t.result_filename("scan"))
        for name, t in TASK_TYPES.items()
    }

    assert actual == ESTABLISHED_INTERFACE
    assert list(TASK_TYPES) == [
        "image",
        "text",
        "embedding",
        "ocr",
        "audio",
        "document",
    ]
    assert DEFAULT_TASK_TYPE == "image"


def test_only_embedding_is_whole_request_and_only_ocr_needs_a_program():
    """Embedding processes a request's files together; OCR needs tesseract."""
    assert [n for n, t in TASK_TYPES.items() if t.whole_request] == ["embedding"]
    assert {
        n: t.required_program for n, t in TASK_TYPES.items() if t.required_program
    } == {"ocr": "tesseract"}


def test_option_names():
    """Options are max_features (embedding), lang (ocr) and password (document)."""
    assert {n: t.option_names for n, t in TASK_TYPES.items()} == {
        "image": (),
        "text": (),
        "embedding": ("max_features",),
        "ocr": ("lang",),
        "audio": (),
        "document": ("password",),
    }


@pytest.mark.parametrize("name", list(TASK_TYPES))
def test_processor_module_exists_and_exposes_its_function(name):
    """Each row's processor module is found and has process, or process_batch."""
    task_type = TASK_TYPES[name]
    assert importlib.util.find_spec(task_type.processor) is not None

    module = importlib.import_module(task_type.processor)

    function_name = "process_batch" if task_type.whole_request else "process"
    assert callable(getattr(module, function_name, None))


@pytest.mark.parametrize("name", list(TASK_TYPES))
def test_suffixes_are_lower_case_with_a_dot(name):
    """Suffixes start with a dot and are lower case, as the demo compares them."""
    suffixes = TASK_TYPES[name].suffixes

    assert suffixes
    assert all(s.startswith(".") and s == s.lower() for s in suffixes)


def test_get_task_type_returns_the_row():
    """A known name gives its row."""
    assert get_task_type("ocr") is TASK_TYPES["ocr"]


def test_get_task_type_error_lists_valid_names():
    """An unknown name raises UnknownTaskTypeError listing every valid name."""
    with pytest.raises(UnknownTaskTypeError) as raised:
        get_task_type("pdf")

    assert str(raised.value) == (
        "unknown task type 'pdf'; choose one of: "
        "image, text, embedding, ocr, audio, document"
    )
    assert isinstance(raised.value, KeyError)


def test_parse_options_reads_valid_values():
    """Valid options are converted; empty and absent ones are left out."""
    assert TASK_TYPES["embedding"].parse_options({"max_features": "50"}) == {
        "max_features": 50
    }
    assert TASK_TYPES["embedding"].parse_options({"max_features": ""}) == {}
    assert TASK_TYPES["ocr"].parse_options({"lang": "eng+fra"}) == {"lang": "eng+fra"}
    assert TASK_TYPES["document"].parse_options({"password": " p w "}) == {
        "password": " p w "
    }


def test_parse_options_ignores_other_types_options():
    """A form field of another task type is not passed on."""
    assert TASK_TYPES["text"].parse_options({"lang": "eng", "max_features": "5"}) == {}


@pytest.mark.parametrize(
    "raw, message",
    [
        ("0", "form field 'max_features' must be 1 or more, got 0"),
        ("-3", "form field 'max_features' must be 1 or more, got -3"),
        ("many", "form field 'max_features' must be a whole number, got 'many'"),
        ("1.5", "form field 'max_features' must be a whole number, got '1.5'"),
    ],
)
def test_parse_options_rejects_bad_max_features(raw, message):
    """A max_features that is not a positive whole number names the field."""
    with pytest.raises(OptionError) as raised:
        TASK_TYPES["embedding"].parse_options({"max_features": raw})

    assert str(raised.value) == message


@pytest.mark.parametrize(
    "raw", ["eng+", "+eng", "eng fra", "../eng", "eng;ls", "eng\n"]
)
def test_parse_options_rejects_bad_lang(raw):
    """A lang that is not codes joined by '+' names the field and the bad value."""
    with pytest.raises(OptionError) as raised:
        TASK_TYPES["ocr"].parse_options({"lang": raw})

    assert str(raised.value) == (
        "form field 'lang' must be tesseract language codes joined by '+', such as "
        f"'eng' or 'eng+fra', got {raw!r}"
    )


@pytest.mark.parametrize("value", [" 5", "5_0", "\u0665", "+5", "5.0", ""])
def test_max_features_takes_plain_ascii_digits_only(value):
    """int() would take some of these; the option does not."""
    options = {"max_features": value}
    if value == "":
        assert TASK_TYPES["embedding"].parse_options(options) == {}
        return
    with pytest.raises(OptionError, match="must be a whole number"):
        TASK_TYPES["embedding"].parse_options(options)
