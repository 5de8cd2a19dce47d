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
PICKER_JS = r"""
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
// lib.selection.next_selection, for painting before Python hears of the click.
function nextSelection(cur, i, shift, anchor) {
  if (shift && cur) {
    const a = anchor === null || anchor === undefined ? cur[0] : anchor;
    return [[Math.min(a, i), Math.max(a, i)], a];
  }
  if (cur && cur[0] === i && cur[1] === i) return [null, null];
  return [[i, i], i];
}
const inside = (sel, i) => !!sel && i >= sel[0] && i <= sel[1];
function markPicker(root, sel) {
  for (const el of root.querySelectorAll("[role=button]")) {
    const on = inside(sel, Number(el.getAttribute("data-segment-index")));
    el.classList.toggle("selected", on);
    el.setAttribute("aria-pressed", on ? "true" : "false");
  }
}
// The prompt overlay: `pieces` [[text], or [text, segment index, token start, token end,
// special]]; `look` one [salience, label, background, colour] per segment piece, or null.
// Highlights, each {id, tokens}: `ov.part` (the highlighted prompt part: its segments get
// class `in-part` and `data-highlight-part`) and `ov.column` (the matrix cell's prompt
// segment: class `matrix-column` and `data-matrix-column`).
const HIGHLIGHTS = [["part", "in-part", "data-highlight-part"],
                    ["column", "matrix-column", "data-matrix-column"]];
function drawOverlay(box, ov, look, sel) {
  const out = document.createElement("div");
  out.className = "salience-text";
  out.setAttribute("data-part", "all");
  const marks = HIGHLIGHTS.filter(([k]) => ov[k]).map(([k, cls, attr]) =>
    ({ id: String(ov[k].id), tokens: new Set(ov[k].tokens), cls: cls, attr: attr }));
  const covers = (p, tokens) => {
    for (let t = p[2]; t < p[3]; t++) if (tokens.has(t)) return true;
    return false;
  };
  let k = 0;
  for (const p of ov.pieces) {
    if (p.length === 1) { appendText(out, p[0]); continue; }
    const el = document.createElement("span");
    el.className = "seg" + (inside(sel, p[1]) ? " selected" : "") + (p[4] ? " special" : "");
    el.setAttribute("data-segment-index", String(p[1]));
    el.setAttribute("data-token-start", String(p[2]));
    el.setAttribute("data-token-end", String(p[3]));
    for (const m of marks) {
      if (covers(p, m.tokens)) { el.classList.add(m.cls); el.setAttribute(m.attr, m.id); }
    }
    appendText(el, p[0]);
    out.appendChild(el);
    const paint = look ? look[k] : null;
    if (paint) {
      el.setAttribute("data-salience", paint[0]);
      el.title = paint[1];
      el.style.backgroundColor = paint[2];
      el.style.color = paint[3];
      if (ov.numbers) {
        const sup = document.createElement("sup");
        sup.className = "score";
        sup.textContent = paint[1];
        out.appendChild(sup);
      }
    }
    k += 1;
  }
  box.replaceChildren(out);
  box.removeAttribute("aria-busy");
}
const lookOf = (ov, sel) => (sel && sel[0] === sel[1] ? ov.views[String(sel[0])] : null) || null;
const overlayKey = (ov, look, sel) => JSON.stringify([ov.pieces, look, sel, ov.numbers,
                                                       ov.part || null, ov.column || null]);
// Compare (`ov.group`): the columns of one group repaint together. The clicked column sends
// GROUP_EVENT on window, {group, sel: [column, lo, hi] or null, anchor, id}, and every column
// of the group (the clicked one too) shows its part of that selection at once: its match
// (`ov.match`, "column:index" -> segment index, from lib.compare.click_matches) and, for a
// single segment, its looks under that selection's scale (`ov.views` colour ids per piece,
// with the match's `ov.values`; lib.compare_overlay).
const GROUP_EVENT = "salience-compare-click";
function nextCompareSelection(cur, col, i, shift, anchor) {  // lib.selection's, in JS
  const mine = cur && cur[0] === col ? [cur[1], cur[2]] : null;
  const [sel, a] = nextSelection(mine, i, shift, mine ? anchor : null);
  return [sel ? [col, sel[0], sel[1]] : null, a];
}
function matchOf(ov, col, i) {
  const m = ov.match[col + ":" + i];
  return m === undefined ? null : m;
}
function groupSelection(ov, c) {  // lib.compare.match_range, from the single matches
  if (!c) return null;
  if (c[0] === ov.group.column) return [c[1], c[2]];
  const a = matchOf(ov, c[0], c[1]), b = matchOf(ov, c[0], c[2]);
  return a !== null && b !== null && a <= b ? [a, b] : null;
}
function groupLook(ov, c) {
  if (!c || c[1] !== c[2]) return null;
  const ids = ov.views[c[0] + ":" + c[1]], m = matchOf(ov, c[0], c[1]);
  const vals = m === null ? null : ov.values[String(m)];
  return ids && vals ? vals.map((v, p) => v.concat(ov.colours[ids[p]])) : null;
}
// What the browser shows of its own selection before Python answers: [look, status text]
// (text null: the scores are still being computed).
function browserView(state) {
  const ov = state.ov;
  if (ov.group && !state.csel) return [null, ov.hint];
  if (!state.sel) return [null, ov.group ? ov.nomatch : ov.hint];
  const look = ov.group ? groupLook(ov, state.csel) : lookOf(ov, state.sel);
  return [look, look ? "" : null];
}
const COMPUTING = "Computing salience for the selection…";
function showClick(state) {
  markPicker(state.root, state.sel);
  const [look, text] = browserView(state);
  if (text === null) {
    state.box.setAttribute("aria-busy", "true");
    state.status.textContent = COMPUTING;
    return;
  }
  drawOverlay(state.box, state.ov, look, state.sel);
  state.ovKey = overlayKey(state.ov, look, state.sel);  // the server's answer will match: no redraw
  state.status.textContent = text;
}
function onGroupClick(state, d) {
  const ov = state.ov;
  if (!ov || !ov.group || d.group !== ov.group.id || !state.box) return;
  state.last = d.id; state.csel = d.sel; state.canchor = d.anchor;
  state.sel = groupSelection(ov, d.sel);
  showClick(state);
}
function onClick(state, idx, shift) {
  const id = Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  const ov = state.ov;
  if (ov && ov.group) {
    const [sel, anchor] = nextCompareSelection(state.csel, ov.group.column, idx, shift,
                                               state.canchor);
    window.dispatchEvent(new CustomEvent(GROUP_EVENT, {
      detail: { group: ov.group.id, sel: sel, anchor: anchor, id: id } }));
  } else if (ov) {
    state.last = id;
    [state.sel, state.anchor] = nextSelection(state.sel, idx, shift, state.anchor);
    showClick(state);
  }
  state.send("click", { index: idx, shift: !!shift, id: id });
}
// One window listener per mounted column; an unmounted one (its element gone) removes itself.
function listen(state, host, on) {
  const off = () => {
    if (state.onGroup) window.removeEventListener(GROUP_EVENT, state.onGroup);
    state.onGroup = null;
  };
  if (on && !state.onGroup) {
    state.onGroup = (e) => (host.isConnected ? onGroupClick(state, e.detail || {}) : off());
    window.addEventListener(GROUP_EVENT, state.onGroup);
  } else if (!on) {
    off();
  }
  return () => setTimeout(() => { if (!host.isConnected) off(); }, 0);
}
function buildPicker(state, parentElement, data) {
  let root = parentElement.querySelector(".seg-root");
  if (!root) {
    root = document.createElement("div");
    root.className = "seg-root";
    root.setAttribute("role", "group");
    parentElement.prepend(root);
  }
  // Redrawing keeps the keyboard focus on the same segment.
  const focus = root.getRootNode().activeElement;
  const refocus = focus && root.contains(focus) ? focus.getAttribute("data-segment-index") : null;
  root.replaceChildren();
  const segs = (data && data.segments) || [];
  root.setAttribute("aria-label", (data && data.label) || "Output segments");
  if (!segs.length) {
    const p = document.createElement("span");
    p.className = "seg-empty";
    p.textContent = (data && data.empty) || "(no output)";
    root.appendChild(p);
  }
  for (const s of segs) {
    if (s.gap) { appendText(root, s.gap); }
    const el = document.createElement("span");
    el.className = "seg";
    el.tabIndex = 0;
    el.setAttribute("role", "button");
    el.setAttribute("data-segment-index", String(s.index));
    el.title = s.title || "";
    appendText(el, s.text);
    el.addEventListener("click", (e) => { e.preventDefault(); onClick(state, s.index, e.shiftKey); });
    el.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " " || e.key === "Spacebar") {
        e.preventDefault(); onClick(state, s.index, e.shiftKey);
      }
    });
    root.appendChild(el);
    if (refocus !== null && refocus === String(s.index)) el.focus({ preventScroll: true });
  }
  return root;
}
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const state = parentElement.__salience || (parentElement.__salience = { last: null });
  state.send = setTriggerValue;
  const ov = (data && data.overlay) || null;
  state.ov = ov;
  // Until Python has handled the last click, the browser keeps its own selection and paint.
  const answered = !ov || state.last === null || data.last_click === state.last;
  if (answered) {
    state.sel = (data && data.selected) || null; state.anchor = data.anchor;
    if (ov && ov.group) { state.csel = ov.group.sel || null; state.canchor = ov.group.anchor; }
  } else if (ov.group) {
    state.sel = groupSelection(ov, state.csel);
  }
  // Redraws that change nothing (the fragment's while scores fill in) keep the elements, so a
  // click in progress is never lost to a replaced element.
  const segKey = JSON.stringify([data && data.segments, data && data.label]);
  if (state.segKey !== segKey || !parentElement.querySelector(".seg-root")) {
    state.root = buildPicker(state, parentElement, data);
    state.segKey = segKey;
  }
  for (const el of state.root.querySelectorAll("[role=button]")) {
    const i = el.getAttribute("data-segment-index");
    const busy = !!ov && !!ov.computing &&
      (ov.pending ? ov.pending.includes(Number(i)) : !ov.views[i]);
    el.classList.toggle("computing", busy);
    if (busy) el.setAttribute("aria-busy", "true"); else el.removeAttribute("aria-busy");
  }
  markPicker(state.root, state.sel);
  let part = parentElement.querySelector(".salience-part");
  if (!ov) {
    if (part) part.remove();
    state.ovKey = null;
    return listen(state, parentElement, false);
  }
  if (!part) {
    part = document.createElement("div");
    part.className = "salience-part";
    const heading = document.createElement("div");
    heading.className = "salience-heading";
    heading.textContent = "Prompt salience";
    const status = document.createElement("div");
    status.className = "salience-status";
    status.setAttribute("role", "status");
    part.append(heading, status, document.createElement("div"));
    parentElement.appendChild(part);
    state.ovKey = null;
  }
  state.status = part.children[1];
  state.box = part.children[2];
  let look = ov.current || null, text;
  if (answered) {
    text = state.sel === null ? (state.csel ? ov.nomatch : ov.hint) : (look ? "" : ov.waiting);
  } else {
    [look, text] = browserView(state);
  }
  const key = overlayKey(ov, look, state.sel);
  if (key !== state.ovKey) {
    drawOverlay(state.box, ov, look, state.sel);
    state.ovKey = key;
  }
  if (text === null) {
    state.box.setAttribute("aria-busy", "true");
    state.status.textContent = COMPUTING;
  } else {
    state.box.removeAttribute("aria-busy");
    state.status.textContent = text;
  }
  return listen(state, parentElement, !!ov.group);
}
""".replace("__HIDDEN_CLASS__", js_char_class())

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
                   overlay: dict[str, Any] | None = None, anchor: int | None = None) -> None:
    """Show `segments` as clickable spans; `on_click(index, shift)` runs before the rerun.

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

    data: dict[str, Any] = {"segments": segment_payload(text, segments, titles),
                            "selected": list(selected) if selected else None, "label": label,
                            "empty": "(the model produced no text)"}
    if overlay is not None:
        data.update(overlay=overlay, anchor=anchor, last_click=st.session_state.get(last_key))
    _component(key=key, data=data, on_click_change=_changed)
