"""Tests of text decoding on the corpus texts and on made-up text and binary bytes."""

import random

import pytest

from slave_service.errors import ProcessingError
from slave_service.processors.decoding import (
    BinaryDataError,
    decode_text,
    find_words,
    looks_like_text,
    normalise_encoding_name,
)

# name, encoding, method, words that must appear exactly so in the decoded text
CORPUS_TEXTS = [
    ("sample-chinese.txt", "big5", "detected", ["維基大典", "維基媒體基金會"]),
    ("sample-english.bom.txt", "utf_8", "bom", ["About 2 months ago", "YouTube"]),
    ("sample-french-1.txt", "cp1252", "detected", ["MOLIÈRE", "FÉVRIER", "règne"]),
    ("sample-french.txt", "utf_8", "utf-8", ["MOLIÈRE", "FÉVRIER", "règne"]),
    ("sample-russian.txt", "mac_cyrillic", "detected", ["В гимназии", "учеников"]),
    ("sample-spanish.txt", "utf_8", "utf-8", ["La creación", "creó Dios", "vacía"]),
]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def share_of(text: str, is_in_script) -> float:
    letters = [character for character in text if character.isalpha()]
    return sum(1 for letter in letters if is_in_script(letter)) / len(letters)


def is_cyrillic(letter: str) -> bool:
    return "\u0400" <= letter <= "\u04ff"


def is_cjk(letter: str) -> bool:
    return "\u4e00" <= letter <= "\u9fff"


def is_latin(letter: str) -> bool:
    return letter.isascii() or "\u00c0" <= letter <= "\u024f"


@pytest.mark.parametrize(("name", "encoding", "method", "words"), CORPUS_TEXTS)
def test_corpus_text_decodes_with_its_encoding(corpus, name, encoding, method, words):
    """Each corpus text reports the encoding and method found by hand."""
    decoded = decode_text((corpus / "text" / name).read_bytes())

    assert decoded.encoding == encoding
    assert decoded.method == method
    for word in words:
        assert word in decoded.text


def test_russian_text_is_cyrillic(corpus):
    """The legacy-encoded Russian sample comes out in Cyrillic letters."""
    text = decode_text((corpus / "text" / "sample-russian.txt").read_bytes()).text

    assert share_of(text, is_cyrillic) > 0.95


def test_chinese_text_is_cjk(corpus):
    """The Big5 Chinese sample comes out in CJK ideographs."""
    text = decode_text((corpus / "text" / "sample-chinese.txt").read_bytes()).text

    assert share_of(text, is_cjk) > 0.9


@pytest.mark.parametrize(
    "name", ["sample-french.txt", "sample-french-1.txt", "sample-spanish.txt"]
)
def test_french_and_spanish_text_is_latin(corpus, name):
    """French and Spanish samples come out in Latin letters, accents included."""
    text = decode_text((corpus / "text" / name).read_bytes()).text

    assert share_of(text, is_latin) == 1.0


def test_legacy_and_utf8_french_decode_alike(corpus):
    """The cp1252 and UTF-8 copies of the French sample give the same text."""
    legacy = decode_text((corpus / "text" / "sample-french-1.txt").read_bytes())
    unicode = decode_text((corpus / "text" / "sample-french.txt").read_bytes())

    assert legacy.text == unicode.text


def test_byte_order_mark_is_stripped(corpus):
    """The UTF-8 mark is not part of the text."""
    decoded = decode_text((corpus / "text" / "sample-english.bom.txt").read_bytes())

    assert decoded.text.startswith("1\n00:00:06,500 --> 00:00:09,000\n")


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        ("Grüße, мир".encode("utf-16"), "utf_16_le"),
        (b"\xfe\xff" + "Grüße, мир".encode("utf-16-be"), "utf_16_be"),
        ("Grüße, мир".encode("utf-32"), "utf_32_le"),
        (b"\x00\x00\xfe\xff" + "Grüße, мир".encode("utf-32-be"), "utf_32_be"),
        ("Grüße, мир".encode("utf-8-sig"), "utf_8"),
    ],
)
def test_unicode_with_byte_order_mark_decodes(encoded, encoding):
    """UTF-16 and UTF-32 in either byte order, and UTF-8, decode by their mark."""
    decoded = decode_text(encoded)

    assert decoded.text == "Grüße, мир"
    assert decoded.encoding == encoding
    assert decoded.method == "bom"


def test_cp1251_russian_is_detected():
    """A Windows-1251 Russian sentence is guessed as cp1251."""
    decoded = decode_text("Привет мир, как дела? Это короткий текст.".encode("cp1251"))

    assert decoded.text == "Привет мир, как дела? Это короткий текст."
    assert decoded.encoding == "cp1251"
    assert decoded.method == "detected"


def test_empty_file_is_refused():
    """Zero bytes raise the empty-file error."""
    with pytest.raises(ProcessingError, match=r"^the file is empty \(0 bytes\)$"):
        decode_text(b"")


@pytest.mark.parametrize(
    "data",
    [
        PNG_MAGIC + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01",
        random.Random(3).randbytes(2000),
        bytes(byte or 1 for byte in random.Random(4).randbytes(2000)),
        b"text then a NUL\x00 byte",
        b"\x01\x02\x03\x04 mostly control characters \x05\x06\x07",
        b"\xff\xfe\x00\x00abc",
    ],
    ids=["png", "random", "random-without-nul", "nul", "control", "bad-utf32"],
)
def test_binary_data_is_refused(data):
    """Binary bytes raise a ProcessingError saying they look like binary data."""
    with pytest.raises(BinaryDataError, match=r"^not a text file: .*binary data$"):
        decode_text(data)

    assert not looks_like_text(data)


def test_corpus_image_is_refused(corpus):
    """A real PNG is not text."""
    with pytest.raises(ProcessingError, match="it contains NUL bytes"):
        decode_text((corpus / "images" / "hopper.png").read_bytes())


def test_tabs_newlines_and_escapes_are_text():
    """Tabs, CR/LF and terminal colour escapes do not make a file binary."""
    data = b"col1\tcol2\r\n\x1b[31mred\x1b[0m\r\n"

    assert decode_text(data).text == "col1\tcol2\r\n\x1b[31mred\x1b[0m\r\n"
    assert looks_like_text(data)


@pytest.mark.parametrize(
    ("name", "normalised"),
    [("UTF-8", "utf_8"), ("windows-1251", "cp1251"), ("latin-1", "latin_1")],
)
def test_encoding_names_are_python_codec_names(name, normalised):
    """Aliases turn into Python's codec module names."""
    assert normalise_encoding_name(name) == normalised


def test_words_keep_apostrophes_and_combining_marks():
    """Apostrophes inside words and Arabic vowel signs stay within one word."""
    words = find_words("Don't stop: l’homme 'quoted' rock'n'roll 3.14 حَبيبي a_b")

    assert words == ["Don't", "stop", "l'homme", "quoted", "rock'n'roll", "3", "14"] + [
        "حَبيبي",
        "a",
        "b",
    ]
