"""The one table of task types, read by the master, the slaves and the client.

Importing this module loads no processor library: each row names its processor module
by dotted path, and the slave imports it on first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable


class OptionError(ValueError):
    """A form option has a value the task type cannot use."""


def parse_positive_int(value: str) -> int:
    # int() would also take " 5", "5_0" and other scripts' digits.
    digits = value.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        raise OptionError(f"must be a whole number, got {value!r}")
    number = int(value)
    if number < 1:
        raise OptionError(f"must be 1 or more, got {number}")
    return number


TESSERACT_LANG_PATTERN = re.compile(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*")


def parse_tesseract_lang(value: str) -> str:
    if not TESSERACT_LANG_PATTERN.fullmatch(value):
        raise OptionError(
            f"must be tesseract language codes joined by '+', such as 'eng' or "
            f"'eng+fra', got {value!r}"
        )
    return value


def parse_text(value: str) -> str:
    return value


@dataclass(frozen=True)
class Option:
    """A form field that tunes one task type."""

    name: str
    parse: Callable[[str], object]
    help: str


@dataclass(frozen=True)
class TaskType:
    name: str
    """What the client types, e.g. "ocr"."""
    upload_field: str
    """Multipart field that carries the files."""
    data_key: str
    """Key of the base64 result in a slave's answer."""
    result_name: str
    """Name of the stored result, formatted with the upload's stem."""
    processor: str
    """Dotted path of the processor module, imported by the slave on first use."""
    suffixes: tuple[str, ...]
    """File endings the client and the demo send to this type."""
    summary: str
    options: tuple[Option, ...] = ()
    required_program: str | None = None
    """Executable a slave must have on its PATH to offer this type."""
    whole_request: bool = False
    """True when all files of a request must be processed together by one call."""
    option_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "option_names", tuple(o.name for o in self.options))

    def result_filename(self, stem: str) -> str:
        return self.result_name.format(stem=stem)

    def parse_options(self, form: dict[str, str]) -> dict[str, object]:
        """Parse this type's options out of a form; raises OptionError naming the field."""
        parsed = {}
        for option in self.options:
            raw = form.get(option.name)
            if raw is None or raw == "":
                continue
            try:
                parsed[option.name] = option.parse(raw)
            except OptionError as error:
                raise OptionError(f"form field {option.name!r} {error}") from None
        return parsed


IMAGE_SUFFIXES = (
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
)
TEXT_SUFFIXES = (".txt", ".text", ".md", ".csv", ".log")

TASK_TYPES: dict[str, TaskType] = {
    t.name: t
    for t in (
        TaskType(
            name="image",
            upload_field="images",
            data_key="image_data",
            result_name="processed_{stem}.png",
            processor="slave_service.processors.image",
            suffixes=IMAGE_SUFFIXES,
            summary="grayscale PNG (EXIF-upright, alpha and animation kept)",
        ),
        TaskType(
            name="text",
            upload_field="texts",
            data_key="analysis_data",
            result_name="{stem}_analysis.json",
            processor="slave_service.processors.text",
            suffixes=TEXT_SUFFIXES,
            summary="encoding, counts, keywords and VADER sentiment of a text",
        ),
        TaskType(
            name="embedding",
            upload_field="texts",
            data_key="embedding_data",
            result_name="{stem}_embedding.json",
            processor="slave_service.processors.embedding",
            suffixes=TEXT_SUFFIXES,
            summary="TF-IDF vectors, all texts of a request in one vector space",
            options=(
                Option("max_features", parse_positive_int, "vocabulary size cap"),
            ),
            whole_request=True,
        ),
        TaskType(
            name="ocr",
            upload_field="images",
            data_key="ocr_data",
            result_name="{stem}_ocr.json",
            processor="slave_service.processors.ocr",
            suffixes=IMAGE_SUFFIXES,
            summary="text, confidence and word boxes read by tesseract, page turned upright",
            options=(
                Option(
                    "lang", parse_tesseract_lang, "tesseract languages, e.g. eng+fra"
                ),
            ),
            required_program="tesseract",
        ),
        TaskType(
            name="audio",
            upload_field="audio_files",
            data_key="audio_data",
            result_name="{stem}_audio_analysis.json",
            processor="slave_service.processors.audio",
            suffixes=(".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif"),
            summary="duration, levels, clipping, silence and spectrum of a recording",
        ),
        TaskType(
            name="document",
            upload_field="documents",
            data_key="document_data",
            result_name="{stem}_document_analysis.json",
            processor="slave_service.processors.document",
            suffixes=(".pdf", ".docx", ".txt"),
            summary="text, structure and metadata of a PDF, DOCX or plain text",
            options=(Option("password", parse_text, "password of an encrypted PDF"),),
        ),
    )
}

DEFAULT_TASK_TYPE = "image"


class UnknownTaskTypeError(KeyError):
    def __str__(self) -> str:
        return self.args[0]


UPLOAD_FIELDS = frozenset(task_type.upload_field for task_type in TASK_TYPES.values())


def text_in_file_field(field_names) -> str | None:
    """The first upload field among a form's text fields: text sent where files go."""
    return next((name for name in field_names if name in UPLOAD_FIELDS), None)


def get_task_type(name: str) -> TaskType:
    task_type = TASK_TYPES.get(name)
    if task_type is None:
        known = ", ".join(TASK_TYPES)
        raise UnknownTaskTypeError(
            f"unknown task type {name!r}; choose one of: {known}"
        )
    return task_type
