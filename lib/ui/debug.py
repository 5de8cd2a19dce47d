"""The Debug page: prompt -> Generate -> click output segments -> salience overlay -> share.

Session-state keys start with `dbg_`. Granularity (`g`), method (`m`), selection (`sel`) and a
restored run (`run`) live in the URL too, so reload and copy-paste keep the view.
"""

from __future__ import annotations

import json
import re
from typing import Any

import streamlit as st

from lib.errors import InputError, StudioError
from lib.records import GenerationSettings, Segment
from lib.selection import (
    format_selection,
    in_range,
    next_selection,
    parse_selection,
    selected_indices,
    selection_from_stored,
    target_tokens,
)
from lib.ui import common
from lib.ui.copy_link import copy_link
from lib.ui.model_service import get_service, model_info
from lib.ui.owner import owner_id
from lib.ui.segment_picker import segment_picker
from lib.ui.url_state import UrlState
from lib.view import View, view_from_record, view_to_record
from lib.worker import PRIORITY_USER, prefetch_salience, request_salience

SOURCES = ("Template", "Upload .jsonl", "Raw prompt")
TARGETS = {"response": "The model's response", "row": "The row's target",
           "typed": "A target I type"}
CHAT = {"default": "Model default", "on": "On", "off": "Off"}
HOW_TO_READ = """
**Gradient salience** shows how strongly each earlier token *influenced the model's probability* of
the selected output segment, measured by the gradient of its loss with respect to the token
embeddings.

- It is **not causal**: a high score means the model's output is sensitive to that token, not that
  the token *caused* the answer. Change the prompt and compare to test a hypothesis.
- **Grad L2** is unsigned (always ≥ 0): it says *how much*, not in which direction.
  **Grad·Input** is signed; its sign is a rough hint, not a vote for or against.
- Scores are **relative within one view**: colours are scaled to the largest score shown, so do not
  compare colours across different selections unless the Compare page's shared scale is on.
- Special tokens (such as `<bos>`) are hidden; they still take part in the computation.
- On Gemma 3 the server multiplies matrices in bfloat16 (sums in float32) for speed, unless its
  administrator set `STUDIO_SALIENCE_PRECISION=float32`. On the menu story this moves scores by
  about 3% of the largest one, and the strongest tokens rank the same. A shared run's audit data
  records which arithmetic was used.
"""


# ---- URL <-> session --------------------------------------------------------------------------
URL = UrlState("dbg", parse_selection, format_selection)


def _restore_run(run_id: str, errors: list[str]) -> None:
    from lib.runs import RUN_ID_PATTERN, default_store

    if not re.fullmatch(RUN_ID_PATTERN, run_id):
        errors.append("The link's run id is malformed (it should be 22-64 letters, digits, "
                      "'-' or '_'); copy the whole link again from whoever shared it.")
        return
    if (st.session_state.get("dbg_view") is not None
            and st.session_state["dbg_view"].run_id == run_id):
        return
    saved = default_store().get(run_id)
    if saved is None:
        errors.append(f"No saved run has the id '{run_id}'. It may have been deleted by its "
                      "owner; ask whoever shared the link for a new one.")
        return
    if saved.kind != "debug":
        errors.append("This link is a Compare view; open it on the Compare page.")
        return
    try:
        view = view_from_record(saved.record, run_id=run_id)
    except InputError as e:
        errors.append(str(e))
        return
    rec, ui = saved.record, dict(saved.record.get("ui", {}))
    st.session_state["dbg_view"] = view
    st.session_state["dbg_g"] = ui.get("granularity", "words")
    st.session_state["dbg_pattern"] = ui.get("pattern", r"\S+")
    st.session_state["dbg_m"] = ui.get("method", "grad_l2")
    st.session_state["dbg_intensity"] = float(ui.get("intensity", 1.0))
    pal = ui.get("palette")
    if pal:
        signed = common.methods().get(ui.get("method", ""), ("", False))[1]
        st.session_state["dbg_palette_s" if signed else "dbg_palette_u"] = pal
    st.session_state["dbg_numbers"] = bool(ui.get("show_numbers", False))
    st.session_state["dbg_sel"] = selection_from_stored(ui.get("selection"))
    # Refill the inputs so the reviewer sees (and can edit) what produced this view.
    if rec.get("template_id"):
        st.session_state["dbg_source"] = "Template"
        st.session_state["dbg_template_id"] = rec["template_id"]
        st.session_state["dbg_template_text"] = rec.get("template_text", "")
        for k, v in dict(rec.get("variables", {})).items():
            st.session_state[f"dbg_var_{k}"] = v
    else:
        st.session_state["dbg_source"] = "Raw prompt"
        st.session_state["dbg_raw"] = rec.get("prompt", "")
    st.session_state["dbg_target_mode"] = rec.get("target_mode", "response")
    if view.target_mode != "response":
        st.session_state["dbg_target_mode"] = "typed"
        st.session_state["dbg_typed_target"] = view.seq.target
    st.session_state["dbg_max_new"] = view.settings.max_new_tokens
    st.session_state["dbg_stop"] = common.encode_stop(view.settings.stop)


