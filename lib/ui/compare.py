"""Compare page: 2-3 prompt variants side by side, synced selection, one shared colour scale.

Session keys start with `cmp_`. A click in one column selects the matching segment in the others
(`lib.compare.match_segment`). The whole set is shared as one saved run of kind "compare".
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from lib.errors import InputError, StudioError
from lib.records import GenerationSettings
from lib.ui import common
from lib.ui.debug import _prefetch, _scores_for
from lib.ui.model_service import get_service
from lib.ui.owner import owner_id
from lib.ui.segment_picker import segment_picker
from lib.ui.view import View, view_from_record, view_to_record
from lib.worker import PRIORITY_USER

DEFAULT_VARIANTS = ("fewshot-mistake", "fewshot-fixed", "fewshot-constitution")


def _restore(run_id: str) -> str | None:
    from lib.runs import RUN_ID_PATTERN, default_store

    if not re.fullmatch(RUN_ID_PATTERN, run_id):
        return ("The link's run id is malformed (it should be 22-64 letters, digits, '-' or "
                "'_'); copy the whole link again from whoever shared it.")
    if st.session_state.get("cmp_run") == run_id:
        return None
    saved = default_store().get(run_id)
    if saved is None:
        return (f"No saved run has the id '{run_id}'. It may have been deleted by its owner; "
                "ask whoever shared the link for a new one.")
    if saved.kind != "compare":
        return "This link is a single-prompt view; open it on the Debug page."
    try:
        rec = saved.record
        views = [view_from_record(r, run_id=run_id) for r in rec["views"]]
        ui = dict(rec.get("ui", {}))
    except (InputError, KeyError, TypeError) as e:
        return str(e) if isinstance(e, InputError) else (
            "This saved comparison is damaged and cannot be shown; ask for a new link.")
    st.session_state["cmp_views"] = views
    st.session_state["cmp_run"] = run_id
    st.session_state["cmp_n"] = len(views)
    for i, v in enumerate(views):
        st.session_state[f"cmp_tpl_{i}"] = v.template_id or DEFAULT_VARIANTS[i % 3]
        st.session_state[f"cmp_text_{i}"] = v.template_text
        for k, val in v.variables.items():
            st.session_state[f"cmp_var_{k}"] = val
    st.session_state["cmp_g"] = ui.get("granularity", "lines")
    st.session_state["cmp_m"] = ui.get("method", "grad_l2")
    st.session_state["cmp_shared"] = bool(ui.get("shared_scale", True))
    sel = ui.get("selection")
    st.session_state["cmp_sel"] = (int(sel[0]), int(sel[1])) if sel else None
    return None


def _variant_inputs(n: int) -> list[dict[str, Any]]:
    from lib.templates import BUILTIN_TEMPLATES, get_template, render_template, template_variables

    ids = [t.id for t in BUILTIN_TEMPLATES]
    cols = st.columns(n)
    texts = []
    for i in range(n):
        key = f"cmp_tpl_{i}"
        if st.session_state.get(key) not in ids:
            st.session_state[key] = DEFAULT_VARIANTS[i] if DEFAULT_VARIANTS[i] in ids else ids[0]

        def _reset(i: int = i) -> None:
            st.session_state[f"cmp_text_{i}"] = get_template(st.session_state[f"cmp_tpl_{i}"]).text

        with cols[i]:
            tid = st.selectbox(f"Variant {i + 1}", ids, key=key, on_change=_reset,
                               format_func=lambda t: get_template(t).title)
            if f"cmp_text_{i}" not in st.session_state or not st.session_state[f"cmp_text_{i}"]:
                _reset()
            with st.expander("Edit template"):
                texts.append((tid, st.text_area("Template text", key=f"cmp_text_{i}",
                                                height=200)))
    # Variables are shared: the same values go into every variant.
    names: list[str] = []
    defaults: dict[str, str] = {}
    errors: dict[int, str] = {}
    for i, (tid, text) in enumerate(texts):
        try:
            for v in template_variables(text):
                if v not in names:
                    names.append(v)
        except InputError as e:
            errors[i] = f"Variant {i + 1}: {e}"
        defaults.update({k: v for k, v in get_template(tid).defaults if k not in defaults})
    values: dict[str, str] = {}
    if names:
        vcols = st.columns(min(len(names), 3))
        for j, name in enumerate(names):
            key = f"cmp_var_{name}"
            if key not in st.session_state:
                st.session_state[key] = defaults.get(name, "")
            values[name] = vcols[j % len(vcols)].text_input(name, key=key)
    out = []
    for i, (tid, text) in enumerate(texts):
        item = {"template_id": tid, "template_text": text, "prompt": None,
                "error": errors.get(i), "variables": {}}
        if item["error"] is None:
            try:
                used = template_variables(text)
                item["variables"] = {k: values.get(k, "") for k in used}
                item["prompt"] = render_template(text, item["variables"])
            except InputError as e:
                item["error"] = f"Variant {i + 1}: {e}"
        out.append(item)
    return out


def _generate_all(items: list[dict[str, Any]], settings: GenerationSettings) -> None:
    for it in items:
        if it["error"]:
            raise InputError(it["error"])
        if not it["prompt"] or not it["prompt"].strip():
            raise InputError("A variant's prompt is empty; fill in its template.",
                             field="prompt")
    svc = get_service()
    futures = []
    for it in items:
        def job(model: Any, prompt: str = it["prompt"]) -> tuple:
            from lib import pipeline

            return pipeline.generate(model, prompt, settings), model
        futures.append(svc.submit(job, priority=PRIORITY_USER, owner=owner_id()))
    views = []
    for i, (it, fut) in enumerate(zip(items, futures, strict=True)):
        gen, model = common.wait_for(fut, svc, f"Generating variant {i + 1}")
        views.append(View(seq=gen.sequence, prompt=it["prompt"], model_spec=str(model.spec),
                          model_name=str(model.name), fingerprint=str(model.fingerprint),
                          settings=settings, probs=tuple(gen.probs),
                          alternatives=tuple(gen.alternatives), stop_reason=gen.stop_reason,
                          template_id=it["template_id"], template_text=it["template_text"],
                          variables=dict(it["variables"])))
    st.session_state["cmp_views"] = views
    st.session_state["cmp_sel"] = None
    st.session_state.pop("cmp_run", None)
    if "run" in st.query_params:
        del st.query_params["run"]


def _results(views: list[View]) -> None:
    from lib.compare import match_segment, render_diff_html
    from lib.render import (
        PALETTES,
        colour_scale,
        default_palette,
        render_legend_html,
        render_segments_html,
    )
    from lib.segments import GRANULARITIES, segment_scores, segment_sequence

    meths = common.methods()
    st.session_state.setdefault("cmp_g", "lines")
    st.session_state.setdefault("cmp_m", "grad_l2")
    st.session_state.setdefault("cmp_shared", True)
    st.session_state.setdefault("cmp_intensity", 1.0)
    c1, c2, c3, c4 = st.columns(4)
    g = c1.selectbox("Segments", [x for x in GRANULARITIES if x != "regex"], key="cmp_g",
                     format_func=lambda x: common.GRANULARITY_LABELS.get(x, x))
    method = c2.radio("Method", list(meths), key="cmp_m", horizontal=True,
                      format_func=lambda x: meths[x][0])
    shared = c3.toggle("One shared colour scale", key="cmp_shared")
    intensity = c4.slider("Intensity", 0.2, 3.0, step=0.1, key="cmp_intensity")
    signed = meths[method][1]
    palette = default_palette(signed)
    if palette not in PALETTES:
        palette = next(iter(PALETTES))

    with st.expander("What differs between the prompts", expanded=True):
        for i in range(1, len(views)):
            st.markdown(f"Variant 1 → variant {i + 1} (added text marked, removed text struck):")
            st.html(render_diff_html(views[0].prompt, views[i].prompt))

    segs = [segment_sequence(v.seq, g) for v in views]
    outs = [[s for s in ss if not s.in_prompt] for ss in segs]
    # Selection = (column, segment index); other columns follow via match_segment.
    sel = st.session_state.get("cmp_sel")
    if sel is not None and not (0 <= sel[0] < len(views)
                                and any(s.index == sel[1] for s in outs[sel[0]])):
        st.error("The selected segment is not in that variant's output at this granularity; "
                 "click a segment instead.")
        sel = st.session_state["cmp_sel"] = None
    chosen: list[int | None] = [None] * len(views)
    if sel is not None:
        src_col, src_idx = sel
        src_pos = next(i for i, s in enumerate(segs[src_col]) if s.index == src_idx)
        for j in range(len(views)):
            if j == src_col:
                chosen[j] = src_idx
            else:
                m = match_segment(segs[src_col], src_pos, segs[j], g)
                # Only output segments can be targets; a match in the prompt does not count.
                ok = m is not None and not segs[j][m].in_prompt
                chosen[j] = segs[j][m].index if ok else None

    scores: list[list[float] | None] = []
    for j, v in enumerate(views):
        if chosen[j] is None:
            scores.append(None)
            continue
        seg = next(s for s in segs[j] if s.index == chosen[j])
        tok = _scores_for(v, method, sorted(seg.token_indices))
        scores.append(segment_scores(segs[j], tok) if tok is not None else None)
    pool = [val for j, sc in enumerate(scores) if sc is not None
            for s, val in zip(segs[j], sc, strict=True) if s.index != chosen[j]]
    shared_scale = colour_scale(pool or [0.0], signed)

    cols = st.columns(len(views))
    for j, v in enumerate(views):
        with cols[j]:
            st.markdown(f"**Variant {j + 1}** · {v.template_id or 'prompt'}")

            def on_click(index: int, shift: bool, j: int = j) -> None:
                cur = st.session_state.get("cmp_sel")
                st.session_state["cmp_sel"] = None if cur == (j, index) else (j, index)

            picked = (chosen[j], chosen[j]) if chosen[j] is not None else None
            segment_picker(v.seq.text, outs[j], picked, key=f"cmp_picker_{j}", on_click=on_click,
                           label=f"Output of variant {j + 1}")
            if sel is not None and chosen[j] is None:
                st.caption("No matching segment in this output.")
            sc = scores[j]
            scale = shared_scale
            if not shared and sc is not None:
                scale = colour_scale([val for s, val in zip(segs[j], sc, strict=True)
                                      if s.index != chosen[j]] or [0.0], signed)
            st.html(render_segments_html(v.seq, segs[j], sc, scale, palette=palette,
                                         intensity=intensity,
                                         selected=[chosen[j]] if chosen[j] is not None else [],
                                         part="all"))
            if not shared or j == 0:
                st.html(render_legend_html(scale, palette, meths[method][0]))
            _prefetch(v, outs[j], g, method, state_key=f"cmp_prefetched_{j}")
    _share(views, {"granularity": g, "method": method, "shared_scale": shared,
                   "intensity": intensity,
                   "selection": list(sel) if sel is not None else None})


def _share(views: list[View], ui: dict[str, Any]) -> None:
    from lib.runs import default_store

    st.divider()
    if st.button("Share", key="cmp_share"):
        record = {"version": 1, "kind": "compare", "ui": ui,
                  "model": {"name": views[0].model_name, "spec": views[0].model_spec,
                            "fingerprint": views[0].fingerprint},
                  "views": [view_to_record(v, ui) for v in views]}
        title = "Compare: " + ", ".join(v.template_id or "prompt" for v in views)
        run_id = default_store().save(record, owner=owner_id(), title=title, kind="compare")
        st.session_state["cmp_run"] = run_id
        for v in views:
            v.run_id = run_id
        st.query_params["run"] = run_id
        st.session_state["cmp_shared_link"] = run_id
    if st.session_state.get("cmp_shared_link") and (
            st.session_state.get("cmp_shared_link") == st.session_state.get("cmp_run")):
        st.success("Saved. Anyone with this link sees exactly this comparison:")
        st.code(f"?run={st.session_state['cmp_run']}", language=None)


def render_compare_page() -> None:
    st.title("Compare prompt variants")
    run_id = st.query_params.get("run")
    if run_id:
        err = _restore(run_id)
        if err:
            st.error(err)
    common.model_banner(get_service())
    st.session_state.setdefault("cmp_n", 3)
    n = st.radio("Variants", [2, 3], key="cmp_n", horizontal=True)
    items = _variant_inputs(n)
    for it in items:
        if it["error"]:
            st.error(it["error"])
    st.session_state.setdefault("cmp_max_new", 32)
    st.session_state.setdefault("cmp_stop", "\\n\\n")
    with st.expander("Generation settings (greedy, shared by all variants)"):
        max_new = st.number_input("Max new tokens", 1, common.MAX_NEW_TOKENS, key="cmp_max_new")
        stop = st.text_input(r"Stop text (\n = new line; separate several with |)",
                             key="cmp_stop")
    settings = GenerationSettings(max_new_tokens=int(max_new), stop=common.decode_stop(stop))
    if st.button("Generate all", type="primary", key="cmp_generate"):
        try:
            _generate_all(items, settings)
        except StudioError as e:
            st.error(str(e))
    views = st.session_state.get("cmp_views")
    if views:
        _results(views)

