"""A small set of sample files of every task type, made on the spot."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile
from docx import Document
from PIL import Image, ImageDraw, ImageFont

SAMPLE_TEXT = (
    "The master shares files among its slaves.\n"
    "Every slave processes its share quickly, and the results are stored safely.\n\n"
    "Nothing is lost: a file that fails gets a clear error of its own."
)


def pdf_with_text(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds the lines, in Helvetica."""
    text_ops = " ".join(
        f"BT /F1 14 Tf 72 {720 - 20 * number} Td ({line}) Tj ET"
        for number, line in enumerate(lines)
    ).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(text_ops) + text_ops + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)


def page_image(lines: list[str]) -> Image.Image:
    """Black text on white, large enough for OCR."""
    font = ImageFont.load_default(size=36)
    page = Image.new("L", (1400, 120 + 60 * len(lines)), 255)
    draw = ImageDraw.Draw(page)
    for number, line in enumerate(lines):
        draw.text((60, 60 + 60 * number), line, fill=0, font=font)
    return page


def make_samples(folder: Path) -> dict[str, list[Path]]:
    """Write the samples into folder; returns the files for each task type."""
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, list[Path]] = {}

    gradient = np.linspace(0, 255, 640, dtype=np.uint8)
    rgb = np.stack([np.tile(gradient, (480, 1))] * 3, axis=-1)
    rgb[..., 1] = rgb[..., 1][::-1]
    Image.fromarray(rgb).save(folder / "gradient.jpg", quality=90)
    rgba = Image.new("RGBA", (200, 120), (200, 40, 40, 128))
    rgba.save(folder / "translucent.png")
    made["image"] = [folder / "gradient.jpg", folder / "translucent.png"]

    page_image(["Hello from the sample page", "Distributed OCR works"]).save(
        folder / "page.png"
    )
    made["ocr"] = [folder / "page.png"]

    (folder / "notes.txt").write_text(SAMPLE_TEXT, encoding="utf-8")
    (folder / "review.txt").write_text(
        "A wonderful, fast and reliable service. I love it!", encoding="utf-8"
    )
    made["text"] = made["embedding"] = [folder / "notes.txt", folder / "review.txt"]

    rate = 16_000
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * math.pi * 440 * t)
    soundfile.write(folder / "tone.wav", tone, rate, subtype="PCM_16")
    made["audio"] = [folder / "tone.wav"]

    document = Document()
    document.add_heading("Sample report", level=1)
    document.add_paragraph(SAMPLE_TEXT)
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("name", "value"), ("files", "3")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    document.save(folder / "report.docx")
    (folder / "summary.pdf").write_bytes(pdf_with_text(["Sample PDF", "Two lines"]))
    made["document"] = [folder / "report.docx", folder / "summary.pdf"]
    return made
