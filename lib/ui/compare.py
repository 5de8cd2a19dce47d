"""Compare page: 2-3 prompt variants side by side, synced selection, one shared colour scale.

Layout only: the parts live in inputs, generate, controls, scores, share, restore and
url_state. Session keys start with `cmp_`. A click in one column selects the matching segment
in the others (`lib.compare.match_range`); each column's picker and overlay are one component,
and the columns repaint together in the browser at a click whose scores are computed
(`lib.compare_overlay`). The whole set is shared as one saved run of kind "compare".
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

import streamlit as st

from lib.errors import InputError, StudioError
from lib.records import Segment
from lib.selection import (
    compare_in_range,
    format_compare_selection,
    next_compare_selection,
    parse_compare_selection,
    selected_indices,
    target_tokens,
)
from lib.ui import common
from lib.ui.controls import ViewControls, view_controls
from lib.ui.generate import generate_views
from lib.ui.inputs import generation_settings, variant_inputs
from lib.ui.model_service import get_service
from lib.ui.notes_view import notes_panel
from lib.ui.parts_view import compare_parts
from lib.ui.restore import restore_compare_run
from lib.ui.scores import known_scores, prefetch_views, prefetching, score_request
from lib.ui.segment_picker import segment_picker
from lib.ui.share import share_compare
from lib.ui.url_state import UrlState, hold_all
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
    from lib.segments import segment_sequence

    c = view_controls("cmp", URL.hold, default_g="lines", numbers=False, shared=True)
    _prompt_diffs(views)
    try:
        segs = [segment_sequence(v.seq, c.granularity, c.pattern) for v in views]
    except InputError as e:
        common.show_error(str(e))
        URL.write(st.session_state.get("cmp_run"))
        return
    outs = [[s for s in ss if not s.in_prompt] for ss in segs]
    # Messages and progress that come and go, in one container: the columns' fragment below
    # keeps its place (its id), so a click sent while the page reruns still finds it.
    notes = st.container()
    # Selection = (column, first, last segment index); other columns follow via matching.
    sel = st.session_state.get("cmp_sel")
    if sel is not None and not compare_in_range(sel, [{s.index for s in o} for o in outs]):
        notes.error("The selected segment is not in that variant's output at this granularity; "
                    "click a segment instead.")
        sel = st.session_state["cmp_sel"] = None
    chosen = match_range(segs, c.granularity, sel) if sel is not None else [None] * len(views)
    # Into the address bar now (the page's one write), before the columns' scores are
    # computed: a reload or a copied address meanwhile keeps the selection.
    URL.write(st.session_state.get("cmp_run"))
    with notes:
        failed = _selection_scores(views, outs, chosen, sel, c.method)
    # After the selection's own requests (a click goes first), before the columns are drawn
    # (they show what is still computing).
    prefetch_views(views, outs, c.granularity, c.method, state_key="cmp_prefetched")
    st.caption("Click a segment of any output: the matching segment is selected in every "
               "column (shift-click extends a range; click again clears; Tab + Enter from the "
               "keyboard).")
    _columns(views, segs, outs, sel, chosen, c, failed)
    if sel is not None:  # every column's scores are in (or failed): the parts side by side
        compare_parts(views, [views[j].score_for(c.method, target_tokens(outs[j], chosen[j]))
                              if chosen[j] is not None else None for j in range(len(views))],
                      c.signed)
    share_compare(views, c.ui_record(sel))


def _selection_scores(views: list[View], outs: list[list[Segment]],
                      chosen: list[tuple[int, int] | None], sel: tuple[int, int, int] | None,
                      method: str) -> list[str | None]:
    """Ask for every column's scores of the selection at once, the clicked column first (the
    worker runs user jobs first-come first-served), and wait for them with progress (the
    columns meanwhile show what the browser painted, or that they are computing). Returns
    each column's error message, if its request failed."""
    n = len(views)
    failed: list[str | None] = [None] * n
    pending: dict[Future, tuple[int, list[int]]] = {}
    for j in sorted(range(n), key=lambda j: (sel is None or j != sel[0], j)):
        if chosen[j] is not None:
            targets = target_tokens(outs[j], chosen[j])
            _, fut = score_request(views[j], method, targets, column=j)
            if fut is not None:
                pending[fut] = (j, targets)
    slot = st.empty()
    svc = get_service()
    total = len(pending)
    with common.cancel_if_abandoned(svc, list(pending)):  # a newer click drops these jobs
        while pending:
            waits = [(j, svc.queue_position(fut)) for fut, (j, _) in pending.items()]
            slot.progress((total - len(pending)) / total, text="; ".join(
                f"Variant {j + 1}: " + (f"waiting, {pos} job(s) go first…" if pos else
                                        "computing salience…") for j, pos in sorted(waits))
                + f" ({total - len(pending)} of {total} columns ready)")
            done, _ = wait(list(pending), timeout=0.25, return_when=FIRST_COMPLETED)
            for fut in done:
                j, targets = pending.pop(fut)
                try:
                    views[j].add_scores(method, targets, fut.result().scores)
                except StudioError as e:
                    failed[j] = str(e)
    slot.empty()
    return failed


