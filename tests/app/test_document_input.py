"""The paste-or-upload input for document variables, driven through AppTest (no model needed)."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from tests.app.conftest import errors, no_crash
from tests.hostile_corpus import BIDI_TRICK
from tests.test_documents import MPL, make_docx, make_pdf, paragraphs

KEY = "doc_var_document"
TYPED = "Clause 1. The supplier keeps all rights in the software."


def _page() -> None:
    import streamlit as st

    from lib.templates import sample_document
    from lib.ui.document_input import document_input

    st.session_state["returned"] = document_input("document", key="doc_var_document",
                                                  default=sample_document())


def make() -> object:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_page, default_timeout=60)
    at.run()
    no_crash(at)
    return at


def apache() -> str:
    root = Path(__file__).resolve().parents[2]
    return (root / "lib" / "templates_assets" / "apache-2.0.txt").read_text("utf-8")


def test_default_document_is_shown_and_returned():
    at = make()
    assert at.text_area(key=KEY).value == apache()
    assert at.session_state["returned"] == apache()
    assert at.text_area(key=KEY).proto.default == apache()  # common.held: value = session's
    assert at.file_uploader(key=f"{KEY}__file").allowed_type == [".txt", ".md", ".pdf", ".docx"]
    assert not at.error and not at.warning


def test_upload_fills_the_text_and_says_where_it_came_from():
    at = make()
    at.file_uploader(key=f"{KEY}__file").upload("MPL-2.0.pdf", make_pdf(MPL), "application/pdf")
    at.run()
    no_crash(at)
    text = at.text_area(key=KEY).value
    assert text.split() == MPL.split() and at.session_state["returned"] == text
    captions = [c.value for c in at.caption]
    assert any("MPL\\-2\\.0\\.pdf" in c and "PDF, " in c and "pages" in c for c in captions), (
        captions
    )
    # Editing afterwards is kept, and the caption says so.
    at.text_area(key=KEY).set_value(text + "\n\nExhibit C.").run()
    assert at.session_state["returned"].endswith("Exhibit C.")
    assert any("edited since" in c.value for c in at.caption)


def test_a_scan_shows_the_reason_and_keeps_the_typed_text():
    at = make()
    at.text_area(key=KEY).set_value(TYPED).run()
    pdf = FPDF()
    pdf.add_page()
    at.file_uploader(key=f"{KEY}__file").upload("scan.pdf", bytes(pdf.output()),
                                                "application/pdf")
    at.run()
    no_crash(at)
    assert at.text_area(key=KEY).value == TYPED
    assert at.session_state["returned"] == TYPED
    (message,) = errors(at)
    assert "'scan.pdf' has no text layer" in message and "OCR" in message
    # A good upload next clears the error.
    at.file_uploader(key=f"{KEY}__file").set_value(
        ("terms.docx", make_docx(paragraphs(MPL)[:3]), "application/octet-stream")
    )
    at.run()
    assert not at.error
    assert at.text_area(key=KEY).value == "\n\n".join(paragraphs(MPL)[:3])


def test_invisible_characters_are_announced():
    at = make()
    at.text_area(key=KEY).set_value("Access rule: " + BIDI_TRICK).run()
    no_crash(at)
    (warning,) = [w.value for w in at.warning]
    assert "U\\+202E RIGHT\\-TO\\-LEFT OVERRIDE" in warning and "\u202e" not in warning
