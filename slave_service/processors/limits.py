"""Limits on what the processors accept, each read once from an environment variable.

A worker reads these when it first imports a processor, so a changed variable takes
effect when the slave is restarted. Sizes are set in megabytes of 1024 * 1024 bytes and
held here in bytes. A value that is not a positive number stops the import with an
error naming the variable. Every limit a file exceeds is reported to the sender with
the variable that raises it.
"""

import math
import os

BYTES_PER_MB = 1024 * 1024
BYTES_PER_GB = 1024 * BYTES_PER_MB


def read_positive_number(variable: str, default: int | float, parse=int):
    """The variable's value parsed by parse, or default when unset or empty."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value is None or not value > 0 or not math.isfinite(value):
        raise ValueError(
            f"{variable}={raw!r} is not valid: it must be a number greater than 0 "
            f"(default {default})"
        )
    return value


MAX_IMAGE_PIXELS = read_positive_number("MAX_IMAGE_PIXELS", 89_478_485)
"""Largest width * height of an image, in pixels (env MAX_IMAGE_PIXELS).

The default is Pillow's; a bigger canvas is likely a decompression bomb, a small file
that would unpack to gigabytes. An animation may hold twice this over all its frames.
"""

MAX_TEXT_BYTES = int(read_positive_number("MAX_TEXT_MB", 50, float) * BYTES_PER_MB)
"""Largest text file, in bytes (env MAX_TEXT_MB, in MB).

Applies to the text and embedding processors and to plain-text documents.
"""

MAX_ZIP_UNCOMPRESSED_BYTES = int(
    read_positive_number("MAX_ZIP_UNCOMPRESSED_MB", 512, float) * BYTES_PER_MB
)
"""Largest total size the parts of a DOCX may unpack to, in bytes (env in MB).

Read from the ZIP's central directory before any part is unpacked.
"""

MAX_ZIP_COMPRESSION_RATIO = read_positive_number(
    "MAX_ZIP_COMPRESSION_RATIO", 200, parse=float
)
"""Largest unpacked-to-packed size ratio of one DOCX part (env of the same name).

Word's XML packs 5 to 20 times smaller; only a ZIP bomb packs hundreds of times.
"""

ZIP_RATIO_MIN_PART_BYTES = BYTES_PER_MB
"""Parts that unpack to less than this many bytes are not held to the ratio.

A small part of repeated markup can pack very tightly yet costs nothing to unpack.
"""

MAX_PDF_PAGES = read_positive_number("MAX_PDF_PAGES", 2000)
"""Most pages a PDF may have (env MAX_PDF_PAGES)."""

MAX_PDF_STREAM_BYTES = int(
    read_positive_number("MAX_PDF_STREAM_MB", 256, float) * BYTES_PER_MB
)
"""Largest size of one PDF stream, stored or decompressed, in bytes (env in MB)."""

MAX_AUDIO_SAMPLES = read_positive_number("MAX_AUDIO_SAMPLES", 2**27)
"""Most samples (frames times channels) decoded from a recording (env of the same name).

The whole recording is decoded as float64: the default is 1 GiB, ~25 min of CD audio.
"""

TESSERACT_TIMEOUT_S = read_positive_number("TESSERACT_TIMEOUT_S", 120, parse=float)
"""Seconds one tesseract run may take before the file is given up (env in seconds).

OCR runs tesseract twice per file (orientation, then reading); FILE_TIMEOUT still
bounds the whole file.
"""


def describe_bytes(count: int) -> str:
    """A size for messages, rounded up so a size over a limit never reads as equal."""
    for unit, name in ((BYTES_PER_GB, "GB"), (BYTES_PER_MB, "MB"), (1024, "KB")):
        if count >= unit:
            tenths = math.ceil(count * 10 / unit)
            return f"{tenths / 10:.1f}".removesuffix(".0") + f" {name}"
    return f"{count} bytes"
