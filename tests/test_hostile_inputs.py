"""Malformed and hostile files end in a clear per-file error or a result, never a crash.

Each row runs through its task type's processor in this process, then through a real
slave beside one good file of the same type, after which the slave must still answer.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import docx
import numpy as np
import pytest
import requests
import soundfile
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfWriter

from slave_service.errors import ProcessingError
from slave_service.processors import load_processor, ocr
from task_types import TASK_TYPES

# Pillow warns about the EXIF of the hollow TIFF before refusing it, as it should.
pytestmark = pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")

OK = "ok"
TESSERACT_TIMEOUT_S = 5
"""Given to the slave and patched into the OCR processor, so the slow page ends soon."""
MB = 1024 * 1024


class CorpusFile(NamedTuple):
    """A maker that reads a file of the shared corpus, cut to `keep` bytes if given."""

    path: str
    keep: int | None = None

    def __call__(self, corpus: Path) -> bytes:
        return (corpus / self.path).read_bytes()[: self.keep]


class Hostile(NamedTuple):
    id: str
    task_type: str
    filename: str
    make: Callable[[Path | None], bytes]
    expected: str
    """A phrase of the file's error, or OK when the file must be processed."""


# Images


def encode(picture: Image.Image, format_name: str, **options) -> bytes:
    output = io.BytesIO()
    picture.save(output, format_name, **options)
    return output.getvalue()


def noise_image() -> Image.Image:
    """A 96x96 RGB image of random pixels, so that no encoder can make it tiny."""
    values = np.random.default_rng(7).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    return Image.fromarray(values)


