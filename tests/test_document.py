"""Tests of the document processor on corpus PDFs and DOCX files and made-up files."""

import io
import json
import re
import zipfile

import docx
import pypdf
import pytest
from docx.enum.section import WD_SECTION
from pypdf import PdfWriter

from slave_service.errors import ProcessingError
from slave_service.processors import document

PASSWORD_PDF = "libreoffice-writer-password.pdf"
ARABIC_LETTER = re.compile("[\u0621-\u064a]")


def read_document(corpus, name: str, **options) -> dict:
    return document.process((corpus / "documents" / name).read_bytes(), name, **options)


def read_text_file(corpus, name: str) -> dict:
    return document.process((corpus / "text" / name).read_bytes(), name)


def docx_bytes(word_document) -> bytes:
    output = io.BytesIO()
    word_document.save(output)
    return output.getvalue()


def pdf_bytes(writer: PdfWriter) -> bytes:
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def rewrite_zip(data: bytes, drop: set[str], edit: dict) -> bytes:
    """A copy of a ZIP without the parts in drop, with edit[name](bytes) applied."""
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        with zipfile.ZipFile(output, "w") as target:
            for name in source.namelist():
                if name in drop:
                    continue
                content = source.read(name)
                target.writestr(name, edit.get(name, lambda part: part)(content))
    return output.getvalue()


# PDF


def test_four_page_pdf(corpus):
    """pdflatex-4-pages.pdf has four pages of text, joined by blank lines."""
    result = read_document(corpus, "pdflatex-4-pages.pdf")

    assert result["format"] == "pdf"
    assert result["page_count"] == 4
    assert [page["page"] for page in result["pages"]] == [1, 2, 3, 4]
    assert result["pages"][0]["text"].startswith(
        "Hello, here is some text without a meaning."
    )
    assert result["text"] == "\n\n".join(page["text"] for page in result["pages"])
    assert result["character_count"] == len(result["text"])
    assert result["encrypted"] is False
    assert result["outline"] == []


def test_pdf_metadata(corpus):
    """The pdfTeX metadata comes out with ISO-8601 dates and None for absent fields."""
    metadata = read_document(corpus, "pdflatex-4-pages.pdf")["metadata"]

    assert metadata == {
        "title": None,
        "author": None,
        "subject": None,
        "creator": "TeX",
        "producer": "pdfTeX-1.40.23",
        "creation_date": "2022-04-03T19:59:45+02:00",
        "modification_date": "2022-04-03T19:59:45+02:00",
    }


def test_google_docs_pdf(corpus):
    """The Google Docs PDF has its title and the Zen of Python text."""
    result = read_document(corpus, "google-doc-document.pdf")

    assert result["metadata"]["title"] == "PDF Example Document"
    assert result["text"].startswith("Example document\nBeautiful is better than ugly.")
    assert result["page_count"] == 1


def test_arabic_pdf(corpus):
    """habibi.pdf holds Arabic letters and the Latin word habibi."""
    result = read_document(corpus, "habibi.pdf")

    assert len(ARABIC_LETTER.findall(result["text"])) >= 10
    assert "habibi" in result["text"]
    assert result["word_count"] == 3
    assert result["metadata"]["producer"] == "WeasyPrint 54.1"


@pytest.mark.parametrize(
    "name",
    ["minimal-document.pdf", "002-trivial-libre-office-writer.pdf"],
)
def test_lorem_ipsum_pdfs(corpus, name):
    """The one-page LaTeX and LibreOffice PDFs start with Lorem ipsum."""
    result = read_document(corpus, name)

    assert result["page_count"] == 1
    assert result["text"].startswith("Lorem ipsum dolor sit amet, consetetur")


def test_encrypted_pdf_needs_its_password(corpus):
    """Without a password the encrypted PDF asks for one in the password field."""
    with pytest.raises(ProcessingError) as caught:
        read_document(corpus, PASSWORD_PDF)

    assert str(caught.value) == (
        "the PDF is encrypted: send its password in the 'password' field"
    )


def test_encrypted_pdf_refuses_a_wrong_password(corpus):
    """A wrong password gets its own message."""
    with pytest.raises(ProcessingError) as caught:
        read_document(corpus, PASSWORD_PDF, password="wrong")

    assert str(caught.value) == "the password given does not open this encrypted PDF"


def test_encrypted_pdf_opens_with_its_password(corpus):
    """The user password gives the text and marks the result encrypted."""
    result = read_document(corpus, PASSWORD_PDF, password="openpassword")

    assert result["encrypted"] is True
    assert result["text"].startswith("Lorem ipsum dolor sit amet, consetetur")
    assert result["metadata"]["producer"] == "LibreOffice 6.4"


def test_pdf_with_empty_user_password_opens_without_one():
    """A PDF encrypted with an owner password only opens with no password given."""
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")

    result = document.process(pdf_bytes(writer), "owner-only.pdf")

    assert result["encrypted"] is True
    assert result["page_count"] == 1


