"""Clickable output segments, and on Debug the prompt overlay with them: one Streamlit
components-v2 element with inline JS, no build step.

Model and prompt text is put in with `textContent` only (never innerHTML), so text that looks
like HTML stays text. The component reports a click as a trigger value `{index, shift}`; Python
decides the selection (`lib.selection.next_selection`), so selection also works from session
state and the URL, where AppTest and links set it. With an overlay the component holds the
scores of every single segment already computed and repaints the overlay at the click itself
(the same rule, in JS); Python hears of the click afterwards and answers with the same view.
On Compare the columns' components repaint together (a window event; see `segment_picker`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from lib.records import Segment
from lib.render import STYLE_CSS
from lib.selection import new_click
from lib.text_safety import js_char_class

PICKER_CSS = """
.seg-root { font-family: var(--st-font, sans-serif); line-height: 1.9; white-space: pre-wrap;
  word-break: break-word; color: var(--st-text-color); }
.seg-root .seg { cursor: pointer; border-radius: 3px; padding: 1px 0; outline: none;
  border-bottom: 2px dotted rgba(128,128,128,.55); }
.seg-root .seg:hover { background: rgba(120,120,255,.18); }
.seg-root .seg:focus-visible { box-shadow: 0 0 0 2px var(--st-primary-color); }
.seg-root .seg.selected { background: rgba(255,190,0,.35); box-shadow: 0 0 0 2px #c77700; }
.seg-root .seg.computing { border-bottom-style: dashed; border-bottom-color: #6b6b6b; }
.salience-text .seg.in-part { box-shadow: 0 0 0 2px #0072b2; text-decoration: underline 2px #0072b2; }
.salience-text .seg.matrix-column { outline: 2px dashed #009e73; outline-offset: 2px; }
.seg-mark { color: #b00; font-size: .8em; border: 1px solid #b00; border-radius: 2px;
  padding: 0 1px; margin: 0 1px; }
.seg-empty { color: var(--st-text-color); font-style: italic; }
.salience-status { font-family: var(--st-font, sans-serif); font-size: .85rem;
  color: var(--st-text-color); margin: .3rem 0; min-height: 1.2em; }
.salience-heading { font-family: var(--st-font, sans-serif); font-weight: 600;
  color: var(--st-text-color); margin: .6rem 0 .2rem; }
"""

# Invisible and reordering characters are shown as a visible marker, built with textContent.
# The character class comes from lib.text_safety so the browser marks exactly what the server
# marks (the `u` flag makes `\u{...}` and astral ranges such as tag characters work).
PICKER_JS = (Path(__file__).with_name("segment_picker.js").read_text(encoding="utf-8")
             .replace("__HIDDEN_CLASS__", js_char_class()))

_component = st.components.v2.component("salience_studio.segment_picker",
                                        css=PICKER_CSS + STYLE_CSS, js=PICKER_JS)


def segment_payload(text: str, segments: Sequence[Segment], titles: Sequence[str] | None = None
                    ) -> list[dict[str, Any]]:
    """Segments with the text between them (`gap`), so the output reads as it was written."""
    out: list[dict[str, Any]] = []
    pos = segments[0].start if segments else 0
    for i, seg in enumerate(segments):
        gap = text[pos:seg.start] if seg.start > pos else ""
        out.append({"index": seg.index, "text": seg.text, "gap": gap,
                    "title": titles[i] if titles else ""})
        pos = max(pos, seg.end)
    return out


def segment_picker(text: str, segments: Sequence[Segment], selected: tuple[int, int] | None, *,
                   key: str, on_click: Callable[[int, bool], None],
                   titles: Sequence[str] | None = None, label: str = "Output segments",
                   overlay: dict[str, Any] | None = None, anchor: int | None = None,
                   output_id: str = "") -> None:
    """Show `segments` as clickable spans; `on_click(index, shift)` runs before the rerun.
    `output_id` names the output shown (a new one drops the browser's unanswered clicks).

    With `overlay` (`lib.render.overlay_payload` plus `hint`, `waiting`, `computing`, and
    `part`: `lib.ui.parts_view.overlay_part`, the prompt part to outline; `column`:
    `lib.ui.matrix_view.matrix_highlight`, the matrix cell's prompt segment) the
    component also draws the prompt overlay below the output, and repaints it in the browser
    at once when a click selects a single segment whose scores it holds (it keeps its own
    selection until Python has handled its last click); `anchor` is the shift-click anchor.

    Compare's columns are one group: their overlays are `lib.compare_overlay.compare_overlays`
    plus `group` ({id, column, sel: the compare selection, anchor}) and `nomatch`; a click in
    one repaints every column of the group in the browser, and the group shares one record of
    the last click Python handled.
    """
    group = overlay.get("group") if overlay is not None else None
    last_key = f"{group['id'] if group else key}_last_click"

    def _changed() -> None:
        value = st.session_state.get(key)
        click = None
        try:
            click = value.get("click") if value is not None else None
        except AttributeError:
            click = getattr(value, "click", None)
        got = new_click(click, st.session_state.get(last_key))
        if got is not None:
            index, shift, st.session_state[last_key] = got
            on_click(index, shift)

    data: dict[str, Any] = {"output_id": output_id,
                            "segments": segment_payload(text, segments, titles),
                            "selected": list(selected) if selected else None, "label": label,
                            "empty": "(the model produced no text)"}
    if overlay is not None:
        data.update(overlay=overlay, anchor=anchor, last_click=st.session_state.get(last_key))
    _component(key=key, data=data, on_click_change=_changed)
