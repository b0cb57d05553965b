"""OCR processor: text, word boxes and confidences read by tesseract.

The page is first turned by its EXIF orientation, then by tesseract's orientation
detection (OSD), so a scan lying on its side or upside down is still read. The text is
rebuilt from the same single tesseract run that gives the word boxes: words joined by
spaces, lines by line breaks, paragraphs by a blank line. character_count counts the
characters of that text, spaces and line breaks included.

Limits: only the first page of a multi-page TIFF is read. Only the languages whose
tesseract data is installed on the slave can be used. Rotations other than multiples
of 90 degrees (a slightly skewed scan) are not corrected. Pages with too little text
for OSD, or whose OSD confidence is under MIN_ORIENTATION_CONFIDENCE, are read as
they are. limits.TESSERACT_TIMEOUT_S (env TESSERACT_TIMEOUT_S) applies to each of the
two tesseract runs (OSD, then the reading); a page dense with small text can take
minutes. Images with a side over TESSERACT_MAX_SIDE_PIXELS are refused, as tesseract
cannot read them, and so are those over limits.MAX_IMAGE_PIXELS.
"""

import functools
import logging
from collections.abc import Callable

import pytesseract
from PIL import Image
from pytesseract import Output, TesseractError

from slave_service.errors import ProcessingError
from slave_service.processors.image import to_gray
from slave_service.processors.imaging import open_image, upright
from slave_service.processors.limits import TESSERACT_TIMEOUT_S

logger = logging.getLogger(__name__)

TESSERACT_MAX_SIDE_PIXELS = 32767
"""Widest and tallest image tesseract reads; it fails on a longer side."""

MIN_ORIENTATION_CONFIDENCE = 2.0
"""Lowest OSD confidence for which the page is turned.

Text pages, upright or turned, measured 9 to 30; the cut-off is set well below that
so a weak guess on a page with little text does not turn a page that was upright.
"""

TESSERACT_MODES = ("1", "L", "RGB")
"""Image modes handed to tesseract unchanged; others are made gray first."""

WORD_LEVEL = 5
"""Row level of a word in tesseract's TSV output."""

TRANSPOSE_FOR_ROTATION = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}
"""OSD's "rotate" is clockwise degrees; Pillow's ROTATE_* turn counter-clockwise."""


@functools.cache
def installed_languages() -> tuple[str, ...]:
    """Tesseract's installed languages, asked once per process."""
    return tuple(sorted(pytesseract.get_languages(config="")))


def check_languages(lang: str) -> None:
    """Raise ProcessingError unless every '+'-joined language of lang is installed."""
    installed = installed_languages()
    for language in lang.split("+"):
        if language not in installed:
            raise ProcessingError(
                f"the OCR language {language!r} is not installed; installed languages: "
                f"{', '.join(installed)}"
            )


def run_tesseract(function: Callable, image: Image.Image, **options):
    """Call a pytesseract function with the time limit; a timeout is ProcessingError."""
    try:
        return function(image, timeout=TESSERACT_TIMEOUT_S, **options)
    except TesseractError:
        raise
    except RuntimeError as error:
        # pytesseract reports its own timeout as a bare RuntimeError.
        if "timeout" not in str(error).lower():
            raise
        raise ProcessingError(
            f"OCR timed out after {TESSERACT_TIMEOUT_S:g} s (TESSERACT_TIMEOUT_S)"
        ) from None


def check_side_lengths(image: Image.Image) -> None:
    """Raise ProcessingError for an image too wide or tall for tesseract."""
    width, height = image.size
    if max(width, height) > TESSERACT_MAX_SIDE_PIXELS:
        raise ProcessingError(
            f"the image is {width}x{height} pixels, but tesseract reads at most "
            f"{TESSERACT_MAX_SIDE_PIXELS} pixels a side; cut it into smaller images"
        )


def readable_by_tesseract(image: Image.Image) -> Image.Image:
    """The image in a mode tesseract reads well, transparency laid on white."""
    if image.mode in TESSERACT_MODES:
        return image
    gray = to_gray(image)
    if gray.mode == "LA":
        page = Image.new("L", gray.size, 255)
        page.paste(gray.getchannel("L"), mask=gray.getchannel("A"))
        return page
    return gray


def detect_rotation(image: Image.Image) -> tuple[int, float | None]:
    """Clockwise degrees that turn the page upright, and OSD's confidence in that."""
    try:
        osd = run_tesseract(pytesseract.image_to_osd, image, output_type=Output.DICT)
    except TesseractError as error:
        # Raised for pages with too little text, such as photos or blank pages.
        logger.debug("Orientation detection found nothing: %s", error.message)
        return 0, None

    confidence = float(osd.get("orientation_conf", 0.0))
    rotation = int(osd.get("rotate", 0)) % 360
    if confidence < MIN_ORIENTATION_CONFIDENCE:
        return 0, confidence
    return rotation, confidence


def read_words(image: Image.Image, lang: str) -> tuple[list[dict], str]:
    """Word boxes and the page text, from one tesseract run."""
    try:
        table = run_tesseract(
            pytesseract.image_to_data, image, lang=lang, output_type=Output.DICT
        )
    except TesseractError as error:
        raise ProcessingError(f"tesseract failed: {error.message}") from None

    words, lines = [], {}
    for row in range(len(table["text"])):
        text = str(table["text"][row]).strip()
        if table["level"][row] != WORD_LEVEL or not text:
            continue
        words.append(
            {
                "text": text,
                "left": int(table["left"][row]),
                "top": int(table["top"][row]),
                "width": int(table["width"][row]),
                "height": int(table["height"][row]),
                "confidence": round(float(table["conf"][row]), 2),
            }
        )
        paragraph = (table["block_num"][row], table["par_num"][row])
        lines.setdefault(paragraph, {}).setdefault(table["line_num"][row], []).append(
            text
        )

    paragraphs = [
        "\n".join(" ".join(line) for line in paragraph_lines.values())
        for paragraph_lines in lines.values()
    ]
    return words, "\n\n".join(paragraphs)


def process(data: bytes, filename: str, lang: str = "eng") -> dict:
    """Text, words with boxes and confidences, and the rotation applied to the page."""
    check_languages(lang)
    image = open_image(data, filename)
    check_side_lengths(image)
    image = readable_by_tesseract(upright(image))

    rotation, orientation_confidence = detect_rotation(image)
    if rotation in TRANSPOSE_FOR_ROTATION:
        image = image.transpose(TRANSPOSE_FOR_ROTATION[rotation])
    words, text = read_words(image, lang)

    confidences = [word["confidence"] for word in words if word["confidence"] >= 0]
    mean_confidence = sum(confidences) / len(confidences) if confidences else None
    return {
        "filename": filename,
        "lang": lang,
        "text": text,
        "word_count": len(words),
        "character_count": len(text),
        "mean_confidence": round(mean_confidence, 2) if confidences else None,
        "words": words,
        "rotation_degrees": rotation,
        "orientation_confidence": orientation_confidence,
        "image_width": image.width,
        "image_height": image.height,
    }