# ---- inputs -----------------------------------------------------------------------------------
def _template_inputs() -> dict[str, Any]:
    from lib.templates import BUILTIN_TEMPLATES, get_template, render_template, template_variables

    ids = [t.id for t in BUILTIN_TEMPLATES]
    if st.session_state.get("dbg_template_id") not in ids:
        st.session_state["dbg_template_id"] = ids[0]

    def _reset() -> None:
        t = get_template(st.session_state["dbg_template_id"])
        st.session_state["dbg_template_text"] = t.text
        for k, v in t.defaults:
            st.session_state[f"dbg_var_{k}"] = v
        st.session_state["dbg_stop"] = common.encode_stop(t.stop)

    # Widgets whose value code sets take the session's value as their default too
    # (common.held explains why).
    tid = st.selectbox("Template", ids, key="dbg_template_id", on_change=_reset,
                       index=common.held_index("dbg_template_id", ids),
                       format_func=lambda i: get_template(i).title)
    tmpl = get_template(tid)
    if "dbg_template_text" not in st.session_state:
        _reset()
    st.caption(common.md_escape(tmpl.description))
    text = st.text_area("Template text (use {name} for a variable, {{ and }} for braces)",
                        value=common.held("dbg_template_text", ""), key="dbg_template_text",
                        height=220)
    out: dict[str, Any] = {"template_id": tid, "template_text": text, "variables": {},
                           "prompt": None, "error": None, "row_target": ""}
    try:
        names = template_variables(text)
    except InputError as e:
        out["error"] = str(e)
        return out
    defaults = tmpl.default_values()
    for name in names:
        key = f"dbg_var_{name}"
        if key not in st.session_state:
            st.session_state[key] = defaults.get(name, "")
        out["variables"][name] = st.text_input(name, value=common.held(key, ""), key=key)
    try:
        out["prompt"] = render_template(text, out["variables"])
    except InputError as e:
        out["error"] = str(e)
    return out


def _upload_inputs() -> dict[str, Any]:
    from lib.prompt_file import parse_prompt_file

    out: dict[str, Any] = {"template_id": "", "template_text": "", "variables": {},
                           "prompt": None, "error": None, "row_target": ""}
    up = st.file_uploader("Prompt file (.jsonl: one JSON object per line with \"prompt\", "
                          "optional \"target\" and \"source\")", type=["jsonl", "json", "txt"],
                          key="dbg_upload")
    pasted = st.text_area("…or paste JSON Lines here", key="dbg_jsonl_text", height=100)
    data = up.getvalue() if up is not None else pasted.encode("utf-8")
    if not data.strip():
        out["error"] = "Upload a .jsonl file or paste its lines to pick a prompt from it."
        return out
    try:
        rows = parse_prompt_file(data)
    except InputError as e:
        out["error"] = str(e)
        return out
    labels = {i: f"line {r.line}: {r.source or 'row'} · {r.prompt[:60]!r}"
              for i, r in enumerate(rows)}
    if st.session_state.get("dbg_row", 0) >= len(rows):
        st.session_state["dbg_row"] = 0
    i = st.selectbox("Row", list(range(len(rows))), key="dbg_row", format_func=labels.get,
                     index=common.held_index("dbg_row", range(len(rows))))
    row = rows[i]
    out.update(prompt=row.prompt, row_target=row.target, source=row.source)
    return out


