"""Turn uploaded bytes into text, and split text into words, for the text processors.

Encodings are reported as Python codec module names: lower case with underscores, such
as "utf_8", "utf_16_le", "cp1251", "mac_cyrillic", "big5", "gb18030". A byte-order mark
is stripped from the text and reported through the method "bom"; the encoding then
names the bytes after it ("utf_8", not "utf_8_sig").

Limits: text without a byte-order mark that is not valid UTF-8 is guessed by
charset-normalizer, and a guess from a few dozen bytes can pick the wrong legacy code
page (a short Latin-1 phrase may come out as another single-byte encoding). UTF-16 and
UTF-32 text needs a byte-order mark: without one its NUL bytes make it binary data.
Files over limits.MAX_TEXT_BYTES (env MAX_TEXT_MB) are refused before decoding.
"""

import encodings
import re
import sys
import unicodedata
from dataclasses import dataclass
from encodings.aliases import aliases as ENCODING_ALIASES

from charset_normalizer import from_bytes

from slave_service.errors import ProcessingError
from slave_service.processors.limits import MAX_TEXT_BYTES, describe_bytes

METHOD_BOM = "bom"
METHOD_UTF8 = "utf-8"
METHOD_DETECTED = "detected"

BYTE_ORDER_MARKS = (
    # UTF-32 first: its little-endian mark begins with the UTF-16 little-endian one.
    (b"\xff\xfe\x00\x00", "utf_32_le"),
    (b"\x00\x00\xfe\xff", "utf_32_be"),
    (b"\xff\xfe", "utf_16_le"),
    (b"\xfe\xff", "utf_16_be"),
    (b"\xef\xbb\xbf", "utf_8"),
)

TEXT_CONTROL_CHARACTERS = frozenset("\t\n\r\f\v\x1b")
"""Control characters real text files hold (ESC starts terminal colours in logs)."""

MAX_CONTROL_CHARACTER_RATIO = 0.02
"""Share of other control characters above which decoded bytes count as binary."""


class BinaryDataError(ProcessingError):
    """The bytes are not text; reason says what gave them away."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"not a text file: {reason}, so it looks like binary data")
        self.reason = reason


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    """Python codec name of the bytes, such as "utf_8" or "cp1251"."""
    method: str
    """How the encoding was found: "bom", "utf-8" or "detected"."""


def decode_text(data: bytes) -> DecodedText:
    """Decode a text file's bytes; raises ProcessingError for empty or binary data."""
    if not data:
        raise ProcessingError("the file is empty (0 bytes)")
    if len(data) > MAX_TEXT_BYTES:
        raise ProcessingError(
            f"the text is {describe_bytes(len(data))}, over the "
            f"{describe_bytes(MAX_TEXT_BYTES)} limit (MAX_TEXT_MB)"
        )

    decoded = decode_with_byte_order_mark(data)
    if decoded is None:
        if b"\x00" in data:
            raise BinaryDataError("it contains NUL bytes")
        decoded = decode_as_utf8(data) or decode_by_detection(data)

    control_ratio = count_control_characters(decoded.text) / max(len(decoded.text), 1)
    if control_ratio > MAX_CONTROL_CHARACTER_RATIO:
        raise BinaryDataError(
            f"{control_ratio:.0%} of its characters are control characters"
        )
    return decoded


def looks_like_text(data: bytes) -> bool:
    """True when decode_text would accept the bytes."""
    try:
        decode_text(data)
    except ProcessingError:
        return False
    return True


def decode_with_byte_order_mark(data: bytes) -> DecodedText | None:
    for mark, encoding in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                text = data[len(mark) :].decode(encoding)
            except UnicodeDecodeError as error:
                raise BinaryDataError(
                    f"it starts with a {encoding} byte-order mark but its bytes are "
                    f"not {encoding} ({error.reason} at byte {error.start + len(mark)})"
                )
            return DecodedText(text, encoding, METHOD_BOM)
    return None


def decode_as_utf8(data: bytes) -> DecodedText | None:
    try:
        return DecodedText(data.decode("utf_8"), "utf_8", METHOD_UTF8)
    except UnicodeDecodeError:
        return None


def decode_by_detection(data: bytes) -> DecodedText:
    best_match = from_bytes(data).best()
    if best_match is None:
        raise BinaryDataError("no text encoding fits its bytes")
    return DecodedText(
        str(best_match), normalise_encoding_name(best_match.encoding), METHOD_DETECTED
    )


def normalise_encoding_name(name: str) -> str:
    """Python's codec module name for an encoding name or alias ("UTF-8" -> "utf_8")."""
    key = encodings.normalize_encoding(name).lower()
    return ENCODING_ALIASES.get(key, key)


def count_control_characters(text: str) -> int:
    return sum(
        1
        for character in text
        if unicodedata.category(character) == "Cc"
        and character not in TEXT_CONTROL_CHARACTERS
    )


def build_mark_class() -> str:
    """A regex character class body holding every Unicode combining mark."""
    ranges = []
    for code_point in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code_point)).startswith("M"):
            if ranges and ranges[-1][1] == code_point - 1:
                ranges[-1][1] = code_point
            else:
                ranges.append([code_point, code_point])
    return "".join(
        re.escape(chr(first)) + ("-" + re.escape(chr(last)) if last > first else "")
        for first, last in ranges
    )


# A word is a run of letters and digits; combining marks (Arabic vowel signs, Indic
# vowel signs, decomposed accents) stay inside it, and so does an apostrophe between
# two letters ("don't"). Python's \w alone would split words at combining marks.
WORD_CHARACTER = rf"(?:[^\W_]|[{build_mark_class()}])"
WORD_PATTERN = re.compile(rf"[^\W_]{WORD_CHARACTER}*(?:['’][^\W_]{WORD_CHARACTER}*)*")


def find_words(text: str) -> list[str]:
    """The words of a text, typographic apostrophes turned into "'"."""
    return [word.replace("’", "'") for word in WORD_PATTERN.findall(text)]
