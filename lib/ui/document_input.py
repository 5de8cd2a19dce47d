"""A template variable that takes a whole document: paste it, or upload .txt/.md/.pdf/.docx.

One call per document variable: `document_input(name, key=...)` draws a text area (the text the
prompt will use, editable) and an uploader that fills it. An upload goes through
`lib.documents.extract_text` in the uploader's `on_change` callback, before the text area is
drawn, so the text area can take the extracted text; a file that cannot be read leaves the
text as it was (typed text is never lost) and shows the reason with `st.error`.

State, all under the caller's `key` (AppTest can set and read each):
  key            the text (the text area's own key, as for the pages' other variables)
  key+"__file"   the uploader
  key+"__error"  the last upload's error sentence, until the next upload or a good one
  key+"__from"   (filename, kind, pages, text) of the last good upload, for the caption
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import streamlit as st

from lib.documents import (
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENT_CHARS,
    Document,
    extract_text,
    invisible_summary,
    upload_types,
)
from lib.errors import InputError
from lib.ui import common

_KIND_LABEL = {"text": "text file", "markdown": "Markdown file", "pdf": "PDF", "docx": "Word file"}


def apply_upload(state: MutableMapping[str, Any], key: str, filename: str, data: bytes) -> None:
    """Read an uploaded file into `state[key]`, or record why not in `state[key + "__error"]`
    (leaving `state[key]` untouched). Pure apart from `state`: the callback and tests use it."""
    try:
        doc: Document = extract_text(filename, data)
    except InputError as exc:
        state[f"{key}__error"] = str(exc)
        return
    state[key] = doc.text
    state[f"{key}__from"] = (doc.filename, doc.kind, doc.pages, doc.text)
    state.pop(f"{key}__error", None)


def _on_upload(key: str) -> None:
    uploaded = st.session_state.get(f"{key}__file")
    if uploaded is None:  # the file was removed from the uploader: keep the text
        st.session_state.pop(f"{key}__error", None)
        return
    apply_upload(st.session_state, key, uploaded.name, uploaded.getvalue())


def _source_caption(key: str, text: str) -> str | None:
    source = st.session_state.get(f"{key}__from")
    if not source:
        return None
    filename, kind, pages, loaded = source
    what = _KIND_LABEL.get(kind, kind)
    if pages:
        what += f", {pages} page{'s' if pages != 1 else ''}"
    edited = "" if text == loaded else " (edited since)"
    return f"From {filename!r} ({what}): {len(loaded):,} characters{edited}."


def _invisible_warning(text: str) -> str | None:
    found = invisible_summary(text)
    if not found:
        return None
    listed = ", ".join(f"{name} ×{n}" for name, n in found[:5])
    more = f" and {len(found) - 5} more kinds" if len(found) > 5 else ""
    return (
        f"This document contains invisible or reordering characters: {listed}{more}. The "
        "overlay shows each as a visible marker; check the passages around them."
    )


def document_input(name: str, *, key: str, default: str = "", height: int = 220) -> str:
    """Paste-or-upload input for the template variable `name`; returns its current text.

    `key` is the session key of the text (e.g. the page's `dbg_var_<name>`); it is set to
    `default` the first time. Errors are shown here; the return value is always the text
    the text area holds (possibly empty: the template's own check names the empty variable).
    """
    if key not in st.session_state:
        st.session_state[key] = default
    up_key = f"{key}__file"
    shown = common.md_escape(name)  # labels are Markdown; a name like _x_ must stay literal
    st.file_uploader(
        f"Upload a document for {shown} (.txt, .md, .pdf with a text layer, .docx; up to "
        f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MB)",
        type=upload_types(),
        key=up_key,
        on_change=_on_upload,
        args=(key,),
    )
    error = st.session_state.get(f"{key}__error")
    if error:
        common.show_error(error)
    text = st.text_area(
        f"{shown} (a document: paste it here, or upload it above)",
        value=common.held(key, default),
        key=key,
        height=height,
        max_chars=MAX_DOCUMENT_CHARS,
    )
    caption = _source_caption(key, text)
    if caption:
        st.caption(common.md_escape(caption))
    warning = _invisible_warning(text)
    if warning:
        st.warning(common.md_escape(warning))
    return text
