"""Compare page: 2-3 prompt variants side by side, synced selection, one shared colour scale.

Session keys start with `cmp_`. A click in one column selects the matching segment in the others
(`lib.compare.match_segment`). The whole set is shared as one saved run of kind "compare".
"""

from __future__ import annotations

import re
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

import streamlit as st

from lib.errors import InputError, StudioError
from lib.records import GenerationSettings, Segment
from lib.selection import (
    compare_in_range,
    compare_selection_from_stored,
    format_compare_selection,
    next_compare_selection,
    parse_compare_selection,
    selected_indices,
    target_tokens,
)
from lib.ui import common
from lib.ui.copy_link import copy_link
from lib.ui.debug import _prefetch, _scores_for
from lib.ui.model_service import get_service, model_info
from lib.ui.owner import owner_id
from lib.ui.segment_picker import segment_picker
from lib.ui.url_state import UrlState
from lib.view import View, view_from_record, view_to_record
from lib.worker import PRIORITY_USER, request_salience

DEFAULT_VARIANTS = ("fewshot-mistake", "fewshot-fixed", "fewshot-constitution")
URL = UrlState("cmp", parse_compare_selection, format_compare_selection)


def _restore_run(run_id: str, errors: list[str]) -> None:
    err = _restore(run_id)
    if err:
        errors.append(err)


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
    st.session_state["cmp_pattern"] = ui.get("pattern") or r"\S+"
    st.session_state["cmp_m"] = ui.get("method", "grad_l2")
    st.session_state["cmp_shared"] = bool(ui.get("shared_scale", True))
    st.session_state["cmp_intensity"] = float(ui.get("intensity", 1.0))
    if ui.get("palette"):
        st.session_state["cmp_palette"] = ui["palette"]
    st.session_state["cmp_sel"] = compare_selection_from_stored(ui.get("selection"))
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
            # Widgets whose value code sets take the session's value as their default too
            # (common.held explains why).
            tid = st.selectbox(f"Variant {i + 1}", ids, key=key, on_change=_reset,
                               index=common.held_index(key, ids),
                               format_func=lambda t: get_template(t).title)
            if f"cmp_text_{i}" not in st.session_state or not st.session_state[f"cmp_text_{i}"]:
                _reset()
            with st.expander("Edit template"):
                texts.append((tid, st.text_area("Template text", key=f"cmp_text_{i}",
                                                value=common.held(f"cmp_text_{i}", ""),
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
            values[name] = vcols[j % len(vcols)].text_input(name, key=key,
                                                            value=common.held(key, ""))
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
    futures, progress = [], []
    for it in items:
        prog = common.JobProgress()

        def job(model: Any, prompt: str = it["prompt"], prog: common.JobProgress = prog
                ) -> tuple:
            from lib import pipeline

            return pipeline.generate(model, prompt, settings, progress=prog.update), model
        futures.append(svc.submit(job, priority=PRIORITY_USER, owner=owner_id()))
        progress.append(prog)
    views = []
    for i, (it, fut) in enumerate(zip(items, futures, strict=True)):
        gen, model = common.wait_for(fut, svc, f"Generating variant {i + 1} of {len(items)}",
                                     progress[i])
        views.append(View(seq=gen.sequence, prompt=it["prompt"], model_spec=str(model.spec),
                          model_name=str(model.name), fingerprint=str(model.fingerprint),
                          settings=settings, probs=tuple(gen.probs),
                          alternatives=tuple(gen.alternatives), stop_reason=gen.stop_reason,
                          template_id=it["template_id"], template_text=it["template_text"],
                          variables=dict(it["variables"])))
    st.session_state["cmp_views"] = views
    st.session_state["cmp_sel"] = None
    st.session_state.pop("cmp_run", None)


def _match_range(segs: list[list[Segment]], outs: list[list[Segment]], g: str,
                 sel: tuple[int, int, int]) -> list[tuple[int, int] | None]:
    """The selected range in its column, and the matching range in every other column.

    Each end is matched on its own (`lib.compare.match_segment`); a column gets a range only if
    both ends match output segments in order.
    """
    from lib.compare import match_segment

    src_col, lo, hi = sel
    pos = {s.index: k for k, s in enumerate(segs[src_col])}
    chosen: list[tuple[int, int] | None] = []
    for j in range(len(segs)):
        if j == src_col:
            chosen.append((lo, hi))
            continue
        ends = []
        for idx in (lo, hi):
            m = match_segment(segs[src_col], pos[idx], segs[j], g)
            # Only output segments can be targets; a match in the prompt does not count.
            ends.append(segs[j][m].index if m is not None and not segs[j][m].in_prompt else None)
        ok = None not in ends and ends[0] <= ends[1]
        chosen.append((ends[0], ends[1]) if ok else None)
    return chosen


def _diff_summary_html(prompts: list[str], limit: int = 3, width: int = 60) -> str:
    """'Variant 2 vs 1: − You have to try it + Avoid' for each variant (escaped)."""
    from lib.compare import prompt_diff
    from lib.text_safety import safe_html

    def short(text: str) -> str:
        text = " ".join(text.split())
        return safe_html(text if len(text) <= width else text[:width - 1] + "…")

    rows = []
    for i in range(1, len(prompts)):
        ops = [(op, t) for op, t in prompt_diff(prompts[0], prompts[i]) if op != "equal"]
        if not ops:
            rows.append(f"<li><b>Variant {i + 1}</b>: same prompt as variant 1</li>")
            continue
        bits = [(f'<del>− {short(t)}</del>' if op == "delete" else f"<ins>+ {short(t)}</ins>")
                for op, t in ops[:limit]]
        more = f" … and {len(ops) - limit} more" if len(ops) > limit else ""
        rows.append(f"<li><b>Variant {i + 1}</b> vs 1: {' '.join(bits)}{more}</li>")
    return ('<ul class="diff-summary" style="margin:.2rem 0 .4rem;line-height:1.7">'
            + "".join(rows) + "</ul>")


def _results(views: list[View]) -> None:
    from lib.compare import render_diff_html
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
    c1, c2, c3, c4, c5 = st.columns([1.2, 1.4, 1.4, 1.2, 1.4])
    g = c1.selectbox("Segments", list(GRANULARITIES), key="cmp_g", on_change=URL.hold,
                     index=common.held_index("cmp_g", GRANULARITIES),
                     format_func=lambda x: common.GRANULARITY_LABELS.get(x, x))
    pattern = None
    if g == "regex":
        st.session_state.setdefault("cmp_pattern", r"\S+")
        pattern = c1.text_input("Pattern (each match is a segment)", key="cmp_pattern",
                                value=common.held("cmp_pattern", r"\S+"))
    method = c2.radio("Method", list(meths), key="cmp_m", horizontal=True, on_change=URL.hold,
                      index=common.held_index("cmp_m", meths),
                      format_func=lambda x: meths[x][0])
    signed = meths[method][1]
    names = [n for n, p in PALETTES.items() if p.diverging == signed] or list(PALETTES)
    if st.session_state.get("cmp_palette") not in names:
        st.session_state["cmp_palette"] = (default_palette(signed)
                                           if default_palette(signed) in names else names[0])
    palette = c3.selectbox("Palette (colour-blind safe)", names, key="cmp_palette",
                           index=common.held_index("cmp_palette", names),
                           format_func=lambda n: PALETTES[n].label)
    intensity = c4.slider("Intensity", 0.2, 3.0, value=float(common.held("cmp_intensity", 1.0)),
                          step=0.1, key="cmp_intensity")
    shared = c5.toggle("One shared colour scale", key="cmp_shared",
                       value=bool(common.held("cmp_shared", True)),
                       help="On: the same colour means the same score in every column. Off: "
                            "each column is scaled to its own largest score.")

    # A one-line summary per variant stays visible; the full marked-up prompts fold away so
    # the outputs are on screen without scrolling.
    st.html(_diff_summary_html([v.prompt for v in views]))
    with st.expander("What differs between the prompts (full text)"):
        for i in range(1, len(views)):
            st.markdown(f"Variant 1 → variant {i + 1} (added text marked, removed text struck):")
            st.html(render_diff_html(views[0].prompt, views[i].prompt))

    try:
        segs = [segment_sequence(v.seq, g, pattern) for v in views]
    except InputError as e:
        common.show_error(str(e))
        URL.write(st.session_state.get("cmp_run"))
        return
    outs = [[s for s in ss if not s.in_prompt] for ss in segs]
    # Selection = (column, first, last segment index); other columns follow via matching.
    sel = st.session_state.get("cmp_sel")
    if sel is not None and not compare_in_range(sel, [{s.index for s in o} for o in outs]):
        st.error("The selected segment is not in that variant's output at this granularity; "
                 "click a segment instead.")
        sel = st.session_state["cmp_sel"] = None
    chosen = _match_range(segs, outs, g, sel) if sel is not None else [None] * len(views)
    # Into the address bar now (the page's one write), before the columns' scores are
    # computed: a reload or a copied address meanwhile keeps the selection.
    URL.write(st.session_state.get("cmp_run"))

    # Ask for every column's scores at once, the clicked column first (the worker runs user
    # jobs first-come first-served), then show each column as soon as its own scores arrive.
    n = len(views)
    scores: list[list[float] | None] = [None] * n
    pending: dict[Future, tuple[int, list[int]]] = {}
    order = sorted(range(n), key=lambda j: (sel is None or j != sel[0], j))
    for j in order:
        rng = chosen[j]
        if rng is None:
            continue
        targets = target_tokens(outs[j], rng)
        tok, fut = _score_request(views[j], method, targets)
        if fut is not None:
            pending[fut] = (j, targets)
        elif tok is not None:
            scores[j] = segment_scores(segs[j], tok)

    def picked(j: int) -> list[int]:
        rng = chosen[j]
        return selected_indices(segs[j], rng)

    def shared_scale() -> Any:
        pool = [val for j, sc in enumerate(scores) if sc is not None
                for s, val in zip(segs[j], sc, strict=True) if s.index not in picked(j)]
        return colour_scale(pool or [0.0], signed)

    st.caption("Click a segment of any output: the matching segment is selected in every "
               "column (shift-click extends a range; click again clears).")
    cols = st.columns(n, gap="medium")
    status_slots, body_slots = [], []
    for j, v in enumerate(views):
        with cols[j]:
            st.markdown(f"**Variant {j + 1}** · {common.md_escape(v.template_id or 'prompt')}")

            def on_click(index: int, shift: bool, j: int = j) -> None:
                URL.hold()
                st.session_state["cmp_sel"], st.session_state["cmp_anchor"] = (
                    next_compare_selection(st.session_state.get("cmp_sel"), j, index, shift,
                                           st.session_state.get("cmp_anchor")))

            segment_picker(v.seq.text, outs[j], chosen[j], key=f"cmp_picker_{j}",
                           on_click=on_click, label=f"Output of variant {j + 1}")
            if sel is not None and chosen[j] is None:
                st.caption("No matching segment in this output.")
            status_slots.append(st.empty())
            body_slots.append(st.empty())

    def draw(j: int) -> None:
        sc = scores[j]
        scale = shared_scale()
        if not shared and sc is not None:
            scale = colour_scale([val for s, val in zip(segs[j], sc, strict=True)
                                  if s.index not in picked(j)] or [0.0], signed)
        with body_slots[j].container():
            st.html(render_segments_html(views[j].seq, segs[j], sc, scale, palette=palette,
                                         intensity=intensity, selected=picked(j), part="all"))
            if not shared or j == 0:
                st.html(render_legend_html(scale, palette, meths[method][0]))

    for j in range(n):
        draw(j)
    svc = get_service()
    total = len(pending)
    while pending:
        for fut, (j, _) in pending.items():
            pos = svc.queue_position(fut)
            text = (f"Waiting: {pos} job(s) go first…" if pos else "Computing salience…")
            status_slots[j].progress((total - len(pending)) / total,
                                     text=f"{text} ({total - len(pending)} of {total} columns "
                                          "ready)")
        done, _ = wait(list(pending), timeout=0.25, return_when=FIRST_COMPLETED)
        for fut in done:
            j, targets = pending.pop(fut)
            try:
                sal = fut.result()
            except StudioError as e:
                status_slots[j].error(common.md_escape(str(e)))
                continue
            status_slots[j].empty()
            views[j].add_scores(method, targets, sal.scores)
            scores[j] = segment_scores(segs[j], views[j].score_for(method, targets))
        if done:
            # A new column can move the shared scale: redraw the columns already coloured.
            for j in range(n):
                if scores[j] is not None or (shared and j == 0):  # column 0 has the legend
                    draw(j)
    for j, v in enumerate(views):
        _prefetch(v, outs[j], g, method, state_key=f"cmp_prefetched_{j}")
    _share(views, {"granularity": g, "pattern": pattern or "", "method": method,
                   "shared_scale": shared, "intensity": intensity, "palette": palette,
                   "selection": list(sel) if sel is not None else None})


def _score_request(view: View, method: str, targets: list[int]
                   ) -> tuple[tuple[float, ...] | None, Future | None]:
    """Stored scores at once, or a queued request for them (never waits). When the server
    cannot compute them (loading, other weights) `_scores_for` says why and returns None."""
    from lib import pipeline

    got = view.score_for(method, targets)
    if got is not None:
        return got, None
    svc = get_service()
    if svc.status()["state"] != "ready" or model_info(svc)["fingerprint"] != view.fingerprint:
        return _scores_for(view, method, targets), None
    fut = request_salience(svc, view.seq, targets, method,
                           lambda m, seq, t, meth: pipeline.salience(m, seq, t, meth),
                           owner=owner_id())
    return None, fut


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
        st.session_state["cmp_shared_link"] = run_id
    if st.session_state.get("cmp_shared_link") and (
            st.session_state.get("cmp_shared_link") == st.session_state.get("cmp_run")):
        link = common.share_url(st.session_state["cmp_run"])
        st.session_state["cmp_share_url"] = link
        st.success("Saved. Anyone with this link sees exactly this comparison:")
        copy_link(link, key="cmp_copy_link")


def render_compare_page() -> None:
    errors: list[str] = []
    URL.adopt(errors, _restore_run)
    st.title("Compare prompt variants")
    for err in errors:
        common.show_error(err)
    common.model_banner(get_service())
    st.session_state.setdefault("cmp_n", 3)
    n = st.radio("Variants", [2, 3], key="cmp_n", horizontal=True,
                 index=common.held_index("cmp_n", [2, 3]))
    items = _variant_inputs(n)
    for it in items:
        if it["error"]:
            common.show_error(it["error"])
    st.session_state.setdefault("cmp_max_new", 32)
    st.session_state.setdefault("cmp_stop", "\\n\\n")
    with st.expander("Generation settings (greedy, shared by all variants)"):
        max_new = st.number_input("Max new tokens", 1, common.MAX_NEW_TOKENS, key="cmp_max_new",
                                  value=common.held("cmp_max_new", 32))
        stop = st.text_input(r"Stop text (\n = new line; separate several with |)",
                             key="cmp_stop", value=common.held("cmp_stop", ""))
    settings = GenerationSettings(max_new_tokens=int(max_new), stop=common.decode_stop(stop))
    if st.button("Generate all", type="primary", key="cmp_generate", on_click=URL.hold):
        try:
            _generate_all(items, settings)
        except StudioError as e:
            common.show_error(str(e))
    views = st.session_state.get("cmp_views")
    if views:
        _results(views)
    else:
        URL.write(st.session_state.get("cmp_run"))