def _raw_inputs() -> dict[str, Any]:
    text = st.text_area("Prompt", value=common.held("dbg_raw", ""), key="dbg_raw", height=200)
    return {"template_id": "", "template_text": "", "variables": {}, "prompt": text,
            "error": None, "row_target": ""}


def _settings() -> tuple[GenerationSettings | None, str | None]:
    st.session_state.setdefault("dbg_max_new", 32)
    st.session_state.setdefault("dbg_stop", "\\n\\n")
    with st.expander("Generation settings"):
        c1, c2, c3 = st.columns(3)
        lim = common.limits()
        fit = (f" Prompt plus new tokens must fit in {lim['max_prompt_tokens']:,} tokens."
               if "max_prompt_tokens" in lim else "")
        max_new = c1.number_input("Max new tokens", min_value=1,
                                  max_value=common.MAX_NEW_TOKENS, step=1, key="dbg_max_new",
                                  value=common.held("dbg_max_new", 32),
                                  help=f"1 to {common.MAX_NEW_TOKENS}.{fit}")
        mode = c2.radio("Decoding", ["Greedy", "Sampling"], key="dbg_decoding", horizontal=True)
        chat = c3.radio("Chat template", list(CHAT), format_func=CHAT.get, key="dbg_chat",
                        horizontal=True)
        temp, top_k = 0.0, 0
        if mode == "Sampling":
            st.session_state.setdefault("dbg_temp", 0.8)
            st.session_state.setdefault("dbg_topk", 40)
            temp = st.slider("Temperature", 0.05, 2.0, step=0.05, key="dbg_temp",
                             value=common.held("dbg_temp", 0.8))
            top_k = st.number_input("Top-k (0 = all)", 0, 1000, key="dbg_topk",
                                    value=common.held("dbg_topk", 40))
        seed = st.number_input("Seed", 0, 2**31 - 1, key="dbg_seed")
        stop_text = st.text_input(r"Stop text (\n = new line; separate several with |)",
                                  value=common.held("dbg_stop", ""), key="dbg_stop")
    try:
        settings = GenerationSettings(
            max_new_tokens=int(max_new), temperature=float(temp), top_k=int(top_k),
            seed=int(seed), stop=common.decode_stop(stop_text),
            chat_template=None if chat == "default" else chat == "on")
    except (TypeError, ValueError) as e:
        return None, f"The generation settings are invalid ({e}); check the numbers."
    return settings, None


# ---- generation -------------------------------------------------------------------------------
def _generate(inputs: dict[str, Any], settings: GenerationSettings, target_mode: str,
              target_text: str) -> None:
    prompt = inputs["prompt"]
    if inputs["error"]:
        raise InputError(inputs["error"])
    if not prompt or not prompt.strip():
        raise InputError("The prompt is empty: type a prompt (or fill in the template's "
                         "variables) before pressing Generate.", field="prompt")
    if target_mode != "response" and not target_text.strip():
        raise InputError("The target is empty: type the text you want explained, or choose "
                         "'The model's response'.", field="target")
    svc = get_service()
    progress = common.JobProgress()

    def job(model: Any) -> dict[str, Any]:
        from lib import pipeline

        gen = pipeline.generate(model, prompt, settings, progress=progress.update)
        seq = gen.sequence
        if target_mode != "response":
            seq = pipeline.sequence_for_target(model, prompt, target_text,
                                               chat_template=settings.chat_template)
        return {"gen": gen, "seq": seq, "spec": model.spec, "name": model.name,
                "fingerprint": model.fingerprint}

    fut = svc.submit(job, priority=PRIORITY_USER, owner=owner_id())
    res = common.wait_for(fut, svc, "Generating", progress)
    gen = res["gen"]
    response = target_mode == "response"
    st.session_state["dbg_view"] = View(
        seq=res["seq"], prompt=prompt, model_spec=str(res["spec"]), model_name=str(res["name"]),
        fingerprint=str(res["fingerprint"]), settings=settings,
        probs=tuple(gen.probs) if response else (),
        alternatives=tuple(gen.alternatives) if response else (),
        target_mode=target_mode, stop_reason=gen.stop_reason,
        template_id=inputs.get("template_id", ""), template_text=inputs.get("template_text", ""),
        variables=dict(inputs.get("variables", {})))
    st.session_state["dbg_response"] = gen.text
    st.session_state["dbg_sel"] = None
    st.session_state.pop("dbg_prefetched", None)


