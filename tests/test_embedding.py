"""Tests of the TF-IDF embedding processor on the corpus texts and small batches."""

import json
import math

import numpy as np
import pytest

from slave_service.errors import ProcessingError
from slave_service.processors import embedding
from slave_service.processors.decoding import decode_text
from tests.conftest import CORPUS_TEXT_NAMES


@pytest.fixture(scope="module")
def corpus_files(corpus) -> list[tuple[str, bytes]]:
    return [(name, (corpus / "text" / name).read_bytes()) for name in CORPUS_TEXT_NAMES]


def reference_matrix(files, max_features=None) -> tuple[np.ndarray, list[str]]:
    """What a TfidfVectorizer with the processor's settings gives for the same texts."""
    texts = [decode_text(data).text for _, data in files]
    vectorizer = embedding.make_vectorizer(max_features)
    matrix = vectorizer.fit_transform(texts).toarray()
    return matrix, vectorizer.get_feature_names_out().tolist()


def test_vectors_equal_a_reference_vectorizer(corpus_files):
    """Each corpus vector equals the reference vectorizer's row for that text."""
    results = embedding.process_batch(corpus_files)

    matrix, features = reference_matrix(corpus_files)
    for row, result in zip(matrix, results):
        assert result["features"] == features
        assert np.allclose(result["vector"], row, rtol=0, atol=1e-12)
        assert result["vector_size"] == len(features) == 841
        assert result["non_zero_features"] == np.count_nonzero(row)
        assert result["documents_in_space"] == 6


def test_results_carry_encoding_and_settings(corpus_files):
    """Each result names its file and encoding and the settings of the fit."""
    results = embedding.process_batch(corpus_files)

    assert [result["filename"] for result in results] == CORPUS_TEXT_NAMES
    assert [result["encoding"] for result in results] == [
        "big5",
        "utf_8",
        "cp1252",
        "utf_8",
        "mac_cyrillic",
        "utf_8",
    ]
    assert results[0]["vectorizer_settings"] == embedding.vectorizer_settings(None)
    assert results[0]["vectorizer_settings"]["max_features"] == 1000
    assert results[0]["vectorizer_settings"]["stop_words"] == "english"


def test_top_terms_are_the_largest_weights(corpus_files):
    """top_terms lists the ten heaviest terms, heaviest first."""
    result = embedding.process_batch(corpus_files)[5]

    weights = [term["weight"] for term in result["top_terms"]]
    assert len(weights) == 10
    assert weights == sorted(result["vector"], reverse=True)[:10]
    assert [term["term"] for term in result["top_terms"][:3]] == ["la", "el", "dios"]


def test_results_are_plain_json(corpus_files):
    """Results serialise to JSON without NaN and with plain floats."""
    for result in embedding.process_batch(corpus_files):
        assert json.loads(json.dumps(result, allow_nan=False)) == result
        assert all(type(weight) is float for weight in result["vector"])


def test_max_features_caps_the_vocabulary(corpus_files):
    """max_features=50 keeps 50 terms and still matches the reference."""
    results = embedding.process_batch(corpus_files, max_features=50)

    matrix, features = reference_matrix(corpus_files, max_features=50)
    assert len(features) == 50
    for row, result in zip(matrix, results):
        assert result["vector_size"] == 50
        assert result["vectorizer_settings"]["max_features"] == 50
        assert np.allclose(result["vector"], row, rtol=0, atol=1e-12)


def test_two_document_weights_by_hand():
    """With terms capped at two, "cats dogs birds" weighs birds and cats as computed."""
    result = embedding.process_batch(
        [("a.txt", b"cats dogs birds"), ("b.txt", b"cats fish")], max_features=2
    )[0]

    # idf(birds) = ln(3/2) + 1, idf(cats) = ln(3/3) + 1 = 1; then L2-normalised.
    birds, cats = math.log(1.5) + 1, 1.0
    norm = math.hypot(birds, cats)
    assert result["features"] == ["birds", "cats"]
    assert result["vector"] == pytest.approx([birds / norm, cats / norm], abs=1e-12)


def test_text_without_terms_gets_zeros():
    """An empty-of-terms text and a stop-word text get all-zero vectors, not errors."""
    results = embedding.process_batch(
        [
            ("real.txt", b"Solar panels convert sunlight into electricity."),
            ("stop.txt", b"the and of it is"),
            ("punctuation.txt", b"... !!!"),
        ]
    )

    assert results[0]["non_zero_features"] == 5
    for result in results[1:]:
        assert result["vector"] == [0.0] * results[0]["vector_size"]
        assert result["non_zero_features"] == 0
        assert result["top_terms"] == []


def test_batch_of_stop_words_gets_empty_vectors():
    """When no text has a term, every file gets an empty vector, not an error."""
    results = embedding.process_batch([("a.txt", b"the and"), ("b.txt", b"of it")])

    for result in results:
        assert result["vector"] == []
        assert result["features"] == []
        assert result["vector_size"] == 0
        assert result["documents_in_space"] == 2


def test_binary_file_fails_alone(corpus):
    """A PNG and an empty file in the batch fail; the texts around them succeed."""
    png = (corpus / "images" / "hopper.png").read_bytes()
    files = [
        ("one.txt", b"Rivers flow to the sea."),
        ("hopper.png", png),
        ("empty.txt", b""),
        ("two.txt", b"The sea is salty."),
    ]

    results = embedding.process_batch(files)

    assert isinstance(results[1], ProcessingError)
    assert "looks like binary data" in str(results[1])
    assert str(results[2]) == "the file is empty (0 bytes)"
    assert [results[0]["filename"], results[3]["filename"]] == ["one.txt", "two.txt"]
    assert results[0]["documents_in_space"] == 2
    assert results[0]["features"] == ["flow", "rivers", "salty", "sea"]


def test_single_file_process_is_a_batch_of_one():
    """process() gives the one result of a one-file batch."""
    data = b"Green tea and green apples"

    result = embedding.process(data, "tea.txt")

    assert result == embedding.process_batch([("tea.txt", data)])[0]
    assert result["documents_in_space"] == 1
    assert result["top_terms"][0]["term"] == "green"


def test_single_binary_file_raises():
    """process() raises the ProcessingError of a file that is not text."""
    with pytest.raises(ProcessingError, match="looks like binary data"):
        embedding.process(b"\x89PNG\r\n\x1a\n\x00\x00", "fake.txt")


def test_empty_batch_gives_no_results():
    """An empty list of files gives an empty list of outcomes."""
    assert embedding.process_batch([]) == []
