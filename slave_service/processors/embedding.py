"""TF-IDF vectors of all the texts of one request, fitted together in one vector space.

One scikit-learn TfidfVectorizer, built by make_vectorizer, is fitted on every text of
the request that decodes, so each vector equals what that vectorizer gives for the same
texts. Every result carries the whole vocabulary ("features", in the order of
"vector") so that it can be read on its own.

Limits: the stop words are English and the tokenizer keeps runs of two or more word
characters, so Chinese and Japanese text without spaces becomes a few long terms and
one-letter words are dropped. Weights depend on the other texts of the same request:
the same file gets a different vector in a different request. Each file over
limits.MAX_TEXT_BYTES (env MAX_TEXT_MB) gets an error of its own.
"""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from slave_service.errors import ProcessingError
from slave_service.processors.decoding import DecodedText, decode_text

DEFAULT_MAX_FEATURES = 1000
"""Vocabulary size when the request gives no max_features: the most frequent terms."""

TOP_TERM_COUNT = 10


def vectorizer_settings(max_features: int | None = None) -> dict:
    """The TfidfVectorizer arguments used for a request (JSON-serialisable)."""
    return {
        "lowercase": True,
        "stop_words": "english",
        "max_features": max_features or DEFAULT_MAX_FEATURES,
        "norm": "l2",
        "use_idf": True,
        "smooth_idf": True,
        "sublinear_tf": False,
    }


def make_vectorizer(max_features: int | None = None) -> TfidfVectorizer:
    """A fresh vectorizer with the settings this processor uses."""
    return TfidfVectorizer(**vectorizer_settings(max_features))


def process(data: bytes, filename: str, **options) -> dict:
    """Vectorise one text alone; raises ProcessingError when it is not text."""
    (outcome,) = process_batch([(filename, data)], **options)
    if isinstance(outcome, ProcessingError):
        raise outcome
    return outcome


def process_batch(
    files: list[tuple[str, bytes]], max_features: int | None = None
) -> list[dict | ProcessingError]:
    """One outcome per (filename, data) pair, in order: a result or ProcessingError."""
    outcomes: list[DecodedText | ProcessingError] = []
    for _, data in files:
        try:
            outcomes.append(decode_text(data))
        except ProcessingError as error:
            outcomes.append(error)
    decoded_texts = [item for item in outcomes if isinstance(item, DecodedText)]

    settings = vectorizer_settings(max_features)
    texts = [decoded.text for decoded in decoded_texts]
    vectors, features = fit_vectors(texts, settings)

    results: list[dict | ProcessingError] = []
    vector_rows = iter(vectors)
    for (filename, _), outcome in zip(files, outcomes):
        if isinstance(outcome, ProcessingError):
            results.append(outcome)
            continue
        result = describe_vector(
            filename,
            outcome,
            next(vector_rows),
            features,
            settings,
            documents_in_space=len(texts),
        )
        results.append(result)
    return results


def fit_vectors(texts: list[str], settings: dict) -> tuple[np.ndarray, list[str]]:
    """Dense TF-IDF rows and the vocabulary; no columns when no text has a term."""
    if not texts:
        return np.zeros((0, 0)), []
    vectorizer = TfidfVectorizer(**settings)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError as error:
        if "empty vocabulary" not in str(error):
            raise
        return np.zeros((len(texts), 0)), []
    return matrix.toarray(), vectorizer.get_feature_names_out().tolist()


def describe_vector(
    filename: str,
    decoded: DecodedText,
    vector: np.ndarray,
    features: list[str],
    settings: dict,
    documents_in_space: int,
) -> dict:
    """One file's result from its row of the fitted matrix."""
    non_zero_columns = np.flatnonzero(vector)
    # Highest weight first; equal weights in vocabulary order, so results are stable.
    ranked_columns = sorted(non_zero_columns, key=lambda column: -vector[column])
    top_terms = [
        {"term": features[column], "weight": float(vector[column])}
        for column in ranked_columns[:TOP_TERM_COUNT]
    ]
    return {
        "filename": filename,
        "encoding": decoded.encoding,
        "vector": [float(weight) for weight in vector],
        "features": features,
        "vector_size": len(features),
        "non_zero_features": len(non_zero_columns),
        "top_terms": top_terms,
        "vectorizer_settings": dict(settings),
        "documents_in_space": documents_in_space,
    }
