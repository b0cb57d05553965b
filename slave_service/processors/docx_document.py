"""Text, headings, tables, headers, footers and properties of a DOCX (python-docx).

The text holds the body's paragraphs and tables in document order, one paragraph a
line, each table row on a line with its cells joined by a tab.

Limits: a merged cell repeats in every grid cell it covers, tables nested inside a cell
are left out of that cell's text, and text boxes, footnotes and comments are not read.
Headings are found by the built-in style names "Title" and "Heading N" only.

Before python-docx reads the ZIP, its central directory must state that the parts
unpack to at most limits.MAX_ZIP_UNCOMPRESSED_BYTES in all (env
MAX_ZIP_UNCOMPRESSED_MB), with no part of a megabyte or more packed over
limits.MAX_ZIP_COMPRESSION_RATIO times (env MAX_ZIP_COMPRESSION_RATIO); each part is
then unpacked in chunks to check that it holds no more than stated.
"""

import copy
import re
import zipfile
import zlib
from datetime import datetime
from io import BytesIO

import docx
from docx.blkcntnr import BlockItemContainer
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml.etree import XMLSyntaxError

from slave_service.errors import ProcessingError
from slave_service.processors.limits import (
    BYTES_PER_MB,
    MAX_ZIP_COMPRESSION_RATIO,
    MAX_ZIP_UNCOMPRESSED_BYTES,
    ZIP_RATIO_MIN_PART_BYTES,
    describe_bytes,
)

DOCX_READ_FAILURES = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    PackageNotFoundError,
    XMLSyntaxError,
    # python-docx raises these for missing parts and unexpected content types.
    KeyError,
    ValueError,
    # zipfile, for compression methods and versions it does not support.
    NotImplementedError,
)

UNPACK_CHUNK_BYTES = BYTES_PER_MB
"""Most bytes unpacked at once while checking a part's size."""
ZIP_ENCRYPTED_FLAG = 0x1

HEADING_STYLE = re.compile(r"heading ([1-9])", re.IGNORECASE)

CORE_TEXT_PROPERTIES = (
    "author",
    "title",
    "subject",
    "keywords",
    "category",
    "comments",
    "last_modified_by",
)
CORE_DATE_PROPERTIES = ("created", "modified")


def extract_docx(data: bytes) -> dict:
    """The DOCX's text and structure; raises ProcessingError when it cannot be read."""
    try:
        check_unpacked_sizes(data)
        document = docx.Document(BytesIO(data))
        body = read_body(document)
        headers_footers = read_headers_footers(document)
        core_properties = read_core_properties(document)
    except DOCX_READ_FAILURES as error:
        raise ProcessingError(f"the DOCX is damaged: {describe(error)}") from None

    return {
        **body,
        "headers_footers": headers_footers,
        "core_properties": core_properties,
    }


def check_unpacked_sizes(data: bytes) -> None:
    """Refuse a ZIP bomb before python-docx unpacks any of its parts."""
    with zipfile.ZipFile(BytesIO(data)) as archive:
        parts = archive.infolist()
        check_stated_sizes(parts)
        for part in parts:
            check_part_holds_stated_size(archive, part)


def check_stated_sizes(parts: list[zipfile.ZipInfo]) -> None:
    """Refuse parts whose sizes in the central directory add up to a ZIP bomb."""
    total_bytes = sum(part.file_size for part in parts)
    if total_bytes > MAX_ZIP_UNCOMPRESSED_BYTES:
        raise ProcessingError(
            f"the DOCX would unpack to {describe_bytes(total_bytes)}, over the "
            f"{describe_bytes(MAX_ZIP_UNCOMPRESSED_BYTES)} limit "
            "(MAX_ZIP_UNCOMPRESSED_MB)"
        )
    for part in parts:
        if part.file_size < ZIP_RATIO_MIN_PART_BYTES:
            continue
        ratio = part.file_size / max(part.compress_size, 1)
        if ratio > MAX_ZIP_COMPRESSION_RATIO:
            raise ProcessingError(
                f"the DOCX part {part.filename} would unpack {ratio:.0f} times larger "
                f"than it is packed ({describe_bytes(part.compress_size)} to "
                f"{describe_bytes(part.file_size)}), over the limit of "
                f"{MAX_ZIP_COMPRESSION_RATIO:g} (MAX_ZIP_COMPRESSION_RATIO)"
            )