def truncated(format_name: str) -> Callable[[Path | None], bytes]:
    """A maker of the first half of a noise image in the given format."""

    def make(corpus: Path | None) -> bytes:
        data = encode(noise_image(), format_name)
        return data[: len(data) // 2]

    return make


def png_chunk(kind: bytes, body: bytes) -> bytes:
    checksum = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", checksum)


def forged_png(width: int, height: int, extra_chunks: bytes = b"") -> bytes:
    """A 1-bit PNG whose header claims width x height over one row of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    pixels = zlib.compress(bytes(1 + (width + 7) // 8))
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra_chunks
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )


def png_with_text_bomb(corpus: Path | None) -> bytes:
    """A small PNG with a zTXt chunk that unpacks to 100 MB."""
    bomb = zlib.compress(bytes(100 * MB), 9)
    return forged_png(8, 8, png_chunk(b"zTXt", b"Comment\x00\x00" + bomb))


def forged_gif(width: int, height: int, frames: int = 1) -> bytes:
    """A GIF whose canvas is width x height, holding frames of one pixel each."""
    one_pixel = (
        b"\x2c"
        + struct.pack("<4HB", 0, 0, 1, 1, 0x80)  # descriptor, 2-colour table
        + b"\x00\x00\x00\xff\xff\xff"
        + b"\x02\x02\x44\x01\x00"  # LZW code size 2, one sub-block, terminator
    )
    delay = b"\x21\xf9\x04\x00\x0a\x00\x00\x00"
    screen = struct.pack("<2HBBB", width, height, 0, 0, 0)
    return b"GIF89a" + screen + (delay + one_pixel) * frames + b"\x3b"


def forged_bmp(width: int, height: int) -> bytes:
    """A BMP header claiming width x height 24-bit pixels, with none following."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def corrupt_png_data(corpus: Path | None) -> bytes:
    data = bytearray(encode(noise_image(), "PNG"))
    start = data.index(b"IDAT") + 200
    data[start : start + 64] = bytes(64)
    return bytes(data)


def tiff_with_directory_past_end(corpus: Path | None) -> bytes:
    """A TIFF whose first directory points past the end of the file."""
    return b"II*\x00" + struct.pack("<I", 10_000_000) + bytes(64)


def sixteen_bit_png(corpus: Path | None) -> bytes:
    ramp = np.linspace(0, 65535, 64 * 64).astype(np.uint16).reshape(64, 64)
    return encode(Image.fromarray(ramp), "PNG")


def text_page(width: int, height: int, font_size: int) -> Image.Image:
    """A 1-bit page of width x height filled with lines of small English text."""
    font = ImageFont.load_default(size=font_size)
    line = Image.new("1", (width, font_size + 4), 1)
    words = "The quick brown fox jumps over the lazy dog 0123456789 " * 40
    ImageDraw.Draw(line).text((5, 0), words, fill=0, font=font)
    page = Image.new("1", (width, height), 1)
    for top in range(0, height, line.height):
        page.paste(line, (0, top))
    return page


def tall_page(corpus: Path | None) -> bytes:
    """200 x 60000 pixels with a little text: taller than tesseract can read."""
    page = Image.new("1", (200, 60_000), 1)
    ImageDraw.Draw(page).text((10, 10), "Hello world", fill=0)
    return encode(page, "PNG")


def dense_page(corpus: Path | None) -> bytes:
    """1500 x 3000 pixels of small text, which tesseract reads for over a minute."""
    return encode(text_page(1500, 3000, 14), "PNG")


# Text


def random_bytes(size: int, lowest: int = 0) -> Callable[[Path | None], bytes]:
    """The same size random bytes of values lowest..255 (lowest=1 leaves out NUL)."""

    def make(corpus: Path | None) -> bytes:
        generator = np.random.default_rng(size + lowest)
        return generator.integers(lowest, 256, size, np.uint8).tobytes()

    return make


@functools.cache
def oversized_text(corpus: Path | None = None) -> bytes:
    """51 MB of plain words, over the 50 MB default of MAX_TEXT_MB."""
    return b"plain words " * (51 * MB // 12)


RUSSIAN_CP1251 = "Привет, мир! Это обычный русский текст о погоде.\n".encode("cp1251")


# Audio


def wav(samples: np.ndarray, format_name: str = "WAV") -> bytes:
    """The samples at 8 kHz in a WAV, or another format libsndfile writes."""
    output = io.BytesIO()
    soundfile.write(output, samples, 8000, format=format_name)
    return output.getvalue()


def tone() -> np.ndarray:
    return 0.5 * np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000)


def wav_with_lying_sizes(corpus: Path | None) -> bytes:
    """A WAV whose RIFF and data chunk sizes both claim about 4 GB."""
    data = bytearray(wav(tone()))
    data[4:8] = struct.pack("<I", 0xFFFF_FFF0)
    data_chunk = data.index(b"data")
    data[data_chunk + 4 : data_chunk + 8] = struct.pack("<I", 0xFFFF_FFF0)
    return bytes(data)


def wav_with_zero_channels(corpus: Path | None) -> bytes:
    data = bytearray(wav(tone()))
    fmt_chunk = data.index(b"fmt ")
    data[fmt_chunk + 10 : fmt_chunk + 12] = struct.pack("<H", 0)
    return bytes(data)


def flac_with_lying_length(corpus: Path | None) -> bytes:
    """A FLAC whose STREAMINFO claims 2**36 - 1 samples (over a day at 192 kHz)."""
    data = bytearray(wav(tone(), format_name="FLAC"))
    total_samples_at = 4 + 4 + 10  # "fLaC", block header, then 10 bytes of STREAMINFO
    packed = int.from_bytes(data[total_samples_at : total_samples_at + 8], "big")
    packed |= 2**36 - 1
    data[total_samples_at : total_samples_at + 8] = packed.to_bytes(8, "big")
    return bytes(data)


def headerless_pcm(corpus: Path | None) -> bytes:
    return (tone() * 32767).astype("<i2").tobytes()


# Documents


def pdf_stream(content: bytes, extra: bytes = b"") -> bytes:
    header = b"<< /Length %d%s >>\nstream\n" % (len(content), extra)
    return header + content + b"\nendstream"


HELVETICA_RESOURCES = (
    b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"
)
HELLO_PAGE = b"BT /F1 12 Tf 72 712 Td (Hello from a hostile test) Tj ET"


def build_pdf(
    content: bytes, catalog_extra: bytes = b"", prev_self: bool = False
) -> bytes:
    """A one-page PDF with the given content stream object, written byte by byte."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
        + HELVETICA_RESOURCES
        + b" /Contents 4 0 R >>",
        content,
    ]
    output = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(output))
        output += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(output)
    output += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    output += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    previous = b" /Prev %d" % xref_at if prev_self else b""
    output += b"trailer\n<< /Size %d /Root 1 0 R%s >>\n" % (len(objects) + 1, previous)
    output += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(output)


def nested(opening: bytes, closing: bytes, depth: int = 50_000) -> bytes:
    return opening * depth + closing * depth


@functools.cache
def deflated_zeros(megabytes: int) -> bytes:
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(bytes(MB)) for _ in range(megabytes)]
    return b"".join(chunks) + compressor.flush()


def pdf_with_huge_stream(corpus: Path | None) -> bytes:
    """A page whose content stream is 300 MB of zeros, deflated to about 300 KB."""
    return build_pdf(pdf_stream(deflated_zeros(300), b" /Filter /FlateDecode"))


def pdf_with_many_pages(corpus: Path | None) -> bytes:
    writer = PdfWriter()
    for _ in range(2001):
        writer.add_blank_page(72, 72)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def small_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("A small, honest document.")
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


def docx_with_zeros(megabytes: int) -> bytes:
    """A real DOCX whose word/document.xml is replaced by megabytes of zeros."""
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(small_docx())) as source, zipfile.ZipFile(
        output, "w", zipfile.ZIP_DEFLATED, compresslevel=9
    ) as target:
        for part in source.infolist():
            if part.filename != "word/document.xml":
                target.writestr(part.filename, source.read(part))
                continue
            with target.open(part.filename, "w") as stream:
                for _ in range(megabytes):
                    stream.write(bytes(MB))
    return output.getvalue()


@functools.cache
def docx_zip_bomb(corpus: Path | None = None) -> bytes:
    """A DOCX whose document.xml is 600 MB of zeros, packed to about 600 KB."""
    return docx_with_zeros(600)


def docx_with_understated_size(corpus: Path | None) -> bytes:
    """A DOCX whose directory says document.xml is 1000 bytes; it holds 20 MB."""
    data = bytearray(docx_with_zeros(20))
    entry = data.index(b"PK\x01\x02")  # the first central directory entry
    while not data.startswith(b"word/document.xml", entry + 46):
        entry = data.index(b"PK\x01\x02", entry + 4)
    # The CRC-32 of the first 1000 bytes, so only the size gives the lie away.
    struct.pack_into("<I", data, entry + 16, zlib.crc32(bytes(1000)))
    struct.pack_into("<I", data, entry + 24, 1000)
    return bytes(data)


def docx_with_encrypted_part(corpus: Path | None) -> bytes:
    """A DOCX whose directory marks document.xml as encrypted with a password."""
    data = bytearray(small_docx())
    entry = data.index(b"PK\x01\x02")
    while not data.startswith(b"word/document.xml", entry + 46):
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + 8] |= 0x01
    return bytes(data)


def docx_with_damaged_part(corpus: Path | None) -> bytes:
    data = bytearray(small_docx())
    part = data.index(b"word/document.xml") + len("word/document.xml") + 40
    data[part : part + 200] = bytes(200)
    return bytes(data)


OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def constant(data: bytes) -> Callable[[Path | None], bytes]:
    return lambda corpus: data


EMPTY = constant(b"")

HOSTILE_INPUTS = [
    # Images: bombs, damaged files of every format, and a 16-bit image that must work.
    Hostile(
        "png-canvas-bomb",
        "image",
        "bomb.png",
        lambda c: forged_png(100_000, 100_000),
        "10000000000 pixels exceeds",
    ),
    Hostile(
        "png-just-over-pixel-limit",
        "image",
        "edge.png",
        lambda c: forged_png(9460, 9459),
        "89482140 pixels exceeds the limit",
    ),
    Hostile(
        "gif-canvas-bomb",
        "image",
        "bomb.gif",
        lambda c: forged_gif(65_535, 65_535),
        "MAX_IMAGE_PIXELS",
    ),
    Hostile(
        "gif-corpus-bomb",
        "image",
        "decompression_bomb.gif",
        CorpusFile("images/decompression_bomb.gif"),
        "the image is too large",
    ),
    Hostile(
        "gif-frames-add-up",
        "image",
        "frames.gif",
        lambda c: forged_gif(9000, 9000, frames=3),
        "the animation is too large",
    ),
    Hostile(
        "bmp-canvas-bomb",
        "image",
        "bomb.bmp",
        lambda c: forged_bmp(100_000, 100_000),
        "the image is too large",
    ),
    Hostile(
        "png-text-chunk-bomb",
        "image",
        "text-bomb.png",
        png_with_text_bomb,
        "Decompressed data too large",
    ),
    Hostile("jpeg-truncated", "image", "cut.jpg", truncated("JPEG"), "truncated"),
    Hostile(
        "jpeg-corpus-truncated",
        "image",
        "truncated_jpeg.jpg",
        CorpusFile("images/truncated_jpeg.jpg"),
        "truncated",
    ),
    Hostile("png-truncated", "image", "cut.png", truncated("PNG"), "truncated"),
    Hostile(
        "png-corpus-broken",
        "image",
        "broken.png",
        CorpusFile("images/broken.png"),
        "damaged",
    ),
    Hostile("png-corrupt-data", "image", "corrupt.png", corrupt_png_data, "damaged"),
    Hostile("gif-truncated", "image", "cut.gif", truncated("GIF"), "truncated"),
    Hostile("tiff-truncated", "image", "cut.tif", truncated("TIFF"), "truncated"),
    Hostile(
        "tiff-directory-past-end",
        "image",
        "hollow.tif",
        tiff_with_directory_past_end,
        "damaged",
    ),
    Hostile("webp-truncated", "image", "cut.webp", truncated("WEBP"), "damaged"),
    Hostile("bmp-truncated", "image", "cut.bmp", truncated("BMP"), "truncated"),
    Hostile("image-16-bit-png", "image", "ramp16.png", sixteen_bit_png, OK),
    Hostile(
        "image-16-bit-tiff",
        "image",
        "16bit.cropped.tif",
        CorpusFile("images/16bit.cropped.tif"),
        OK,
    ),
    Hostile("image-empty", "image", "empty.png", EMPTY, "the file is empty (0 bytes)"),
    Hostile(
        "image-text-named-png",
        "image",
        "words.png",
        constant(b"just some words"),
        "not a recognised image format",
    ),
    # OCR
    Hostile(
        "ocr-taller-than-tesseract",
        "ocr",
        "tall.png",
        tall_page,
        "tesseract reads at most 32767 pixels a side",
    ),
    Hostile(
        "ocr-slow-dense-page",
        "ocr",
        "dense.png",
        dense_page,
        f"OCR timed out after {TESSERACT_TIMEOUT_S} s",
    ),
    Hostile(
        "ocr-canvas-bomb",
        "ocr",
        "bomb.png",
        lambda c: forged_png(100_000, 100_000),
        "the image is too large",
    ),
    Hostile(
        "ocr-16-bit-tiff",
        "ocr",
        "16bit.cropped.tif",
        CorpusFile("images/16bit.cropped.tif"),
        OK,
    ),
    Hostile("ocr-empty", "ocr", "empty.png", EMPTY, "the file is empty (0 bytes)"),
    # Text and embedding
    Hostile("text-empty", "text", "empty.txt", EMPTY, "the file is empty (0 bytes)"),
    Hostile(
        "text-png-bytes",
        "text",
        "image.txt",
        lambda c: encode(noise_image(), "PNG"),
        "not a text file",
    ),
    Hostile(
        "text-random-bytes", "text", "noise.txt", random_bytes(4096), "not a text file"
    ),
    Hostile(
        "text-random-bytes-without-nul",
        "text",
        "noise.txt",
        random_bytes(4096, lowest=1),
        "no text encoding fits its bytes",
    ),
    Hostile(
        "text-broken-utf16",
        "text",
        "broken.txt",
        constant(b"\xff\xfeh\x00i\x00\x00\xd8"),
        "not a text file",
    ),
    Hostile(
        "text-over-size-limit",
        "text",
        "huge.txt",
        oversized_text,
        "over the 50 MB limit (MAX_TEXT_MB)",
    ),
    Hostile("text-cp1251", "text", "russian.txt", constant(RUSSIAN_CP1251), OK),
    Hostile(
        "embedding-empty",
        "embedding",
        "empty.txt",
        EMPTY,
        "the file is empty (0 bytes)",
    ),
    Hostile(
        "embedding-random-bytes",
        "embedding",
        "noise.txt",
        random_bytes(4096),
        "not a text file",
    ),
    Hostile(
        "embedding-over-size-limit",
        "embedding",
        "huge.txt",
        oversized_text,
        "over the 50 MB limit (MAX_TEXT_MB)",
    ),
    # Audio
    Hostile("audio-empty", "audio", "empty.wav", EMPTY, "the file is empty (0 bytes)"),
    Hostile("wav-lying-sizes", "audio", "liar.wav", wav_with_lying_sizes, OK),
    Hostile(
        "wav-zero-channels",
        "audio",
        "mute.wav",
        wav_with_zero_channels,
        "Channel count is zero",
    ),
    Hostile(
        "wav-headerless-pcm",
        "audio",
        "raw.wav",
        headerless_pcm,
        "not a readable audio file: Format not recognised",
    ),
    Hostile(
        "audio-random-bytes",
        "audio",
        "noise.wav",
        random_bytes(4096),
        "not a readable audio file",
    ),
    Hostile(
        "flac-lying-length",
        "audio",
        "endless.flac",
        flac_with_lying_length,
        "(MAX_AUDIO_SAMPLES)",
    ),
    Hostile(
        "ogg-flac-truncated",
        "audio",
        "bach.ogg",
        CorpusFile("audio/bach.ogg", keep=20_000),
        "damaged or truncated",
    ),
    # Documents
    Hostile(
        "document-empty", "document", "empty.pdf", EMPTY, "the file is empty (0 bytes)"
    ),
    Hostile(
        "document-random-bytes",
        "document",
        "noise.txt",
        random_bytes(4096),
        "not a PDF, DOCX or text file",
    ),
    Hostile(
        "document-random-bytes-without-nul",
        "document",
        "noise.txt",
        random_bytes(4096, lowest=1),
        "no text encoding fits its bytes",
    ),
    Hostile(
        "document-png",
        "document",
        "picture.pdf",
        lambda c: encode(noise_image(), "PNG"),
        "the file is a PNG image",
    ),
    Hostile(
        "document-ole-doc",
        "document",
        "old.doc",
        constant(OLE_SIGNATURE + bytes(4088)),
        "legacy Word/OLE file (.doc)",
    ),
    Hostile(
        "document-text-over-size-limit",
        "document",
        "huge.txt",
        oversized_text,
        "(MAX_TEXT_MB)",
    ),
    Hostile("document-cp1251", "document", "russian.txt", constant(RUSSIAN_CP1251), OK),
    Hostile(
        "docx-zip-bomb",
        "document",
        "bomb.docx",
        docx_zip_bomb,
        "the DOCX would unpack to 600.8 MB, over the 512 MB limit",
    ),
    Hostile(
        "docx-compression-ratio",
        "document",
        "dense.docx",
        lambda c: docx_with_zeros(20),
        "(MAX_ZIP_COMPRESSION_RATIO)",
    ),
    Hostile(
        "docx-understated-size",
        "document",
        "liar.docx",
        docx_with_understated_size,
        "the DOCX is damaged: Bad CRC-32",
    ),
    Hostile(
        "docx-encrypted-part",
        "document",
        "secret.docx",
        docx_with_encrypted_part,
        "is encrypted with a ZIP password",
    ),
    Hostile(
        "docx-truncated",
        "document",
        "cut.docx",
        lambda c: small_docx()[:3000],
        "the DOCX is damaged",
    ),
    Hostile(
        "docx-damaged-part",
        "document",
        "broken.docx",
        docx_with_damaged_part,
        "the DOCX is damaged",
    ),
    Hostile(
        "pdf-xref-loop",
        "document",
        "loop.pdf",
        lambda c: build_pdf(pdf_stream(HELLO_PAGE), prev_self=True),
        OK,
    ),
    Hostile(
        "pdf-deep-arrays",
        "document",
        "arrays.pdf",
        lambda c: build_pdf(pdf_stream(HELLO_PAGE), b"/Deep " + nested(b"[", b"]")),
        "the PDF is damaged",
    ),
    Hostile(
        "pdf-deep-dictionaries",
        "document",
        "dicts.pdf",
        lambda c: build_pdf(
            pdf_stream(HELLO_PAGE), b"/Deep " + nested(b"<< /A ", b">> ")
        ),
        OK,
    ),
    Hostile(
        "pdf-deep-content",
        "document",
        "content.pdf",
        lambda c: build_pdf(pdf_stream(b"BT /F1 9 Tf " + nested(b"[", b"]"))),
        OK,
    ),
    Hostile(
        "pdf-huge-stream",
        "document",
        "bomb.pdf",
        pdf_with_huge_stream,
        "(MAX_PDF_STREAM_MB)",
    ),
    Hostile(
        "pdf-too-many-pages",
        "document",
        "long.pdf",
        pdf_with_many_pages,
        "the PDF has 2001 pages, over the limit of 2000 (MAX_PDF_PAGES)",
    ),
    Hostile(
        "pdf-encrypted-no-password",
        "document",
        "locked.pdf",
        CorpusFile("documents/libreoffice-writer-password.pdf"),
        "the PDF is encrypted: send its password",
    ),
    Hostile(
        "pdf-truncated",
        "document",
        "half.pdf",
        CorpusFile("documents/pdflatex-4-pages.pdf", keep=12_000),
        "the PDF is damaged",
    ),
]


def good_page() -> bytes:
    page = Image.new("L", (600, 120), 255)
    font = ImageFont.load_default(size=40)
    ImageDraw.Draw(page).text((20, 30), "Hello world", fill=0, font=font)
    return encode(page, "PNG")


GOOD_TEXT = b"A calm and pleasant morning. The sun is warm on the quiet garden."
GOOD_FILES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "image": ("good-file.png", lambda: encode(noise_image(), "PNG")),
    "ocr": ("good-file.png", good_page),
    "text": ("good-file.txt", lambda: GOOD_TEXT),
    "embedding": ("good-file.txt", lambda: GOOD_TEXT),
    "audio": ("good-file.wav", lambda: wav(tone())),
    "document": ("good-file.pdf", lambda: build_pdf(pdf_stream(HELLO_PAGE))),
}
"""One file per task type that must be processed beside each hostile one."""

ROWS = pytest.mark.parametrize(
    "row", HOSTILE_INPUTS, ids=[row.id for row in HOSTILE_INPUTS]
)


def make_bytes(row: Hostile, request: pytest.FixtureRequest) -> bytes:
    """The row's bytes; only rows read from the corpus need (and skip without) it."""
    if isinstance(row.make, CorpusFile):
        return row.make(request.getfixturevalue("corpus"))
    return row.make(None)


def run_processor(task_type: str, filename: str, data: bytes):
    """The processor's result for one file, or the ProcessingError it gave."""
    processor = load_processor(TASK_TYPES[task_type])
    if TASK_TYPES[task_type].whole_request:
        (outcome,) = processor.process_batch([(filename, data)])
        return outcome
    try:
        return processor.process(data, filename)
    except ProcessingError as error:
        return error


@ROWS
def test_processor_gives_hostile_input_a_clear_outcome(row, request, monkeypatch):
    """The processor gives ProcessingError with the expected phrase, or a result."""
    monkeypatch.setattr(ocr, "TESSERACT_TIMEOUT_S", TESSERACT_TIMEOUT_S)

    outcome = run_processor(row.task_type, row.filename, make_bytes(row, request))

    if row.expected != OK:
        assert isinstance(outcome, ProcessingError), str(outcome)[:200]
        assert row.expected in str(outcome)
    elif isinstance(outcome, bytes):
        assert outcome.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        assert not isinstance(outcome, ProcessingError), str(outcome)
        result = json.loads(json.dumps(outcome, allow_nan=False))
        assert result["filename"] == row.filename


@pytest.fixture(scope="module")
def hostile_cluster(tmp_path_factory):
    """A master and one slave of two workers, shared by this module's slave tests."""
    from scripts.local_cluster import LocalCluster

    cluster = LocalCluster(tmp_path_factory.mktemp("hostile-cluster"))
    try:
        cluster.start_master()
        cluster.start_slave(
            SLAVE_WORKERS=2, FILE_TIMEOUT=20, TESSERACT_TIMEOUT_S=TESSERACT_TIMEOUT_S
        )
        cluster.wait_for_slaves(1)
        yield cluster
    finally:
        cluster.stop()


@ROWS
def test_slave_isolates_hostile_input_from_a_good_file(row, request, hostile_cluster):
    """The hostile file gets its error, the good one is saved, the slave lives on."""
    task_type = TASK_TYPES[row.task_type]
    good_name, make_good = GOOD_FILES[row.task_type]
    files = [
        (task_type.upload_field, (row.filename, make_bytes(row, request))),
        (task_type.upload_field, (good_name, make_good())),
    ]

    answer = requests.post(
        f"{hostile_cluster.master_url}/assign_task",
        data={"task_type": row.task_type},
        files=files,
        timeout=120,
    ).json()

    outcomes = {entry["filename"]: entry for entry in answer["files"]}
    if row.expected == OK:
        assert "saved_file" in outcomes[row.filename], outcomes[row.filename]
    else:
        assert row.expected in outcomes[row.filename].get("error", ""), outcomes
    assert Path(outcomes[good_name]["saved_file"]).is_file(), outcomes[good_name]
    status = requests.get(f"{hostile_cluster.slaves[0].url}/check_status", timeout=5)
    assert status.json()["status"] == "alive"
