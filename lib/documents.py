"""Bring a document in: the text of a pasted or uploaded `.txt`, `.md`, `.pdf` or `.docx`.

Everything here is pure (bytes in, a `Document` out) so the app, the command line and the
tests share it. Every failure is an `InputError` with `field="document"` that says what was
wrong with the file and what to do. Limits are stated as constants and checked *before* the
expensive work where possible (file size, the uncompressed size of a `.docx`), and again on the
extracted text.

Line endings are normalised to `\\n` (a Windows file would otherwise show a marker for every
carriage return); every other character is kept as it is, invisible ones included: the display
turns those into visible markers (`lib.text_safety`), and `Document.invisible` lists them so the
page can warn before anyone reads the overlay.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections import Counter
from dataclasses import dataclass

from lib.errors import InputError, LimitError
from lib.input_limits import MAX_VARIABLE_VALUE_CHARS
from lib.text_safety import char_name, is_invisible

FIELD = "document"

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024  # the uploaded file itself
# The extracted text: what a document variable may hold (lib.input_limits), about 25,000 tokens
# of prose, past the 8,192-token window (which then says by how much).
MAX_DOCUMENT_CHARS = MAX_VARIABLE_VALUE_CHARS
MAX_DOCX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024  # a .docx is a zip: refuse zip bombs unread
MAX_PDF_PAGES = 2_000

# Extension -> kind. `upload_types()` gives Streamlit's `type=` list from this.
KINDS: dict[str, str] = {"txt": "text", "md": "markdown", "pdf": "pdf", "docx": "docx"}


class DocumentError(InputError):
    """A document that cannot be read (wrong type, corrupt, no text ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field=FIELD)


