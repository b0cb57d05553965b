"""Encoding, counts, keywords and sentiment of a plain-text file.

Words are runs of Unicode letters and digits (an apostrophe between letters stays inside
a word, so "don't" is one word). Sentences end at ".", "!", "?" or "…" followed by
space, or at "。", "！", "？"; a blank line ends a paragraph and its last sentence.
Sentiment is VADER's score of each sentence, averaged over the sentences.

Limits: the stop words removed from the keywords and the VADER lexicon are English, so
keywords of other languages keep their common words and their sentiment is mostly
neutral. Chinese and Japanese text has no spaces between words, so each run of
characters between punctuation counts as one word. Abbreviations such as "Mr." end a
sentence, and a number such as "3.14" counts as two words. Files over
limits.MAX_TEXT_BYTES (env MAX_TEXT_MB) are refused.
"""

import re
from collections import Counter
from statistics import fmean

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from slave_service.processors.decoding import decode_text, find_words

KEYWORD_COUNT = 10
POSITIVE_COMPOUND_MIN = 0.05
NEGATIVE_COMPOUND_MAX = -0.05

PARAGRAPH_BREAK = re.compile(r"\n[ \t\f\v]*\n\s*")
SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")

_analyzer: SentimentIntensityAnalyzer | None = None


def process(data: bytes, filename: str, **options) -> dict:
    """Analyse a text file; raises ProcessingError when it is empty or not text."""
    decoded = decode_text(data)
    text = decoded.text

    words = find_words(text)
    lowered_words = [word.lower() for word in words]
    paragraphs = split_paragraphs(text)
    sentences = [
        sentence for paragraph in paragraphs for sentence in split_sentences(paragraph)
    ]
    keywords = find_keywords(lowered_words)
    sentiment = score_sentiment(sentences)

    average_word_length = fmean(len(word) for word in words) if words else 0.0
    return {
        "filename": filename,
        "encoding": decoded.encoding,
        "encoding_method": decoded.method,
        "characters": len(text),
        "words": len(words),
        "sentences": len(sentences),
        "paragraphs": len(paragraphs),
        "lines": len(text.splitlines()),
        "unique_words": len(set(lowered_words)),
        "average_word_length": round(average_word_length, 3),
        "keywords": keywords,
        "sentiment": sentiment,
        # Names of the first version of this result, kept for existing readers.
        "word_count": len(words),
        "character_count": len(text),
        "sentence_count": len(sentences),
        "common_words": [[keyword["word"], keyword["count"]] for keyword in keywords],
        "sentiment_score": sentiment["compound"],
    }


def split_paragraphs(text: str) -> list[str]:
    """Blocks of text separated by blank lines, line endings made "\\n"."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [block for block in PARAGRAPH_BREAK.split(text) if block.strip()]


def split_sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph that hold at least one word."""
    return [
        sentence.strip()
        for sentence in SENTENCE_BREAK.split(paragraph)
        if find_words(sentence)
    ]


def find_keywords(lowered_words: list[str]) -> list[dict]:
    """The most frequent words, leaving out English stop words, letters and numbers."""
    counts = Counter(
        word
        for word in lowered_words
        if len(word) > 1 and not word.isdigit() and word not in ENGLISH_STOP_WORDS
    )
    return [
        {"word": word, "count": count}
        for word, count in counts.most_common(KEYWORD_COUNT)
    ]


def score_sentiment(sentences: list[str]) -> dict:
    """VADER scores averaged over the sentences, with a label from the compound."""
    if not sentences:
        return {"compound": 0.0, "pos": 0.0, "neg": 0.0, "neu": 0.0, "label": "neutral"}

    analyzer = get_analyzer()
    scores = [analyzer.polarity_scores(sentence) for sentence in sentences]
    averages = {
        key: round(fmean(score[key] for score in scores), 4)
        for key in ("compound", "pos", "neg", "neu")
    }
    return {**averages, "label": label_sentiment(averages["compound"])}


def label_sentiment(compound: float) -> str:
    if compound >= POSITIVE_COMPOUND_MIN:
        return "positive"
    if compound <= NEGATIVE_COMPOUND_MAX:
        return "negative"
    return "neutral"


def get_analyzer() -> SentimentIntensityAnalyzer:
    """The process's one VADER analyzer, built on first use (it loads its lexicon)."""
    global _analyzer
    if _analyzer is None:
        _analyzer = SentimentIntensityAnalyzer()
    return _analyzer
