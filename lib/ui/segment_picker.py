"""Clickable output segments: a Streamlit components-v2 element with inline JS, no build step.

Model text is put in with `textContent` only (never innerHTML), so output that looks like HTML
stays text. The component reports a click as a trigger value `{index, shift}`; Python decides the
new selection (`lib.selection.next_selection`), so selection also works from session state and the
URL, where AppTest and links set it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from lib.records import Segment
from lib.text_safety import js_char_class

_CSS = """
.seg-root { font-family: var(--st-font, sans-serif); line-height: 1.9; white-space: pre-wrap;
  word-break: break-word; color: var(--st-text-color); }
.seg { cursor: pointer; border-radius: 3px; padding: 1px 0; outline: none;
  border-bottom: 2px dotted rgba(128,128,128,.55); }
.seg:hover { background: rgba(120,120,255,.18); }
.seg:focus-visible { box-shadow: 0 0 0 2px var(--st-primary-color); }
.seg.selected { background: rgba(255,190,0,.35); box-shadow: 0 0 0 2px #c77700; }
.seg-mark { color: #b00; font-size: .8em; border: 1px solid #b00; border-radius: 2px;
  padding: 0 1px; margin: 0 1px; }
.seg-empty { color: var(--st-text-color); opacity: .7; font-style: italic; }
"""

# Invisible and reordering characters are shown as a visible marker, built with textContent.
# The character class comes from lib.text_safety so the browser marks exactly what the server
# marks (the `u` flag makes `\u{...}` and astral ranges such as tag characters work).
_JS = r"""
const HIDDEN = /__HIDDEN_CLASS__/gu;
function appendText(el, text) {
  let last = 0;
  for (const m of text.matchAll(HIDDEN)) {
    if (m.index > last) el.appendChild(document.createTextNode(text.slice(last, m.index)));
    const code = m[0].codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
    const mark = document.createElement("span");
    mark.className = "seg-mark";
    mark.textContent = "U+" + code;
    mark.title = "Invisible character U+" + code;
    el.appendChild(mark);
    last = m.index + m[0].length;
  }
  if (last < text.length) el.appendChild(document.createTextNode(text.slice(last)));
}
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".seg-root");
  if (!root) {
    root = document.createElement("div");
    root.className = "seg-root";
    root.setAttribute("role", "group");
    parentElement.appendChild(root);
  }
  root.replaceChildren();
  const segs = (data && data.segments) || [];
  const sel = (data && data.selected) || null;
  root.setAttribute("aria-label", (data && data.label) || "Output segments");
  if (!segs.length) {
    const p = document.createElement("span");
    p.className = "seg-empty";
    p.textContent = (data && data.empty) || "(no output)";
    root.appendChild(p);
  }
  const send = (idx, shift) => setTriggerValue("click", { index: idx, shift: !!shift,
                                                          t: Date.now() });
  for (const s of segs) {
    if (s.gap) { appendText(root, s.gap); }
    const el = document.createElement("span");
    el.className = "seg";
    el.tabIndex = 0;
    el.setAttribute("role", "button");
    el.setAttribute("data-segment-index", String(s.index));
    const on = sel && s.index >= sel[0] && s.index <= sel[1];
    el.setAttribute("aria-pressed", on ? "true" : "false");
    if (on) el.classList.add("selected");
    el.title = s.title || "";
    appendText(el, s.text);
    el.addEventListener("click", (e) => { e.preventDefault(); send(s.index, e.shiftKey); });
    el.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " " || e.key === "Spacebar") {
        e.preventDefault(); send(s.index, e.shiftKey);
      }
    });
    root.appendChild(el);
  }
}
""".replace("__HIDDEN_CLASS__", js_char_class())

_component = st.components.v2.component("salience_studio.segment_picker", css=_CSS, js=_JS)


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
                   titles: Sequence[str] | None = None, label: str = "Output segments") -> None:
    """Show `segments` as clickable spans; `on_click(index, shift)` runs before the rerun."""

    def _changed() -> None:
        value = st.session_state.get(key)
        click = None
        try:
            click = value.get("click") if value is not None else None
        except AttributeError:
            click = getattr(value, "click", None)
        if isinstance(click, dict) and isinstance(click.get("index"), int):
            on_click(int(click["index"]), bool(click.get("shift")))

    _component(
        key=key,
        data={"segments": segment_payload(text, segments, titles),
              "selected": list(selected) if selected else None, "label": label,
              "empty": "(the model produced no text)"},
        on_click_change=_changed,
    )
