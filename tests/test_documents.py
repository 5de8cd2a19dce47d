"""Document upload: real .txt/.md/.pdf/.docx files (made here from real licence texts)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pypdf
import pytest
from fpdf import FPDF
from PIL import Image

from lib import documents
from lib.documents import (
    MAX_DOCUMENT_BYTES,
    DocumentError,
    DocumentLimitError,
    NoTextLayerError,
    extract_text,
    pasted_document,
    upload_types,
)
from lib.errors import InputError, LimitError
from tests.hostile_corpus import BIDI_TRICK

ROOT = Path(__file__).resolve().parents[1]
APACHE = (ROOT / "lib" / "templates_assets" / "apache-2.0.txt").read_text("utf-8")
MPL = (ROOT / "tests" / "fixtures" / "documents" / "mpl-2.0.txt").read_text("utf-8")


def paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def make_pdf(text: str) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    pdf.add_page()
    for para in paragraphs(text):
        pdf.multi_cell(0, 5, para)
        pdf.ln(3)
    return bytes(pdf.output())


def make_docx(paras: list[str], table: list[list[str]] | None = None, after: str = "") -> bytes:
    d = docx.Document()
    for p in paras:
        d.add_paragraph(p)
    if table:
        t = d.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    if after:
        d.add_paragraph(after)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def assert_document_error(exc: InputError, *words: str) -> None:
    assert exc.field == "document"
    message = str(exc)
    for w in words:
        assert w in message, message


# --- text and markdown ----------------------------------------------------------------------


def test_txt_is_read_exactly():
    doc = extract_text("LICENSE.txt", APACHE.encode("utf-8"))
    assert doc.text == APACHE
    assert (doc.kind, doc.pages, doc.filename, doc.invisible) == ("text", None, "LICENSE.txt", ())


def test_md_with_bom_and_windows_line_endings():
    data = b"\xef\xbb\xbf" + MPL.replace("\n", "\r\n").encode("utf-8")
    doc = extract_text("notes/MPL.MD", data)
    assert doc.text == MPL  # BOM dropped, CRLF -> LF, nothing else touched
    assert doc.kind == "markdown" and doc.filename == "MPL.MD"


def test_other_encodings_are_refused_with_the_place():
    lines = APACHE.split("\n")
    line_no = next(i for i, line in enumerate(lines) if "Copyright [yyyy]" in line) + 1
    latin = APACHE.replace("[name of copyright owner]", "Société Générale").encode("cp1252")
    with pytest.raises(DocumentError) as info:
        extract_text("apache.txt", latin)
    assert_document_error(info.value, "not UTF-8", f"line {line_no}", "0xe9", "save it as UTF-8")
    with pytest.raises(DocumentError) as info:
        extract_text("apache.txt", APACHE.encode("utf-16"))
    assert_document_error(info.value, "not UTF-8", "UTF-16")


def test_invisible_characters_are_kept_and_listed():
    text = APACHE.replace("Grant of Copyright License.", "Grant of " + BIDI_TRICK, 1)
    doc = extract_text("trick.txt", text.encode("utf-8"))
    assert doc.text == text
    names = dict(doc.invisible)
    assert names["U+202E RIGHT-TO-LEFT OVERRIDE (bidi control)"] == 1
    assert names["U+2066 LEFT-TO-RIGHT ISOLATE (bidi control)"] == 1
    assert len(names) == 3  # 202E, 2066, 2069


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_text_layer_is_extracted():
    doc = extract_text("Apache-2.0.pdf", make_pdf(APACHE))
    assert doc.kind == "pdf" and doc.pages == 3
    # Line wrapping differs from the .txt, but every word comes back, in order.
    assert doc.text.split() == APACHE.split()


def test_blank_pdf_has_no_text_layer():
    pdf = FPDF()
    pdf.add_page()
    pdf.add_page()
    with pytest.raises(NoTextLayerError) as info:
        extract_text("scan.pdf", bytes(pdf.output()))
    assert_document_error(info.value, "has no text layer", "2 page(s)", "scan", "OCR")


def test_image_only_pdf_is_a_scan():
    image = Image.new("RGB", (200, 120), "white")
    for x in range(20, 180):  # a dark bar, like a scanned line of print
        for y in range(50, 60):
            image.putpixel((x, y), (20, 20, 20))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(buf.getvalue()), x=10, y=10, w=180)
    data = bytes(pdf.output())
    assert b"/Image" in data  # the page really holds an image
    with pytest.raises(NoTextLayerError) as info:
        extract_text("scanned contract.pdf", data)
    assert_document_error(info.value, "'scanned contract.pdf' has no text layer", "scan")


@pytest.mark.parametrize("keep", [0.5, 0.05, 0.98])
def test_truncated_pdf_is_damaged(keep):
    data = make_pdf(APACHE)
    with pytest.raises(DocumentError) as info:
        extract_text("cut.pdf", data[: int(len(data) * keep)])
    assert not isinstance(info.value, NoTextLayerError)
    assert_document_error(info.value, "damaged or incomplete PDF", "download it again")


def test_a_word_file_named_pdf_is_not_a_pdf():
    with pytest.raises(DocumentError) as info:
        extract_text("contract.pdf", make_docx(paragraphs(APACHE)[:3]))
    assert_document_error(info.value, "is named .pdf but is not a PDF")


def test_password_protected_pdf():
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(make_pdf(APACHE)))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(DocumentError) as info:
        extract_text("locked.pdf", out.getvalue())
    assert_document_error(info.value, "password-protected")


def test_pdf_text_over_the_character_limit():
    with pytest.raises(DocumentLimitError) as info:
        extract_text("mpl.pdf", make_pdf(MPL), max_chars=5_000)
    assert_document_error(info.value, "the limit is 5,000")


# --- Word ------------------------------------------------------------------------------------


def test_docx_paragraphs_and_table_cells_in_order():
    paras = paragraphs(APACHE)
    table = [["Clause", "Summary"], ["4(a)", "Give recipients a copy of this License."]]
    data = make_docx(paras[:5], table, after=paras[5])
    doc = extract_text("apache.docx", data)
    assert doc.kind == "docx" and doc.pages is None
    expected = "\n\n".join(
        [*paras[:5], "Clause | Summary\n4(a) | Give recipients a copy of this License.", paras[5]]
    )
    assert doc.text == expected


def test_docx_merged_cells_appear_once():
    d = docx.Document()
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).merge(t.cell(0, 1)).text = "Limitation of Liability"
    t.cell(1, 0).text = "8."
    t.cell(1, 1).text = paragraphs(APACHE)[-20]
    out = io.BytesIO()
    d.save(out)
    doc = extract_text("table.docx", out.getvalue())
    assert doc.text == f"Limitation of Liability\n8. | {paragraphs(APACHE)[-20]}"


def test_whole_licence_as_docx():
    doc = extract_text("MPL-2.0.docx", make_docx(paragraphs(MPL)))
    assert doc.text == "\n\n".join(paragraphs(MPL))


def test_corrupt_docx():
    data = make_docx(paragraphs(APACHE))
    with pytest.raises(DocumentError) as info:
        extract_text("contract.docx", data[: len(data) // 2])
    assert_document_error(info.value, "is not a Word document", "not .doc")
    # A real zip that is not a Word package.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("LICENSE", APACHE)
    with pytest.raises(DocumentError) as info:
        extract_text("contract.docx", buf.getvalue())
    assert_document_error(info.value, "is not a Word document")


def test_docx_that_unpacks_too_large_is_refused_unread(monkeypatch):
    data = make_docx(paragraphs(APACHE))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        unpacked = sum(i.file_size for i in z.infolist())
    monkeypatch.setattr(documents, "MAX_DOCX_UNCOMPRESSED_BYTES", unpacked - 1)
    with pytest.raises(DocumentLimitError) as info:
        extract_text("big.docx", data)
    assert_document_error(info.value, f"unpacks to {unpacked:,} bytes")


# --- limits and types -----------------------------------------------------------------------


def test_oversized_file_is_refused_before_reading():
    data = (APACHE * (MAX_DOCUMENT_BYTES // len(APACHE) + 1)).encode("utf-8")
    assert len(data) > MAX_DOCUMENT_BYTES
    with pytest.raises(LimitError) as info:
        extract_text("huge.pdf", data)  # not a PDF either: the size is checked first
    assert isinstance(info.value, DocumentLimitError)
    assert_document_error(info.value, f"{len(data):,} bytes", f"{MAX_DOCUMENT_BYTES:,} bytes")


def test_text_over_the_character_limit():
    with pytest.raises(DocumentLimitError) as info:
        extract_text("mpl.txt", MPL.encode("utf-8"), max_chars=len(MPL) - 1)
    assert_document_error(info.value, f"{len(MPL):,} characters", f"{len(MPL) - 1:,}")


@pytest.mark.parametrize(
    ("filename", "shown"),
    [("contract.doc", "a .doc file"), ("scan.PNG", "a .png file"), ("LICENSE", "without an")],
)
def test_unknown_types_are_refused(filename, shown):
    with pytest.raises(DocumentError) as info:
        extract_text(filename, APACHE.encode("utf-8"))
    assert_document_error(info.value, shown, ".txt, .md, .pdf, .docx")


def test_empty_and_blank_documents():
    with pytest.raises(DocumentError) as info:
        extract_text("empty.txt", b"")
    assert_document_error(info.value, "empty (0 bytes)")
    with pytest.raises(DocumentError) as info:
        extract_text("blank.md", b"\n\n   \n")
    assert_document_error(info.value, "contains no text")


def test_hostile_file_name_is_shown_safely():
    with pytest.raises(DocumentError) as info:
        extract_text("C:\\Users\\x\\evil\u202etxt.exe", b"x")
    assert "\u202e" not in str(info.value) and "'evil?txt.exe'" in str(info.value)


def test_upload_types_and_pasted_text():
    assert upload_types() == ["txt", "md", "pdf", "docx"]
    doc = pasted_document(APACHE.replace("\n", "\r\n"))
    assert doc.text == APACHE and doc.kind == "pasted"
    with pytest.raises(DocumentLimitError) as info:
        pasted_document(MPL, max_chars=1_000)
    assert_document_error(info.value, "pasted text", "1,000")


def test_docx_external_entities_are_not_resolved():
    # A hostile .docx whose XML declares an entity reading a local file (XXE) and an internal
    # one: neither is expanded, so no file content can reach the prompt.
    secret = ROOT / "tests" / "fixtures" / "documents" / "mpl-2.0.txt"
    src = zipfile.ZipFile(io.BytesIO(make_docx(["PLACEHOLDER"])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "word/document.xml":
                doctype = (
                    f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "{secret.as_uri()}">'
                    '<!ENTITY lol "lollollol">]>'
                ).encode()
                body = body.replace(b"?>", b"?>" + doctype, 1)
                body = body.replace(b"PLACEHOLDER", b"Start &xxe; middle &lol; end")
            z.writestr(info, body)
    try:
        text = extract_text("xxe.docx", out.getvalue()).text
    except DocumentError as exc:  # refusing the file is fine too
        text = str(exc)
    assert "Mozilla Public License" not in text and "lollollol" not in text
