"""Compare page: 2-3 prompt variants side by side, synced selection, one shared colour scale.

Layout only: the parts live in inputs, generate, controls, scores, share, restore and
url_state. Session keys start with `cmp_`. A click in one column selects the matching segment
in the others (`lib.compare.match_range`). The whole set is shared as one saved run of kind
"compare".
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

import streamlit as st

from lib.errors import InputError, StudioError
from lib.selection import (
    compare_in_range,
    format_compare_selection,
    next_compare_selection,
    parse_compare_selection,
    selected_indices,
    target_tokens,
)
from lib.ui import common
from lib.ui.controls import view_controls
from lib.ui.generate import generate_views
from lib.ui.inputs import generation_settings, variant_inputs
from lib.ui.model_service import get_service
from lib.ui.notes_view import notes_panel
from lib.ui.parts_view import compare_parts
from lib.ui.restore import restore_compare_run
from lib.ui.scores import prefetch, score_request
from lib.ui.segment_picker import segment_picker
from lib.ui.share import share_compare
from lib.ui.url_state import UrlState
from lib.view import View

URL = UrlState("cmp", parse_compare_selection, format_compare_selection)


def _on_click(column: int) -> Any:
    def on_click(index: int, shift: bool) -> None:
        """The picker's click: the one place a click becomes selection state."""
        URL.hold()
        st.session_state["cmp_sel"], st.session_state["cmp_anchor"] = next_compare_selection(
            st.session_state.get("cmp_sel"), column, index, shift,
            st.session_state.get("cmp_anchor"))
    return on_click


def _prompt_diffs(views: list[View]) -> None:
    from lib.compare import diff_summary_html, render_diff_html

    # A one-line summary per variant stays visible; the full marked-up prompts fold away so
    # the outputs are on screen without scrolling.
    st.html(diff_summary_html([v.prompt for v in views]))
    with st.expander("What differs between the prompts (full text)"):
        for i in range(1, len(views)):
            st.markdown(f"Variant 1 → variant {i + 1} (added text marked, removed text struck):")
            st.html(render_diff_html(views[0].prompt, views[i].prompt))


def _results(views: list[View]) -> None:
    from lib.compare import match_range
    from lib.render import render_legend_html, render_segments_html, scale_excluding
    from lib.segments import segment_scores, segment_sequence

    c = view_controls("cmp", URL.hold, default_g="lines", numbers=False, shared=True)
    _prompt_diffs(views)
    try:
        segs = [segment_sequence(v.seq, c.granularity, c.pattern) for v in views]
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
    n = len(views)
    chosen = match_range(segs, c.granularity, sel) if sel is not None else [None] * n
    # Into the address bar now (the page's one write), before the columns' scores are
    # computed: a reload or a copied address meanwhile keeps the selection.
    URL.write(st.session_state.get("cmp_run"))

    # Ask for every column's scores at once, the clicked column first (the worker runs user
    # jobs first-come first-served), then show each column as soon as its own scores arrive.
    scores: list[list[float] | None] = [None] * n
    pending: dict[Future, tuple[int, list[int]]] = {}
    for j in sorted(range(n), key=lambda j: (sel is None or j != sel[0], j)):
        rng = chosen[j]
        if rng is None:
            continue
        targets = target_tokens(outs[j], rng)
        tok, fut = score_request(views[j], c.method, targets, column=j)
        if fut is not None:
            pending[fut] = (j, targets)
        elif tok is not None:
            scores[j] = segment_scores(segs[j], tok)
    picked = [selected_indices(segs[j], chosen[j]) for j in range(n)]

    st.caption("Click a segment of any output: the matching segment is selected in every "
               "column (shift-click extends a range; click again clears).")
    cols = st.columns(n, gap="medium")
    status_slots, body_slots = [], []
    for j, v in enumerate(views):
        with cols[j]:
            st.markdown(f"**Variant {j + 1}** · {common.md_escape(v.template_id or 'prompt')}")
            segment_picker(v.seq.text, outs[j], chosen[j], key=f"cmp_picker_{j}",
                           on_click=_on_click(j), label=f"Output of variant {j + 1}")
            if sel is not None and chosen[j] is None:
                st.caption("No matching segment in this output.")
            status_slots.append(st.empty())
            body_slots.append(st.empty())

    def draw(j: int) -> None:
        if c.shared_scale or scores[j] is None:
            pool = [(s, val) for k, sc in enumerate(scores) if sc is not None
                    for s, val in zip(segs[k], sc, strict=True) if s.index not in picked[k]]
            scale = scale_excluding([s for s, _ in pool], [v for _, v in pool], (), c.signed)
        else:  # each column on its own scale
            scale = scale_excluding(segs[j], scores[j], picked[j], c.signed)
        with body_slots[j].container():
            st.html(render_segments_html(views[j].seq, segs[j], scores[j], scale,
                                         palette=c.palette, intensity=c.intensity,
                                         selected=picked[j], part="all"))
            if not c.shared_scale or j == 0:
                st.html(render_legend_html(scale, c.palette, c.method_label))

    for j in range(n):
        draw(j)
    svc = get_service()
    total = len(pending)
    with common.cancel_if_abandoned(svc, list(pending)):  # a newer click drops these jobs
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
                views[j].add_scores(c.method, targets, sal.scores)
                scores[j] = segment_scores(segs[j], views[j].score_for(c.method, targets))
            if done:
                # A new column can move the shared scale: redraw the columns already coloured.
                for j in range(n):
                    if scores[j] is not None or (c.shared_scale and j == 0):  # 0 has the legend
                        draw(j)
    if sel is not None:  # every column's scores are in (or failed): the parts side by side
        compare_parts(views, [views[j].score_for(c.method, target_tokens(outs[j], chosen[j]))
                              if chosen[j] is not None else None for j in range(n)], c.signed)
    for j, v in enumerate(views):
        prefetch(v, outs[j], c.granularity, c.method, state_key=f"cmp_prefetched_{j}")
    share_compare(views, c.ui_record(sel))


def render_compare_page() -> None:
    errors: list[str] = []
    URL.adopt(errors, restore_compare_run)
    st.title("Compare prompt variants")
    for err in errors:
        common.show_error(err)
    common.model_banner(get_service())
    st.session_state.setdefault("cmp_n", 3)
    n = st.radio("Variants", [2, 3], key="cmp_n", horizontal=True,
                 index=common.held_index("cmp_n", [2, 3]))
    items = variant_inputs(n)
    settings = generation_settings("cmp", sampling=False)
    if (st.button("Generate all", type="primary", key="cmp_generate", on_click=URL.hold)
            and settings is not None):
        try:
            st.session_state["cmp_views"] = generate_views(items, settings)
            st.session_state["cmp_sel"] = None
            st.session_state.pop("cmp_run", None)
        except StudioError as e:
            common.show_error(str(e))
    views = st.session_state.get("cmp_views")
    if views:
        _results(views)
        notes_panel(st.session_state.get("cmp_run"), prefix="cmp", hold=URL.hold)
    else:
        URL.write(st.session_state.get("cmp_run"))