def _columns(views: list[View], segs: list[list[Segment]], outs: list[list[Segment]],
             sel: tuple[int, int, int] | None, chosen: list[tuple[int, int] | None],
             c: ViewControls, failed: list[str | None]) -> None:
    """Each column's output picker and prompt overlay, one component per column; the columns
    are one group, so a click in any repaints all of them at once where the scores are in
    (`lib.compare_overlay`). They are drawn in a fragment, which redraws them each second
    while prefetching fills in more; a click inside it reruns the page."""
    from lib.compare import click_matches
    from lib.compare_overlay import compare_overlays, current_scales
    from lib.render import STYLE_CSS, render_legend_html
    from lib.segments import segment_scores

    n = len(views)
    matches = click_matches(segs, c.granularity)
    picked = [selected_indices(segs[j], chosen[j]) for j in range(n)]

    def draw() -> bool:
        computing = prefetching("cmp_prefetched")
        known = [{i: segment_scores(segs[j], tok)
                  for i, tok in known_scores(views[j], outs[j], c.method).items()}
                 for j in range(n)]
        tokens = [views[j].score_for(c.method, target_tokens(outs[j], chosen[j]))
                  if chosen[j] is not None else None for j in range(n)]
        current = [segment_scores(segs[j], t) if t is not None else None
                   for j, t in enumerate(tokens)]
        payloads = compare_overlays([v.seq for v in views], segs, known, current, picked,
                                    matches, shared=bool(c.shared_scale), signed=c.signed,
                                    palette=c.palette, intensity=c.intensity)
        scales = current_scales(segs, current, picked, shared=bool(c.shared_scale),
                                signed=c.signed)
        cols = st.columns(n, gap="medium")
        for j, v in enumerate(views):
            with cols[j]:
                st.markdown(f"**Variant {j + 1}** · {common.md_escape(v.template_id or 'prompt')}")
                payloads[j].update(
                    hint="Click a segment of any output to see its prompt's salience.",
                    nomatch="No matching segment in this output.", computing=computing,
                    waiting="Scores for this selection are not available yet.",
                    group={"id": "cmp_picker", "column": j, "sel": list(sel) if sel else None,
                           "anchor": st.session_state.get("cmp_anchor")})
                segment_picker(v.seq.text, outs[j], chosen[j], key=f"cmp_picker_{j}",
                               on_click=_on_click(j), label=f"Output of variant {j + 1}",
                               overlay=payloads[j], output_id=str(id(v)))
                if failed[j]:
                    st.error(common.md_escape(failed[j]))
                if not c.shared_scale or j == 0:  # the overlay's styles live in its component
                    st.html(f"<style>{STYLE_CSS}</style>"
                            + render_legend_html(scales[j], c.palette, c.method_label))
        return computing

    live = prefetching("cmp_prefetched")

    # Always this one fragment (its timer only while prefetching): a click sent from a column
    # while the page reruns then reruns a fragment that still exists, never a dropped one.
    @st.fragment(run_every=1.0 if live else None)
    def refresh() -> None:
        if st.session_state.get("cmp_sel") != sel:
            # A click (its callback marked the rerun): the whole page follows. The browser
            # already shows the new selection; drawing the old one first would undo it.
            st.rerun(scope="app")
        if not draw() and live:
            hold_all()  # all scores are in: one full rerun, which also stops the timer
            st.rerun(scope="app")

    refresh()


def render_compare_page() -> None:
    errors: list[str] = []
    URL.adopt(errors, restore_compare_run)
    st.title("Compare prompt variants")
    with st.container():  # messages that come and go: the page below keeps its place
        for err in errors:
            common.show_error(err)
        common.model_banner(get_service())
    st.session_state.setdefault("cmp_n", 3)
    n = st.radio("Variants", [2, 3], key="cmp_n", horizontal=True,
                 index=common.held_index("cmp_n", [2, 3]))
    items = variant_inputs(n)
    settings = generation_settings("cmp", sampling=False)
    clicked = st.button("Generate all", type="primary", key="cmp_generate", on_click=URL.hold)
    # Debug's "Open in Compare" fills the variants and asks for them at once.
    asked = clicked or st.session_state.pop("cmp_generate_now", False)
    with st.container():  # the generation's progress and errors (as above)
        if asked and settings is not None:
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
