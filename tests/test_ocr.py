"""Tests of the OCR processor on tesseract's own test pages."""

import difflib
import io
import json

import pytest
from PIL import Image
from pytesseract import TesseractError

from slave_service.errors import ProcessingError
from slave_service.processors import ocr


def png_bytes(picture: Image.Image) -> bytes:
    output = io.BytesIO()
    picture.save(output, "PNG")
    return output.getvalue()


def word_similarity(text: str, expected: str) -> float:
    return difflib.SequenceMatcher(None, text.split(), expected.split()).ratio()


@pytest.fixture(scope="module")
def phototest(corpus) -> dict:
    """The OCR result of phototest.tif, read once for the module."""
    path = corpus / "ocr" / "phototest.tif"
    return ocr.process(path.read_bytes(), "phototest.tif")


@pytest.fixture(scope="module")
def turned_phototests(corpus) -> dict[int, dict]:
    """OCR results of phototest.tif turned 90, 180 and 270 degrees clockwise."""
    page = Image.open(corpus / "ocr" / "phototest.tif")
    return {
        degrees: ocr.process(png_bytes(page.rotate(-degrees, expand=True)), "p.png")
        for degrees in (90, 180, 270)
    }


def test_phototest_reads_as_its_gold_text(corpus, phototest):
    """Tesseract 5.3 reads phototest.tif word for word as the gold text."""
    gold = (corpus / "ocr" / "phototest.gold.txt").read_text()

    assert phototest["text"].split() == gold.split()
    assert phototest["word_count"] == 60
    assert phototest["character_count"] == len(phototest["text"])
    assert phototest["text"].startswith("This is a lot of 12 point text to test the\n")


def test_text_keeps_lines_and_paragraphs(phototest):
    """Lines end with a line break and paragraphs are parted by a blank line."""
    paragraphs = phototest["text"].split("\n\n")

    assert len(paragraphs) == 2
    assert paragraphs[0].splitlines()[-1] == "of file format."
    assert len(paragraphs[1].splitlines()) == 5


def test_words_have_boxes_and_confidences(phototest):
    """Each word carries its box and a 0..100 confidence; the mean is a float."""
    first = phototest["words"][0]

    assert first["text"] == "This"
    assert (first["left"], first["top"], first["width"], first["height"]) == (
        36,
        92,
        60,
        24,
    )
    assert all(0 <= word["confidence"] <= 100 for word in phototest["words"])
    assert isinstance(phototest["mean_confidence"], float)
    assert 90 <= phototest["mean_confidence"] <= 100
    assert (phototest["image_width"], phototest["image_height"]) == (640, 480)
    json.dumps(phototest, allow_nan=False)


def test_upright_page_is_not_turned(phototest):
    """An upright page reports no rotation and OSD's confidence in that."""
    assert phototest["rotation_degrees"] == 0
    assert phototest["orientation_confidence"] > ocr.MIN_ORIENTATION_CONFIDENCE


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_turned_page_is_read_upright(corpus, turned_phototests, degrees):
    """A page turned clockwise is turned back, reported, and read as the gold text."""
    gold = (corpus / "ocr" / "phototest.gold.txt").read_text()
    result = turned_phototests[degrees]

    assert result["rotation_degrees"] == 360 - degrees
    assert result["text"].split() == gold.split()
    assert (result["image_width"], result["image_height"]) == (640, 480)


def test_eurotext_reads_mostly_right_in_three_languages(corpus):
    """eurotext.tif with eng+fra+deu matches at least 90 % of its words."""
    expected = (corpus / "ocr" / "eurotext.txt").read_text()

    data = (corpus / "ocr" / "eurotext.tif").read_bytes()

    result = ocr.process(data, "eurotext.tif", lang="eng+fra+deu")

    # Measured 0.909: only Spanish and Portuguese accents (no such language) differ.
    assert word_similarity(result["text"], expected) >= 0.9
    assert "über den faulen Hund. Le renard brun" in result["text"]
    assert result["lang"] == "eng+fra+deu"


def test_picture_without_text_gives_no_words(corpus):
    """A photo yields empty text, no mean confidence and no rotation."""
    result = ocr.process((corpus / "images" / "hopper.jpg").read_bytes(), "h.jpg")

    assert (result["text"], result["word_count"], result["words"]) == ("", 0, [])
    assert result["mean_confidence"] is None
    assert (result["rotation_degrees"], result["orientation_confidence"]) == (0, None)


def test_missing_language_names_it_and_the_installed_ones(corpus):
    """Asking for an uninstalled language says which, and lists what is installed."""
    data = (corpus / "images" / "hopper.png").read_bytes()

    with pytest.raises(ProcessingError, match=r"'xyz' is not installed.*eng.*fra"):
        ocr.process(data, "h.png", lang="eng+xyz")


def test_non_image_raises():
    """Text bytes are refused as an unrecognised image format."""
    with pytest.raises(ProcessingError, match="not a recognised image format"):
        ocr.process(b"The quick brown fox", "fox.png")


def test_empty_file_raises():
    """A 0-byte upload is refused as empty."""
    with pytest.raises(ProcessingError, match="empty"):
        ocr.process(b"", "empty.png")


def test_timeout_is_reported(corpus, monkeypatch):
    """A tesseract run over the time limit becomes a ProcessingError naming it."""
    monkeypatch.setattr(ocr, "TESSERACT_TIMEOUT_S", 0.01)

    with pytest.raises(ProcessingError, match=r"OCR timed out after 0.01 s"):
        ocr.process((corpus / "ocr" / "phototest.tif").read_bytes(), "p.tif")


def test_tesseract_error_is_reported(corpus, monkeypatch):
    """A failing tesseract run becomes a ProcessingError with tesseract's message."""

    def fail(*args, **kwargs):
        raise TesseractError(1, "Error in pixReadMem")

    monkeypatch.setattr(ocr.pytesseract, "image_to_data", fail)

    with pytest.raises(ProcessingError, match="tesseract failed: Error in pixReadMem"):
        ocr.process((corpus / "images" / "hopper.png").read_bytes(), "h.png")


def test_transparent_page_is_read_on_white(corpus):
    """Black text on a transparent background is laid on white and read."""
    page = Image.open(corpus / "ocr" / "phototest.tif").convert("L")
    transparent = Image.new("LA", page.size, (0, 0))
    transparent.putalpha(page.point(lambda value: 255 - value))

    result = ocr.process(png_bytes(transparent), "t.png")

    assert result["text"].split()[:4] == ["This", "is", "a", "lot"]
