"""Text, pages, metadata and outline of a PDF, read with pypdf.

Limits: only text the PDF stores as text comes out; scanned pages give empty text (no
OCR here). Reading order and spacing are pypdf's reconstruction, which can run columns
together or split words. Unparseable metadata dates come out as None. PDFs of more than
limits.MAX_PDF_PAGES pages (env MAX_PDF_PAGES) are refused, and so are those with a
stream over limits.MAX_PDF_STREAM_BYTES stored or decompressed (env MAX_PDF_STREAM_MB)
or past one of pypdf's other safety limits (nesting, object and page-tree counts).
"""

import logging
import zlib
from datetime import datetime
from io import BytesIO

from pypdf import (
    Configuration,
    PageObject,
    PasswordType,
    PdfReader,
    apply_configuration,
)
from pypdf.errors import DependencyError, LimitReachedError, PyPdfError
from pypdf.generic import Destination

from slave_service.errors import ProcessingError
from slave_service.processors.limits import (
    MAX_PDF_PAGES,
    MAX_PDF_STREAM_BYTES,
    describe_bytes,
)

logger = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"

PDF_READ_FAILURES = (
    PyPdfError,
    # pypdf lets these through for some malformed objects and streams.
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    AssertionError,
    RecursionError,
    zlib.error,
)

STREAM_SIZE_LIMITS = {
    name: MAX_PDF_STREAM_BYTES
    for name in (
        "maximum_declared_stream_length",
        "array_based_stream_maximum_output_length",
        "zlib_maximum_output_length",
        "lzw_maximum_output_length",
        "run_length_maximum_output_length",
        "brotli_maximum_output_length",
        "jbig2_maximum_output_length",
    )
}
"""pypdf's per-stream size limits, all set to MAX_PDF_STREAM_BYTES."""

# pypdf counts the input of every filter of a stream; keep that room above the limit.
STREAM_DECODING_WORK_BYTES = max(
    Configuration().stream_decoding_work_maximum_length, 2 * MAX_PDF_STREAM_BYTES
)

STREAM_LIMIT_MESSAGES = (
    "while decompressing",
    "Declared stream length",
    "Array-based stream",
    "decoding work",
)
"""Parts of pypdf's LimitReachedError messages that mean a stream was too large."""

METADATA_TEXT_FIELDS = ("title", "author", "subject", "creator", "producer")
METADATA_DATE_FIELDS = ("creation_date", "modification_date")


def extract_pdf(data: bytes, password: str | None = None) -> dict:
    """Text by page and structure of a PDF; raises ProcessingError if unreadable."""
    try:
        with apply_configuration(
            stream_decoding_work_maximum_length=STREAM_DECODING_WORK_BYTES,
            **STREAM_SIZE_LIMITS,
        ):
            reader = PdfReader(BytesIO(data), strict=False)
            encrypted = reader.is_encrypted
            if encrypted:
                unlock(reader, password)
            check_page_count(len(reader.pages))
            pages = [
                extract_page(number, page)
                for number, page in enumerate(reader.pages, 1)
            ]
            metadata = read_metadata(reader)
            outline = flatten_outline(reader, reader.outline)
    except LimitReachedError as error:
        raise limit_error(error) from None
    except PDF_READ_FAILURES as error:
        raise ProcessingError(f"the PDF is damaged: {describe(error)}") from None
    except NotImplementedError as error:
        raise ProcessingError(
            f"the PDF uses a feature this service cannot read: {describe(error)}"
        ) from None

    return {
        "text": PAGE_SEPARATOR.join(page["text"] for page in pages),
        "page_count": len(pages),
        "pages": pages,
        "metadata": metadata,
        "outline": outline,
        "encrypted": encrypted,
    }


def check_page_count(page_count: int) -> None:
    if page_count > MAX_PDF_PAGES:
        raise ProcessingError(
            f"the PDF has {page_count} pages, over the limit of {MAX_PDF_PAGES} "
            "(MAX_PDF_PAGES); split it into smaller PDFs"
        )


def limit_error(error: LimitReachedError) -> ProcessingError:
    """The error for a PDF past one of pypdf's safety limits, naming ours if it is."""
    detail = describe(error)
    if any(message in detail for message in STREAM_LIMIT_MESSAGES):
        return ProcessingError(
            "a stream in the PDF is over the "
            f"{describe_bytes(MAX_PDF_STREAM_BYTES)} limit, stored or decompressed "
            f"(MAX_PDF_STREAM_MB); it may be a decompression bomb (pypdf: {detail})"
        )
    return ProcessingError(f"the PDF exceeds a safety limit of the reader: {detail}")


def unlock(reader: PdfReader, password: str | None) -> None:
    """Decrypt with the empty user password, else with the password the request gave."""
    try:
        if reader.decrypt("") != PasswordType.NOT_DECRYPTED:
            return
        if not password:
            raise ProcessingError(
                "the PDF is encrypted: send its password in the 'password' field"
            )
        if reader.decrypt(password) == PasswordType.NOT_DECRYPTED:
            raise ProcessingError("the password given does not open this encrypted PDF")
    except (DependencyError, NotImplementedError) as error:
        raise ProcessingError(
            f"the PDF uses an encryption method this service cannot open: {error}"
        ) from None


def extract_page(number: int, page: PageObject) -> dict:
    """One page's text; a page that fails gets an error and empty text.

    A page past a safety limit fails the whole PDF instead, as it may be a bomb.
    """
    try:
        return {"page": number, "text": page.extract_text()}
    except LimitReachedError:
        raise
    except Exception as error:  # one broken page should not lose the other pages
        logger.debug("Text extraction failed on page %d", number, exc_info=True)
        return {"page": number, "text": "", "error": f"text extraction failed: {error}"}


def read_metadata(reader: PdfReader) -> dict:
    """The document information fields, dates as ISO-8601 strings; None where absent."""
    information = reader.metadata
    metadata: dict[str, str | None] = {}
    for field in METADATA_TEXT_FIELDS:
        value = getattr(information, field) if information is not None else None
        metadata[field] = str(value) if value is not None else None
    for field in METADATA_DATE_FIELDS:
        metadata[field] = read_date(information, field)
    return metadata


def read_date(information, field: str) -> str | None:
    if information is None:
        return None
    try:
        value = getattr(information, field)
    except ValueError:  # a date string pypdf cannot parse
        return None
    return value.isoformat() if isinstance(value, datetime) else None


def flatten_outline(reader: PdfReader, items: list, level: int = 1) -> list[dict]:
    """Bookmarks in reading order; top level is 1, a nested list is one level deeper."""
    entries = []
    for item in items:
        if isinstance(item, list):
            entries.extend(flatten_outline(reader, item, level + 1))
        elif isinstance(item, Destination):
            page_index = reader.get_destination_page_number(item)
            entries.append(
                {
                    "title": str(item.title) if item.title is not None else "",
                    "level": level,
                    "page": page_index + 1 if page_index is not None else None,
                }
            )
    return entries


def describe(error: Exception) -> str:
    return str(error) or type(error).__name__
