"""Opening uploaded images safely, shared by the image and OCR processors.

Limits: only the formats in ALLOWED_FORMATS are opened; others (EPS, PDF, ...) are
refused as unrecognised, so no external program such as Ghostscript is ever started.
A canvas over limits.MAX_IMAGE_PIXELS is refused before its pixels are decoded, and
Pillow's own text-chunk limits refuse PNG metadata that would unpack too far.
"""

import io
import logging
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, ImageOps, UnidentifiedImageError

from slave_service.errors import ProcessingError
from slave_service.processors.limits import MAX_IMAGE_PIXELS

logger = logging.getLogger(__name__)

# Pillow warns past this and refuses past twice this; the warning is made an error.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")
"""Pillow format names tried when opening an upload, matching the accepted suffixes."""

ORIENTATION_TAG = 0x0112

DECODING_ERRORS = (OSError, SyntaxError, ValueError, IndexError, struct.error, EOFError)
"""What Pillow's decoders raise for damaged or truncated data."""

SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"BM": "BMP",
}

BOMB_PIXELS_PATTERN = re.compile(r"\((\d+) pixels\)")


def too_large_error(pixel_count: int | None) -> ProcessingError:
    """The error for an image whose canvas exceeds MAX_IMAGE_PIXELS."""
    size = f"{pixel_count} pixels" if pixel_count is not None else "its canvas"
    return ProcessingError(
        f"the image is too large: {size} exceeds the limit of {MAX_IMAGE_PIXELS} "
        "pixels (MAX_IMAGE_PIXELS); it may be a decompression bomb"
    )


def claimed_format(data: bytes) -> str | None:
    """The format a file's first bytes announce, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for signature, format_name in SIGNATURES.items():
        if data.startswith(signature):
            return format_name
    return None


@contextmanager
def decoding_as_processing_errors() -> Iterator[None]:
    """Turn Pillow's errors for bombs and damaged data into ProcessingError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        match = BOMB_PIXELS_PATTERN.search(str(error))
        raise too_large_error(int(match.group(1)) if match else None) from None
    except DECODING_ERRORS as error:
        detail = str(error) or type(error).__name__
        raise ProcessingError(f"the image is damaged or truncated: {detail}") from None


def open_image(data: bytes, filename: str) -> Image.Image:
    """Open and fully decode the first frame of an image, or raise ProcessingError."""
    if not data:
        raise ProcessingError("the file is empty (0 bytes)")

    with decoding_as_processing_errors():
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except UnidentifiedImageError:
            format_name = claimed_format(data)
            if format_name is not None:
                raise ProcessingError(
                    "the image is damaged or truncated: it starts like a "
                    f"{format_name} file but its header cannot be read"
                ) from None
            logger.debug("%s: no allowed image format recognised", filename)
            accepted = ", ".join(ALLOWED_FORMATS)
            raise ProcessingError(
                f"the file is not a recognised image format (accepted: {accepted})"
            ) from None

        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise too_large_error(width * height)
        # Decode now so a truncated file fails here rather than half-way through.
        image.load()
    return image


def upright(image: Image.Image) -> Image.Image:
    """The current frame turned the way its EXIF orientation says.

    Only the current frame is returned: for an animation, call it on each frame.
    """
    try:
        orientation = image.getexif().get(ORIENTATION_TAG, 1)
        if orientation in (None, 1):
            return image
        return ImageOps.exif_transpose(image)
    except DECODING_ERRORS as error:
        logger.debug("Ignoring unreadable EXIF orientation: %s", error)
        return image