class DocumentLimitError(LimitError):
    """A document beyond a stated limit (file size, extracted characters, pages)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field=FIELD)


class NoTextLayerError(DocumentError):
    """A PDF whose pages carry no extractable text (a scan or images only)."""


@dataclass(frozen=True)
class Document:
    """Extracted text plus where it came from.

    `kind` is one of `KINDS`' values (or "pasted"); `pages` is the PDF page count (None for
    other kinds); `invisible` lists `(character name, count)` for every invisible or reordering
    character in `text`, most frequent first.
    """

    filename: str
    kind: str
    text: str
    pages: int | None
    invisible: tuple[tuple[str, int], ...]

    @property
    def n_chars(self) -> int:
        return len(self.text)


def upload_types() -> list[str]:
    """File extensions accepted for upload (for `st.file_uploader(type=...)`)."""
    return list(KINDS)


def _display_name(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("?" if is_invisible(ch) else ch for ch in name)
    return name if len(name) <= 80 else name[:77] + "..."


def _extension(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def invisible_summary(text: str) -> tuple[tuple[str, int], ...]:
    """`(name, count)` for each invisible character in `text`, most frequent first."""
    counts = Counter(ch for ch in text if is_invisible(ch))
    return tuple((char_name(ch), n) for ch, n in counts.most_common())


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _check_chars(text: str, name: str, max_chars: int) -> None:
    if len(text) > max_chars:
        raise DocumentLimitError(
            f"The document {name!r} has {len(text):,} characters of text; the limit is "
            f"{max_chars:,}. Upload a shorter document or paste only the part you need."
        )


def _decode_text(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        raise DocumentError(
            f"The document {name!r} is not UTF-8 text: line {line}, byte "
            f"{exc.start - line_start + 1} of that line is 0x{data[exc.start]:02x}. It is "
            "probably in another encoding (Windows-1252, Latin-1, UTF-16 ...): save it as UTF-8 "
            "and upload it again, or paste its text."
        ) from None
    return text.removeprefix("\ufeff")  # a byte-order mark some editors write


def _pdf_text(data: bytes, name: str, max_chars: int) -> tuple[str, int]:
    import pypdf
    from pypdf.errors import PyPdfError

    if b"%PDF-" not in data[:1024]:
        raise DocumentError(
            f"The document {name!r} is named .pdf but is not a PDF file (it does not start "
            "with %PDF-). Check that you picked the right file, or export it as PDF again."
        )
    # pypdf logs warnings for every repairable defect; the error below is what people see.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    corrupt = (
        f"The document {name!r} is a damaged or incomplete PDF and cannot be read. Export or "
        "download it again, or paste its text."
    )
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except (PyPdfError, NotImplementedError, ValueError):
                ok = 0
            if not ok:
                raise DocumentError(
                    f"The document {name!r} is a password-protected PDF. Remove the password "
                    "(print or export it to a new PDF) and upload it again, or paste its text."
                )
        n_pages = len(reader.pages)
        if n_pages > MAX_PDF_PAGES:
            raise DocumentLimitError(
                f"The PDF {name!r} has {n_pages:,} pages; the limit is {MAX_PDF_PAGES:,}. "
                "Upload only the pages you need."
            )
        pages: list[str] = []
        total = 0
        for page in reader.pages:
            page_text = _normalise(page.extract_text() or "").strip("\n")
            pages.append(page_text)
            total += len(page_text) + 2
            if total > max_chars + 2 * n_pages:
                _check_chars("\n\n".join(pages), name, max_chars)
    except InputError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            AssertionError, RecursionError, OverflowError, ZeroDivisionError):
        # pypdf surfaces malformed structure through many exception types.
        raise DocumentError(corrupt) from None
    text = "\n\n".join(p for p in pages if p.strip())
    if not text.strip():
        raise NoTextLayerError(
            f"The PDF {name!r} has no text layer: its {n_pages} page(s) hold no extractable "
            "text, so it is probably a scan or made of images. Run it through OCR first (most "
            "scanners and PDF tools can), or paste the text."
        )
    return text, n_pages


def _docx_text(data: bytes, name: str) -> str:
    import docx
    from docx.opc.exceptions import OpcError
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from lxml.etree import LxmlError

    not_docx = (
        f"The document {name!r} is named .docx but is not a Word document (it is not a valid "
        ".docx package). Save it from Word as .docx (not .doc), or paste its text."
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise DocumentError(not_docx) from None
    if unpacked > MAX_DOCX_UNCOMPRESSED_BYTES:
        raise DocumentLimitError(
            f"The Word document {name!r} unpacks to {unpacked:,} bytes; the limit is "
            f"{MAX_DOCX_UNCOMPRESSED_BYTES:,}. Save a smaller document or paste its text."
        )
    if "word/document.xml" not in names and "[Content_Types].xml" not in names:
        raise DocumentError(not_docx)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                if item.text.strip():
                    blocks.append(item.text)
            elif isinstance(item, Table):
                rows: list[str] = []
                for row in item.rows:
                    seen: set[int] = set()
                    cells: list[str] = []
                    for cell in row.cells:  # a merged cell repeats: keep it once
                        if id(cell._tc) in seen:
                            continue
                        seen.add(id(cell._tc))
                        cells.append(cell.text.strip())
                    if any(cells):
                        rows.append(" | ".join(cells))
                if rows:
                    blocks.append("\n".join(rows))
    except InputError:
        raise
    except (OpcError, LxmlError, KeyError, ValueError, zipfile.BadZipFile, AttributeError,
            TypeError, IndexError):
        raise DocumentError(
            f"The Word document {name!r} is damaged and cannot be read. Open it in Word and "
            "save it again as .docx, or paste its text."
        ) from None
    return _normalise("\n\n".join(blocks))


def extract_text(
    filename: str,
    data: bytes,
    *,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    max_chars: int = MAX_DOCUMENT_CHARS,
) -> Document:
    """The text of an uploaded file, chosen by its extension (.txt, .md, .pdf, .docx).

    Raises `DocumentError` / `NoTextLayerError` / `DocumentLimitError` (all InputError with
    `field="document"`) for an unknown type, a file over `max_bytes`, text over `max_chars`,
    an undecodable or damaged file, a password-protected PDF, a scan without text, or a
    document with no text at all.
    """
    if not isinstance(filename, str) or not filename.strip():
        raise DocumentError("The uploaded document has no file name. Upload it again.")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DocumentError("The uploaded document's contents must be bytes. Upload it again.")
    data = bytes(data)
    name = _display_name(filename)
    ext = _extension(filename)
    kind = KINDS.get(ext)
    if kind is None:
        accepted = ", ".join(f".{e}" for e in KINDS)
        got = f"a .{ext[:10]} file" if ext else "a file without an extension"
        raise DocumentError(
            f"The document {name!r} is {got}; documents can be {accepted}. Convert it to one "
            "of these (for example save or print it as PDF), or paste its text."
        )
    if len(data) > max_bytes:
        raise DocumentLimitError(
            f"The document {name!r} is {len(data):,} bytes; the upload limit is "
            f"{max_bytes:,} bytes. Upload a smaller file or paste only the part you need."
        )
    if not data:
        raise DocumentError(f"The document {name!r} is empty (0 bytes). Upload the right file.")
    pages: int | None = None
    if kind in ("text", "markdown"):
        text = _normalise(_decode_text(data, name))
    elif kind == "pdf":
        text, pages = _pdf_text(data, name, max_chars)
    else:
        text = _docx_text(data, name)
    _check_chars(text, name, max_chars)
    if not text.strip():
        raise DocumentError(
            f"The document {name!r} contains no text. Upload a document with text in it, or "
            "paste the text."
        )
    return Document(
        filename=name, kind=kind, text=text, pages=pages, invisible=invisible_summary(text)
    )


def pasted_document(text: str, *, max_chars: int = MAX_DOCUMENT_CHARS) -> Document:
    """Pasted text checked by the same rules as an upload (limit, line endings, invisibles)."""
    if not isinstance(text, str):
        raise DocumentError("The pasted document must be text.")
    text = _normalise(text)
    _check_chars(text, "pasted text", max_chars)
    return Document(
        filename="", kind="pasted", text=text, pages=None, invisible=invisible_summary(text)
    )