# ---- analysis ---------------------------------------------------------------------------------
def _scores_for(view: View, method: str, targets: list[int]) -> tuple[float, ...] | None:
    """Stored scores, else the server's cache, else compute (only with the same weights)."""
    got = view.score_for(method, targets)
    if got is not None:
        return got
    svc = get_service()
    info = model_info(svc)
    state = svc.status()["state"]
    if state != "ready":
        if state == "error":
            st.warning("These scores were not saved with the run and the server's model could "
                       "not be loaded, so they cannot be computed.")
        else:
            st.info("These scores were not saved with the run; they will be computed once the "
                    "model has loaded (press R or click the segment again in a moment).")
        return None
    if info["fingerprint"] != view.fingerprint:
        st.info(common.md_escape(
            f"These scores were not saved with the run, and the server's model ({info['name']}) "
            f"is not the one that produced it ({view.model_name}), so they cannot be recomputed "
            "here."))
        return None
    from lib import pipeline

    fut = request_salience(svc, view.seq, targets, method,
                           lambda m, seq, t, meth: pipeline.salience(m, seq, t, meth),
                           owner=owner_id())
    sal = common.wait_for(fut, svc, "Computing salience for the selected segment")
    view.add_scores(method, targets, sal.scores)
    return view.score_for(method, targets)


def _prefetch(view: View, out_segs: list[Segment], g: str, method: str,
              state_key: str = "dbg_prefetched") -> None:
    svc = get_service()
    if svc.status()["state"] != "ready" or model_info(svc)["fingerprint"] != view.fingerprint:
        return
    key = (id(view), len(view.seq.tokens), g, tuple(s.index for s in out_segs), method)
    if st.session_state.get(state_key) == key:
        return
    st.session_state[state_key] = key
    from lib import pipeline

    targets = [list(s.token_indices) for s in out_segs if s.token_indices]
    prefetch_salience(svc, view.seq, targets, method,
                      lambda m, seq, ts, meth: pipeline.salience_batch(m, seq, ts, meth),
                      owner=owner_id())


def _collect_scores(view: View, out_segs: list[Segment]) -> dict:
    """Scores for the current view plus whatever prefetching has finished, for sharing."""
    from lib import pipeline

    model = get_service().model
    extra: dict = {}
    if model is None or model.fingerprint != view.fingerprint:
        return extra
    for method in common.methods():
        for s in out_segs:
            t = sorted(s.token_indices)
            if not t or view.score_for(method, t) is not None:
                continue
            hit = pipeline.cached_salience(model, view.seq, t, method)
            if hit is not None:
                extra[(method, tuple(t))] = tuple(float(x) for x in hit.scores)
    return extra