def test_pdf_outline_is_flattened_with_levels():
    """Nested bookmarks come out in order with 1-based levels and pages."""
    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(200, 200)
    chapter = writer.add_outline_item(title="Chapter 1", page_number=0)
    writer.add_outline_item(title="Section 1.1", page_number=1, parent=chapter)
    writer.add_outline_item(title="Chapter 2", page_number=2)
    writer.add_metadata({"/Author": "Ada", "/ModDate": "not a date"})

    result = document.process(pdf_bytes(writer), "outline.pdf")

    assert result["outline"] == [
        {"title": "Chapter 1", "level": 1, "page": 1},
        {"title": "Section 1.1", "level": 2, "page": 2},
        {"title": "Chapter 2", "level": 1, "page": 3},
    ]
    assert result["metadata"]["author"] == "Ada"
    assert result["metadata"]["modification_date"] is None


def test_failing_page_keeps_the_others(corpus, monkeypatch):
    """A page whose extraction raises gets an error; the other pages keep their text."""
    original = pypdf.PageObject.extract_text

    def fail_on_second_page(page, *args, **kwargs):
        if page.page_number == 1:
            raise KeyError("/Font")
        return original(page, *args, **kwargs)

    monkeypatch.setattr(pypdf.PageObject, "extract_text", fail_on_second_page)

    result = read_document(corpus, "pdflatex-4-pages.pdf")

    assert result["pages"][1] == {
        "page": 2,
        "text": "",
        "error": "text extraction failed: '/Font'",
    }
    assert result["pages"][0]["text"].startswith("Hello, here is some text")
    assert "error" not in result["pages"][2]


