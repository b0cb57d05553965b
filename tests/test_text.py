"""Tests of the text processor on a small hand-counted text and the corpus texts."""

import json
import math

import pytest

from slave_service.errors import ProcessingError
from slave_service.processors import text
from tests.conftest import CORPUS_TEXT_NAMES

SMALL_TEXT = (
    "The cat sat on the mat. The cat didn't move!\n"
    "\n"
    "Dogs bark loudly? Yes.\n"
    "A second line here 42 times.\n"
)


def analyse(content: str, filename: str = "small.txt") -> dict:
    return text.process(content.encode("utf-8"), filename)


def test_small_text_counts():
    """Counts of a short text match the ones made by hand."""
    result = analyse(SMALL_TEXT)

    assert result["filename"] == "small.txt"
    assert result["encoding"] == "utf_8"
    assert result["encoding_method"] == "utf-8"
    assert result["characters"] == 98
    assert result["words"] == 20
    assert result["sentences"] == 5
    assert result["paragraphs"] == 2
    assert result["lines"] == 4
    # the, cat, sat, on, mat, didn't, move, dogs, bark, loudly, yes, a, second, line,
    # here, 42, times
    assert result["unique_words"] == 17
    assert result["average_word_length"] == 3.6


def test_small_text_keywords():
    """Stop words ("the", "on", "move", "here"), "a" and "42" are left out."""
    keywords = analyse(SMALL_TEXT)["keywords"]

    assert keywords == [
        {"word": "cat", "count": 2},
        {"word": "sat", "count": 1},
        {"word": "mat", "count": 1},
        {"word": "didn't", "count": 1},
        {"word": "dogs", "count": 1},
        {"word": "bark", "count": 1},
        {"word": "loudly", "count": 1},
        {"word": "yes", "count": 1},
        {"word": "second", "count": 1},
        {"word": "line", "count": 1},
    ]


def test_older_keys_repeat_the_new_ones():
    """word_count, common_words and the like carry the same values as the new keys."""
    result = analyse(SMALL_TEXT)

    assert result["word_count"] == result["words"]
    assert result["character_count"] == result["characters"]
    assert result["sentence_count"] == result["sentences"]
    assert result["common_words"][0] == ["cat", 2]
    assert len(result["common_words"]) == len(result["keywords"])
    assert result["sentiment_score"] == result["sentiment"]["compound"]


def test_positive_sentence_is_positive():
    """A glad sentence gets a positive label and compound."""
    sentiment = analyse("I love this wonderful day, it is great!")["sentiment"]

    assert sentiment["label"] == "positive"
    assert sentiment["compound"] == pytest.approx(0.9321)
    assert sentiment["neg"] == 0.0


def test_negative_sentence_is_negative():
    """An angry sentence gets a negative label and compound."""
    result = analyse("This is a horrible, terrible disaster. I hate it.")

    sentiment = result["sentiment"]

    assert sentiment["label"] == "negative"
    assert sentiment["compound"] < -0.5


def test_sentiment_is_the_mean_over_sentences():
    """One glad and one neutral sentence average to half the glad score."""
    glad = analyse("I love it.")["sentiment"]["compound"]
    both = analyse("I love it. The box is on the table.")["sentiment"]["compound"]

    assert both == pytest.approx(glad / 2, abs=1e-4)


def test_text_without_words_is_neutral():
    """Punctuation only gives zero counts and a zero, neutral sentiment."""
    result = analyse("... !!! ???\n")

    assert result["words"] == 0
    assert result["sentences"] == 0
    assert result["average_word_length"] == 0.0
    assert result["keywords"] == []
    assert result["sentiment"] == {
        "compound": 0.0,
        "pos": 0.0,
        "neg": 0.0,
        "neu": 0.0,
        "label": "neutral",
    }


def test_unique_words_ignore_case():
    """ "Apple", "APPLE" and "apple" are one unique word and one keyword."""
    result = analyse("Apple APPLE apple pear")

    assert result["unique_words"] == 2
    assert result["keywords"][0] == {"word": "apple", "count": 3}


def test_empty_file_is_refused():
    """Zero bytes raise the empty-file error."""
    with pytest.raises(ProcessingError, match=r"^the file is empty \(0 bytes\)$"):
        text.process(b"", "empty.txt")


def test_binary_file_is_refused(corpus):
    """A PNG is refused as binary data."""
    with pytest.raises(ProcessingError, match="looks like binary data"):
        text.process((corpus / "images" / "hopper.png").read_bytes(), "hopper.png")


@pytest.mark.parametrize("name", CORPUS_TEXT_NAMES)
def test_corpus_result_is_plain_json(corpus, name):
    """Every corpus text gives a JSON-serialisable result with finite numbers."""
    result = text.process((corpus / "text" / name).read_bytes(), name)

    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert result["words"] > 0
    scores = [result["sentiment"][key] for key in ("compound", "pos", "neg", "neu")]
    assert all(math.isfinite(score) for score in scores)


def test_russian_corpus_text(corpus):
    """The Russian sample reports its code page and Cyrillic keywords."""
    data = (corpus / "text" / "sample-russian.txt").read_bytes()

    result = text.process(data, "sample-russian.txt")

    assert result["encoding"] == "mac_cyrillic"
    assert result["encoding_method"] == "detected"
    assert result["words"] == 171
    assert result["paragraphs"] == 3
    assert result["keywords"][:3] == [
        {"word": "он", "count": 5},
        {"word": "не", "count": 3},
        {"word": "чтобы", "count": 3},
    ]
    assert result["sentiment"]["label"] == "neutral"


def test_spanish_corpus_keywords(corpus):
    """Spanish keywords keep Spanish stop words, as the stop-word list is English."""
    result = text.process((corpus / "text" / "sample-spanish.txt").read_bytes(), "es")

    words = [keyword["word"] for keyword in result["keywords"]]
    assert words[:4] == ["la", "el", "dios", "que"]
    assert result["keywords"][2] == {"word": "dios", "count": 45}


def test_chinese_corpus_text(corpus):
    """Chinese runs between punctuation count as words; sentences end at "。"."""
    result = text.process((corpus / "text" / "sample-chinese.txt").read_bytes(), "zh")

    assert result["encoding"] == "big5"
    assert result["sentences"] == 12
    assert result["keywords"][0] == {"word": "維基大典", "count": 2}


def test_bom_corpus_text(corpus):
    """The English subtitle file reports its byte-order mark."""
    data = (corpus / "text" / "sample-english.bom.txt").read_bytes()

    result = text.process(data, "sample-english.bom.txt")

    assert result["encoding"] == "utf_8"
    assert result["encoding_method"] == "bom"
    assert result["characters"] == 856
    assert result["lines"] == 35
    assert {"word": "youtube", "count": 2} in result["keywords"]