def _analysis(view: View) -> None:
    from lib.render import (
        PALETTES,
        colour_scale,
        default_palette,
        render_legend_html,
        render_segments_html,
    )
    from lib.report import render_report_html
    from lib.segments import GRANULARITIES, segment_scores, segment_sequence

    meths = common.methods()
    st.session_state.setdefault("dbg_g", "words")
    st.session_state.setdefault("dbg_m", "grad_l2")
    c1, c2, c3 = st.columns([1.2, 1.2, 1])
    g = c1.selectbox("Segments", list(GRANULARITIES), key="dbg_g", on_change=URL.hold,
                     index=common.held_index("dbg_g", GRANULARITIES),
                     format_func=lambda x: common.GRANULARITY_LABELS.get(x, x))
    pattern = None
    if g == "regex":
        st.session_state.setdefault("dbg_pattern", r"\S+")
        pattern = c1.text_input("Pattern (each match is a segment)", key="dbg_pattern",
                                value=common.held("dbg_pattern", r"\S+"))
    method = c2.radio("Method", list(meths), key="dbg_m", horizontal=True, on_change=URL.hold,
                      index=common.held_index("dbg_m", meths),
                      format_func=lambda x: meths[x][0])
    signed = meths[method][1]
    # The session's value as the default, never the slider's minimum (common.held).
    intensity = c3.slider("Intensity", 0.2, 3.0, value=float(common.held("dbg_intensity", 1.0)),
                          step=0.1, key="dbg_intensity")
    names = [n for n, p in PALETTES.items() if p.diverging == signed]
    names = names or list(PALETTES)
    pal_key = "dbg_palette_s" if signed else "dbg_palette_u"
    if st.session_state.get(pal_key) not in names:
        st.session_state[pal_key] = default_palette(signed) if default_palette(
            signed) in names else names[0]
    c4, c5 = st.columns([1.2, 2])
    palette = c4.selectbox("Palette (colour-blind safe)", names, key=pal_key,
                           index=common.held_index(pal_key, names),
                           format_func=lambda n: getattr(PALETTES[n], "label", n))
    numbers = c5.toggle("Show numbers", value=bool(common.held("dbg_numbers", False)),
                        key="dbg_numbers")

    try:
        segments = segment_sequence(view.seq, g, pattern)
    except InputError as e:
        common.show_error(str(e))
        URL.write(view.run_id)
        return
    out_segs = [s for s in segments if not s.in_prompt]
    sel = st.session_state.get("dbg_sel")
    valid = {s.index for s in out_segs}
    if sel is not None and not in_range(sel, valid):
        lo, hi = (min(valid), max(valid)) if valid else (0, -1)
        st.error(f"The selection {format_selection(sel)} is not a segment of the output at "
                 f"this granularity (output segments are {lo}–{hi}); click a segment instead.")
        sel = st.session_state["dbg_sel"] = None
    # Into the address bar now (the page's one write), before the slow part (scores, chart,
    # prefetch): a reload or a copied address during the computation keeps the selection.
    URL.write(view.run_id)

    def on_click(index: int, shift: bool) -> None:
        URL.hold()
        new, anchor = next_selection(st.session_state.get("dbg_sel"), index, shift,
                                     st.session_state.get("dbg_anchor"))
        st.session_state["dbg_sel"], st.session_state["dbg_anchor"] = new, anchor

    st.markdown("**Output** — click a segment to see what in the prompt drove it "
                "(shift-click extends; click again clears; Tab + Enter from the keyboard).")
    segment_picker(view.seq.text, out_segs, sel, key="dbg_picker", on_click=on_click,
                   titles=_segment_titles(view, out_segs))
    if view.target_mode != "response" and st.session_state.get("dbg_response"):
        st.caption("The model's own response was: "
                   + common.md_escape(repr(st.session_state["dbg_response"])))
    if sel is not None:
        _target_details(view, out_segs, sel)

    scores = None
    if sel is not None:
        targets = target_tokens(out_segs, sel)
        scores = _scores_for(view, method, targets)
    seg_vals = segment_scores(segments, scores) if scores is not None else None
    sel_idx = selected_indices(segments, sel)
    if seg_vals is not None:
        shown = [v for s, v in zip(segments, seg_vals, strict=True) if s.index not in sel_idx]
        scale = colour_scale([v * 1.0 for v in shown] or [0.0], signed)
    else:
        scale = colour_scale([0.0], signed)
    st.markdown("**Prompt salience**" + (" — select a segment of the output first."
                                         if sel is None else ""))
    st.html(render_segments_html(view.seq, segments, seg_vals, scale, palette=palette,
                                 intensity=intensity, show_numbers=numbers, selected=sel_idx,
                                 part="all"))
    st.html(render_legend_html(scale, palette, meths[method][0]))
    if seg_vals is not None:
        _top_chart(segments, seg_vals, signed)
    with st.expander("How to read this"):
        st.markdown(HOW_TO_READ)
    _prefetch(view, out_segs, g, method)
    _share_and_export(view, segments, out_segs, seg_vals, scale, palette, method, sel_idx,
                      render_report_html, {"granularity": g, "pattern": pattern or "",
                                           "method": method, "intensity": intensity,
                                           "palette": palette, "show_numbers": numbers,
                                           "selection": list(sel) if sel else None})


def _generated_positions(view: View, segs: list[Segment]) -> list[int]:
    """Indices into view.probs of the generated tokens these segments cover."""
    n = len(view.probs)
    return [t - view.seq.prompt_length for s in segs for t in s.token_indices
            if 0 <= t - view.seq.prompt_length < n]