def test_truncated_pdf_is_damaged(corpus):
    """Half a PDF is reported as damaged."""
    data = (corpus / "documents" / "pdflatex-4-pages.pdf").read_bytes()

    with pytest.raises(ProcessingError, match=r"^the PDF is damaged: "):
        document.process(data[: len(data) // 2], "half.pdf")


def test_pdf_named_docx_is_read_as_pdf(corpus):
    """The content decides the format, not the file name."""
    data = (corpus / "documents" / "minimal-document.pdf").read_bytes()

    result = document.process(data, "report.docx")

    assert result["format"] == "pdf"
    assert result["filename"] == "report.docx"


# DOCX


def test_docx_text_and_heading(corpus):
    """test.docx has a Heading 1 and a normal paragraph."""
    result = read_document(corpus, "test.docx")

    assert result["format"] == "docx"
    assert result["text"] == "python-docx was here!\npython-docx was here too!"
    assert result["headings"] == [{"level": 1, "text": "python-docx was here!"}]
    assert result["paragraph_count"] == 2
    assert result["word_count"] == 9
    assert result["core_properties"]["author"] == "Cisco Employee"


def test_docx_known_paragraphs(corpus):
    """par-known-paragraphs.docx has a heading paragraph and a normal one."""
    result = read_document(corpus, "par-known-paragraphs.docx")

    assert result["paragraph_count"] == 2
    assert result["text"] == "Heading Paragraph\nNormal paragraph"
    assert result["headings"] == [{"level": 1, "text": "Heading Paragraph"}]


def test_docx_tables_keep_their_shape(corpus):
    """tbl-having-tables.docx has empty 2x2, 3x3 and 2x4 tables."""
    tables = read_document(corpus, "tbl-having-tables.docx")["tables"]

    assert tables == [
        [["", ""], ["", ""]],
        [["", "", ""], ["", "", ""], ["", "", ""]],
        [["", "", "", ""], ["", "", "", ""]],
    ]


def test_docx_headers_and_footers(corpus):
    """The second section shows the header and footer it links to."""
    result = read_document(corpus, "hdr-header-footer.docx")

    header, footer = "Header for section-1", "Footer for section 1"
    assert result["headers_footers"] == [
        {"section": 1, "header": header, "footer": footer},
        {"section": 2, "header": header, "footer": footer},
    ]
    assert result["text"] == "section with header\n\nsection without header of its own."


def test_docx_core_properties(corpus):
    """doc-coreprops.docx carries every core property, dates in ISO-8601."""
    properties = read_document(corpus, "doc-coreprops.docx")["core_properties"]

    assert properties == {
        "author": "Steve Canny",
        "title": "Title",
        "subject": "Subject",
        "keywords": "key; word; keyword",
        "category": "Category",
        "comments": "Description",
        "last_modified_by": "Steve Canny",
        "revision": 2,
        "created": "2014-12-13T22:02:00+00:00",
        "modified": "2014-12-13T22:06:00+00:00",
    }


def test_made_docx_structure():
    """Title, headings, a table between paragraphs and page variants come out."""
    word_document = docx.Document()
    word_document.add_paragraph("Quarterly report", style="Title")
    word_document.add_paragraph("Sales", style="Heading 2")
    table = word_document.add_table(rows=2, cols=2)
    for row, values in zip(table.rows, [("Region", "Total"), ("North", "42")]):
        for cell, value in zip(row.cells, values):
            cell.text = value
    word_document.add_paragraph("Closing words.")
    section = word_document.sections[0]
    section.header.paragraphs[0].text = "Every page"
    section.different_first_page_header_footer = True
    section.first_page_header.paragraphs[0].text = "Cover page"
    word_document.settings.odd_and_even_pages_header_footer = True
    section.even_page_footer.paragraphs[0].text = "Even footer"
    second_section = word_document.add_section(WD_SECTION.NEW_PAGE)
    second_section.different_first_page_header_footer = False

    result = document.process(docx_bytes(word_document), "made.docx")

    # The section break is an empty paragraph of its own, hence the last "\n".
    assert result["text"] == (
        "Quarterly report\nSales\nRegion\tTotal\nNorth\t42\nClosing words.\n"
    )
    assert result["headings"] == [
        {"level": 0, "text": "Quarterly report"},
        {"level": 2, "text": "Sales"},
    ]
    assert result["tables"] == [[["Region", "Total"], ["North", "42"]]]
    assert result["paragraph_count"] == 3
    first_section = result["headers_footers"][0]
    assert first_section["header"] == "Every page"
    assert first_section["first_page_header"] == "Cover page"
    assert first_section["even_page_footer"] == "Even footer"
    second = result["headers_footers"][1]
    assert second["header"] == "Every page"
    assert "first_page_header" not in second


def test_docx_without_core_properties_gives_none():
    """A DOCX with no core-properties part reports None, not python-docx defaults."""
    word_document = docx.Document()
    word_document.add_paragraph("No properties here.")

    def drop_core_relationship(relationships: bytes) -> bytes:
        return re.sub(rb"<Relationship [^>]*core-properties[^>]*/>", b"", relationships)

    data = rewrite_zip(
        docx_bytes(word_document),
        drop={"docProps/core.xml"},
        edit={"_rels/.rels": drop_core_relationship},
    )

    result = document.process(data, "bare.docx")

    assert result["text"] == "No properties here."
    assert set(result["core_properties"].values()) == {None}


def test_truncated_docx_is_damaged(corpus):
    """A DOCX cut in half is reported as a damaged DOCX."""
    data = (corpus / "documents" / "test.docx").read_bytes()

    with pytest.raises(ProcessingError, match=r"^the DOCX is damaged: "):
        document.process(data[: len(data) // 2], "half.docx")


def test_docx_missing_its_main_part_is_damaged(corpus):
    """A DOCX whose relationships name a missing main part is reported as damaged."""
    data = rewrite_zip(
        (corpus / "documents" / "test.docx").read_bytes(),
        drop={"word/document.xml"},
        edit={},
    )

    with pytest.raises(ProcessingError, match=r"^the DOCX is damaged: "):
        document.process(data, "broken.docx")


# Other formats


def test_png_named_pdf_is_unsupported(corpus):
    """A PNG is refused as a PNG whatever its name."""
    data = (corpus / "images" / "hopper.png").read_bytes()

    with pytest.raises(ProcessingError) as caught:
        document.process(data, "scan.pdf")

    assert str(caught.value) == "unsupported document format: the file is a PNG image"


def test_legacy_word_file_is_unsupported():
    """An OLE header gets the legacy Word message."""
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)

    with pytest.raises(ProcessingError) as caught:
        document.process(data, "old.doc")

    assert str(caught.value) == (
        "unsupported document format: legacy Word/OLE file (.doc); "
        "save it as DOCX or PDF"
    )


def test_other_zip_files_are_unsupported():
    """An .xlsx-like ZIP and a plain ZIP are named in the refusal."""
    workbook = io.BytesIO()
    with zipfile.ZipFile(workbook, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("notes.txt", "hello")

    with pytest.raises(ProcessingError, match=r"an Excel workbook \(\.xlsx\)$"):
        document.process(workbook.getvalue(), "book.docx")
    with pytest.raises(ProcessingError, match="a ZIP archive that is not a DOCX$"):
        document.process(plain.getvalue(), "notes.docx")


def test_binary_garbage_is_unsupported():
    """Bytes that are no known format and not text are an unsupported format."""
    with pytest.raises(ProcessingError) as caught:
        document.process(bytes(range(256)) * 4, "blob.txt")

    assert str(caught.value) == (
        "unsupported document format: not a PDF, DOCX or text file "
        "(it contains NUL bytes)"
    )


def test_plain_text_document(corpus):
    """A text file gives its text, encoding and line count."""
    result = read_text_file(corpus, "sample-french-1.txt")

    assert result["format"] == "text"
    assert result["encoding"] == "cp1252"
    assert result["text"].startswith("JEAN-BAPTISTE POQUELIN MOLIÈRE\n")
    assert result["lines"] == 59
    assert result["character_count"] == 3251
    assert result["word_count"] == 534


def test_empty_document_is_refused():
    """Zero bytes raise the empty-file error."""
    with pytest.raises(ProcessingError, match=r"^the file is empty \(0 bytes\)$"):
        document.process(b"", "empty.pdf")


@pytest.mark.parametrize(
    "name",
    ["pdflatex-4-pages.pdf", "habibi.pdf", "test.docx", "hdr-header-footer.docx"],
)
def test_results_are_plain_json(corpus, name):
    """PDF and DOCX results serialise to JSON unchanged."""
    result = read_document(corpus, name)

    assert json.loads(json.dumps(result, allow_nan=False)) == result