def check_part_holds_stated_size(
    archive: zipfile.ZipFile, part: zipfile.ZipInfo
) -> None:
    """Unpack a part in chunks, refusing it if it holds more than its stated size.

    zipfile cuts a part at its stated size only after unpacking a whole read, so a
    part whose directory entry understates its size could unpack gigabytes in one
    python-docx read. One byte more than stated is allowed here, which zipfile then
    reports as a bad CRC-32.
    """
    if part.flag_bits & ZIP_ENCRYPTED_FLAG:
        raise ProcessingError(
            f"the DOCX is damaged: its part {part.filename} is encrypted with a ZIP "
            "password, which Word never does"
        )
    probe = copy.copy(part)
    probe.file_size = part.file_size + 1
    unpacked_bytes = 0
    with archive.open(probe) as stream:
        while chunk := stream.read(UNPACK_CHUNK_BYTES):
            unpacked_bytes += len(chunk)
    if unpacked_bytes > part.file_size:
        raise ProcessingError(
            f"the DOCX is damaged: its part {part.filename} unpacks to more than "
            f"the {part.file_size} bytes its ZIP directory states"
        )


def read_body(document) -> dict:
    """Body text, paragraph count, headings and tables, in document order."""
    lines = []
    paragraph_count = 0
    headings = []
    tables = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = read_table(block)
            tables.append(rows)
            lines.extend("\t".join(row) for row in rows)
            continue

        lines.append(block.text)
        if block.text.strip():
            paragraph_count += 1
            level = heading_level(block)
            if level is not None:
                headings.append({"level": level, "text": block.text})

    return {
        "text": "\n".join(lines),
        "paragraph_count": paragraph_count,
        "headings": headings,
        "tables": tables,
    }


def read_table(table: Table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def heading_level(paragraph: Paragraph) -> int | None:
    """0 for the "Title" style, N for "Heading N", None for other styles."""
    style_name = paragraph.style.name if paragraph.style is not None else None
    if not style_name:
        return None
    if style_name.lower() == "title":
        return 0
    match = HEADING_STYLE.fullmatch(style_name)
    return int(match.group(1)) if match else None


def render_blocks(container: BlockItemContainer) -> str:
    """Paragraphs and tables of a header or footer as text, like the body."""
    lines = []
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            lines.extend("\t".join(row) for row in read_table(block))
        else:
            lines.append(block.text)
    return "\n".join(lines)


def read_headers_footers(document) -> list[dict]:
    """Each section's header and footer, plus first-page and even-page ones in use.

    A section linked to the previous one shows that section's text, as Word does.
    """
    even_pages_differ = document.settings.odd_and_even_pages_header_footer
    sections = []
    for number, section in enumerate(document.sections, 1):
        entry = {
            "section": number,
            "header": render_blocks(section.header),
            "footer": render_blocks(section.footer),
        }
        if section.different_first_page_header_footer:
            entry["first_page_header"] = render_blocks(section.first_page_header)
            entry["first_page_footer"] = render_blocks(section.first_page_footer)
        if even_pages_differ:
            entry["even_page_header"] = render_blocks(section.even_page_header)
            entry["even_page_footer"] = render_blocks(section.even_page_footer)
        sections.append(entry)
    return sections


def read_core_properties(document) -> dict:
    """Author, title, dates and the like; all None when the file has no such part."""
    names = CORE_TEXT_PROPERTIES + ("revision",) + CORE_DATE_PROPERTIES
    try:
        document.part.package.part_related_by(RELATIONSHIP_TYPE.CORE_PROPERTIES)
    except KeyError:
        # python-docx would invent defaults (title "Word Document", modified now).
        return dict.fromkeys(names)

    properties = document.core_properties
    result: dict[str, object] = {}
    for name in CORE_TEXT_PROPERTIES:
        result[name] = getattr(properties, name) or None
    result["revision"] = properties.revision or None
    for name in CORE_DATE_PROPERTIES:
        result[name] = read_date(properties, name)
    return result


def read_date(properties, name: str) -> str | None:
    try:
        value = getattr(properties, name)
    except ValueError:  # a date python-docx cannot parse
        return None
    return value.isoformat() if isinstance(value, datetime) else None


def describe(error: Exception) -> str:
    """The error's message, without the quotes str() puts around a KeyError's."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error) or type(error).__name__