def _segment_titles(view: View, out_segs: list[Segment]) -> list[str] | None:
    """Hover text of each output segment: the probability of its first token."""
    if not view.probs:
        return None
    out = []
    for s in out_segs:
        pos = _generated_positions(view, [s])
        out.append(f"p(first token) = {view.probs[pos[0]]:.1%}" if pos else "")
    return out


def _target_details(view: View, out_segs: list[Segment], sel: tuple[int, int]) -> None:
    """The selected target, its probability, and what else the model considered."""
    from lib.text_safety import safe_html

    chosen = [s for s in out_segs if sel[0] <= s.index <= sel[1]]
    text = view.seq.text[chosen[0].start:chosen[-1].end] if chosen else ""
    parts = [f'<div class="target-box"><b>Selected target</b> '
             f'<span class="target-text">{safe_html(text)}</span>']
    pos = _generated_positions(view, chosen) if view.probs else []
    if pos:
        p = 1.0
        for i in pos:
            p *= view.probs[i]
        parts.append(f'<div>Probability of this text given everything before it: '
                     f'<b>{p:.3g}</b> ({len(pos)} token{"s" if len(pos) != 1 else ""}; '
                     f'first token {view.probs[pos[0]]:.1%})</div>')
        alts = view.alternatives[pos[0]] if pos[0] < len(view.alternatives) else ()
        if alts:
            chips = "".join(
                f'<span class="alt"><code>{safe_html(a.text)}</code> {a.prob:.1%}</span>'
                for a in alts)
            parts.append(f"<div>At its first token the model's top choices were: {chips}"
                         "</div>")
    elif view.target_mode != "response":
        parts.append("<div>This target was typed, not generated, so there are no "
                     "generation probabilities for it.</div>")
    parts.append("</div>")
    st.html(_TARGET_CSS + "".join(parts))


_TARGET_CSS = """<style>
.target-box { border-left: 4px solid #c77700; padding: .35rem .7rem; margin: .2rem 0 .4rem;
  background: rgba(255,190,0,.10); line-height: 1.7; }
.target-box .target-text { white-space: pre-wrap; background: rgba(255,190,0,.35);
  border-radius: 3px; padding: 0 .2rem; }
.target-box .alt { display: inline-block; margin: 0 .5rem .1rem 0; white-space: nowrap; }
.target-box code { white-space: pre; background: #fff; border: 1px solid #ccd;
  border-radius: 3px; padding: 0 .25rem; }
</style>"""


def _top_chart(segments: list[Segment], seg_vals: list[float], signed: bool) -> None:
    import plotly.graph_objects as go

    from lib.text_safety import escape_html, safe_plain

    ranked = sorted(((v, s) for s, v in zip(segments, seg_vals, strict=True) if s.in_prompt),
                    key=lambda x: -abs(x[0]))[:10]
    if not ranked:
        return
    # Plotly reads a few HTML tags (<a>, <b>, <br>) in labels: escape prompt text for it.
    labels = [escape_html(f"#{s.index} {safe_plain(s.text.strip())[:40]!r}")
              for _, s in ranked][::-1]
    values = [v for v, _ in ranked][::-1]
    colours = ["#542788" if v >= 0 else "#b35806" for v in values] if signed else "#2171b5"
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h", marker_color=colours,
                           hovertemplate="%{y}: %{x:.4g}<extra></extra>"))
    fig.update_layout(height=70 + 26 * len(ranked), margin=dict(l=10, r=10, t=36, b=10),
                      title="Top prompt segments by salience", yaxis=dict(automargin=True))
    st.plotly_chart(fig, key="dbg_chart")


