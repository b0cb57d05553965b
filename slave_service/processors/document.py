"""Text, structure and metadata of a PDF, a DOCX or a plain-text document.

The format comes from the file's content, not its name: "%PDF-" near the start makes a
PDF, a ZIP holding a Word main document makes a DOCX, and bytes that decode as text
make plain text. Every result has filename, format ("pdf", "docx" or "text"), the full
text, character_count and word_count; the rest depends on the format (see
pdf_document and docx_document).

Limits: legacy Word (.doc), RTF, OpenDocument and other formats are refused with a
message naming what the file looks like. PDF text comes only from text the PDF stores
(scanned pages come out empty), and the PDF and DOCX limits of their modules apply.
"""

import zipfile
import zlib
from io import BytesIO

from slave_service.errors import ProcessingError
from slave_service.processors.decoding import BinaryDataError, decode_text, find_words
from slave_service.processors.docx_document import extract_docx
from slave_service.processors.pdf_document import extract_pdf

PDF_MARKER = b"%PDF-"
PDF_MARKER_SEARCH_BYTES = 1024
"""Readers accept "%PDF-" after leading junk within the first kilobyte."""

ZIP_SIGNATURE = b"PK\x03\x04"
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTED_OFFICE_STREAM = "EncryptedPackage".encode("utf_16_le")
"""Stream name inside the OLE file that Office writes for a password-protected DOCX."""
WORD_MAIN_DOCUMENT = "word/document.xml"
CONTENT_TYPES_PART = "[Content_Types].xml"
CONTENT_TYPES_MAX_BYTES = 1_000_000
WORD_MAIN_CONTENT_TYPE = b"wordprocessingml.document.main"

UNSUPPORTED = "unsupported document format"

BINARY_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"{\\rtf", "an RTF document; save it as DOCX or PDF"),
)

# Main parts of the other ZIP-based office formats, to name them in the refusal.
OTHER_ZIP_FORMATS = (
    ("xl/workbook.xml", "an Excel workbook (.xlsx)"),
    ("ppt/presentation.xml", "a PowerPoint presentation (.pptx)"),
    ("mimetype", "an OpenDocument file; save it as DOCX or PDF"),
)


def process(data: bytes, filename: str, password: str | None = None) -> dict:
    """Read a document; raises ProcessingError for unsupported or damaged files."""
    if not data:
        raise ProcessingError("the file is empty (0 bytes)")

    document_format = detect_format(data)
    if document_format == "pdf":
        details = extract_pdf(data, password)
    elif document_format == "docx":
        details = extract_docx(data)
    else:
        details = extract_plain_text(data)

    text = details["text"]
    return {
        "filename": filename,
        "format": document_format,
        "character_count": len(text),
        "word_count": len(find_words(text)),
        **details,
    }


def detect_format(data: bytes) -> str:
    """Return "pdf", "docx" or "text"; raises ProcessingError naming other formats."""
    if PDF_MARKER in data[:PDF_MARKER_SEARCH_BYTES]:
        return "pdf"
    if data.startswith(ZIP_SIGNATURE):
        return detect_zip_format(data)
    if data.startswith(OLE_SIGNATURE) and ENCRYPTED_OFFICE_STREAM in data:
        raise ProcessingError(
            f"{UNSUPPORTED}: a password-protected Office file; remove the password "
            "in Word and send it again"
        )
    if data.startswith(OLE_SIGNATURE):
        raise ProcessingError(
            f"{UNSUPPORTED}: legacy Word/OLE file (.doc); save it as DOCX or PDF"
        )
    for signature, description in BINARY_SIGNATURES:
        if data.startswith(signature):
            raise ProcessingError(f"{UNSUPPORTED}: the file is {description}")
    return "text"


def detect_zip_format(data: bytes) -> str:
    """Return "docx" for a Word document; raises ProcessingError for other ZIPs."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            names = set(archive.namelist())
            content_types = b""
            if CONTENT_TYPES_PART in names:
                with archive.open(CONTENT_TYPES_PART) as part:
                    content_types = part.read(CONTENT_TYPES_MAX_BYTES)
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,  # an encrypted entry
    ) as error:
        # A cut-off DOCX still shows its part names in the local file headers.
        if WORD_MAIN_DOCUMENT.encode() in data:
            raise ProcessingError(
                f"the DOCX is damaged: its ZIP container is cut off or broken ({error})"
            ) from None
        raise ProcessingError(
            f"{UNSUPPORTED}: a damaged ZIP archive ({error})"
        ) from None

    # Word may name the main part differently; its content type says what it is.
    if WORD_MAIN_DOCUMENT in names or WORD_MAIN_CONTENT_TYPE in content_types:
        return "docx"
    for part_name, description in OTHER_ZIP_FORMATS:
        if part_name in names:
            raise ProcessingError(f"{UNSUPPORTED}: the file is {description}")
    raise ProcessingError(f"{UNSUPPORTED}: a ZIP archive that is not a DOCX")


def extract_plain_text(data: bytes) -> dict:
    """Text, encoding and line count of a plain-text file."""
    try:
        decoded = decode_text(data)
    except BinaryDataError as error:
        raise ProcessingError(
            f"{UNSUPPORTED}: not a PDF, DOCX or text file ({error.reason})"
        ) from None
    return {
        "text": decoded.text,
        "encoding": decoded.encoding,
        "encoding_method": decoded.method,
        "lines": len(decoded.text.splitlines()),
    }
