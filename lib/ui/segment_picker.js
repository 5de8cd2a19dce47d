// The segment picker's browser side (lib/ui/segment_picker.py loads it; no build step).
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
  state.pending = { index: idx, shift: !!shift, id: id, tries: 0 };
  state.send("click", { index: idx, shift: !!shift, id: id });
}
// A click Python has not answered when its next view arrives is sent again (at most twice):
// a trigger can be overwritten by another interaction's rerun request while the server is
// busy. Python handles each click id once (lib.selection.new_click), so a resend is harmless.
function resendUnanswered(state, data) {
  const p = state.pending;
  if (!p) return;
  if (data.last_click === p.id) { state.pending = null; return; }
  if (p.tries >= 2) return;
  p.tries += 1;
  setTimeout(() => {
    if (state.pending === p) state.send("click", { index: p.index, shift: p.shift, id: p.id });
  }, 0);
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
  // A new output (a new generation, even with the same text): earlier clicks are moot.
  const outputId = (data && data.output_id) || "";
  if (state.outputId !== outputId) {
    state.outputId = outputId; state.last = null; state.pending = null;
  }
  if (data) resendUnanswered(state, data);
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