def _share_and_export(view: View, segments, out_segs, seg_vals, scale, palette, method,
                      sel_idx, render_report_html, ui: dict[str, Any]) -> None:
    from lib.runs import default_store

    st.divider()
    c1, c2, c3 = st.columns(3)
    title = (view.prompt.strip().splitlines() or ["Run"])[0][:60]
    if c1.button("Share", key="dbg_share"):
        record = view_to_record(view, ui, _collect_scores(view, out_segs))
        run_id = default_store().save(record, owner=owner_id(), title=title, kind="debug")
        view.run_id = run_id
        st.session_state["dbg_shared"] = run_id
    if st.session_state.get("dbg_shared") and st.session_state["dbg_shared"] == view.run_id:
        link = common.share_url(view.run_id)
        st.session_state["dbg_share_url"] = link
        st.success("Saved. Anyone with this link sees exactly this view (it is also listed "
                   "under Saved runs):")
        copy_link(link, key="dbg_copy_link")
    meths = common.methods()
    report = render_report_html(
        title=title, seq=view.seq, segments=segments, scores=seg_vals, scale=scale,
        palette=palette, method_label=meths[method][0], selected=sel_idx,
        model_name=view.model_name,
        settings={**ui, "max_new_tokens": view.settings.max_new_tokens,
                  "temperature": view.settings.temperature, "seed": view.settings.seed},
        audit={"model_fingerprint": view.fingerprint, **_audit()},
        intensity=float(ui["intensity"]), show_numbers=bool(ui["show_numbers"]))
    c2.download_button("Export HTML report", report, file_name="salience-report.html",
                       mime="text/html", key="dbg_export_html")
    scores_json = json.dumps({
        "model": view.model_name, "fingerprint": view.fingerprint, "method": method,
        "granularity": ui["granularity"], "selection": ui["selection"],
        "tokens": [{"index": t.index, "text": t.text, "special": t.special} for t in view.seq.tokens],
        "segments": [{"index": s.index, "text": s.text, "in_prompt": s.in_prompt,
                      "score": None if seg_vals is None else seg_vals[i]}
                     for i, s in enumerate(segments)],
    }, ensure_ascii=False, indent=1)
    c3.download_button("Export scores (JSON)", scores_json, file_name="salience-scores.json",
                       mime="application/json", key="dbg_export_json")


def _audit() -> dict[str, Any]:
    from lib.view import audit_data

    return audit_data()


# ---- page -------------------------------------------------------------------------------------
def render_debug_page() -> None:
    errors: list[str] = []
    URL.adopt(errors, _restore_run, name_current_g=True)
    st.title("Debug a prompt")
    for e in errors:
        common.show_error(e)
    common.model_banner(get_service())
    # Inputs on the left, the result on the right: a reviewer sees both without scrolling.
    left, right = st.columns([2, 3], gap="large")
    with left:
        _input_column()
    view = st.session_state.get("dbg_view")
    with right:
        if view is None:
            URL.write(st.query_params.get("run"))
            st.info("Press **Generate** to see the model's output here. Then click any part of "
                    "the output to see which parts of the prompt drove it.")
        else:
            caption = f"Model {view.model_name}"
            if view.run_id:
                caption = f"Saved run {view.run_id} · " + caption
            st.caption(common.md_escape(caption))
            _analysis(view)


def _input_column() -> None:
    source = st.radio("Prompt from", SOURCES, key="dbg_source", horizontal=True,
                      index=common.held_index("dbg_source", SOURCES))
    if source == "Template":
        inputs = _template_inputs()
    elif source == "Upload .jsonl":
        inputs = _upload_inputs()
    else:
        inputs = _raw_inputs()
    if inputs["error"]:
        common.show_error(inputs["error"])
    elif inputs["prompt"] and source != "Raw prompt":
        with st.expander("Prompt preview", expanded=False):
            st.code(inputs["prompt"], language=None, wrap_lines=True)

    settings, settings_error = _settings()
    if settings_error:
        common.show_error(settings_error)
    modes = ["response", "typed"] + (["row"] if inputs.get("row_target") else [])
    if st.session_state.get("dbg_target_mode") not in modes:
        st.session_state["dbg_target_mode"] = "response"
    target_mode = st.radio("Explain", modes, format_func=TARGETS.get, key="dbg_target_mode",
                           index=common.held_index("dbg_target_mode", modes), horizontal=True)
    target_text = ""
    if target_mode == "typed":
        target_text = st.text_input("Target text (e.g. ' Avoid.')", key="dbg_typed_target",
                                    value=common.held("dbg_typed_target", ""))
    elif target_mode == "row":
        target_text = inputs["row_target"]
        st.code(target_text, language=None, wrap_lines=True)

    if (st.button("Generate", type="primary", key="dbg_generate", on_click=URL.hold)
            and settings is not None):
        try:
            _generate(inputs, settings, target_mode, target_text)
        except StudioError as e:
            common.show_error(str(e))
