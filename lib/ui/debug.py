"""The Debug page: prompt -> Generate -> click output segments -> salience overlay -> share.

Layout only: the parts live in inputs, generate, controls, scores, share, restore and
url_state. Session-state keys start with `dbg_`. Granularity (`g`), method (`m`), selection
(`sel`) and a restored run (`run`) live in the URL too, so reload and copy-paste keep the view.
"""

from __future__ import annotations

import streamlit as st

from lib.errors import InputError, StudioError
from lib.records import Segment
from lib.selection import (
    format_selection,
    in_range,
    next_selection,
    parse_selection,
    selected_indices,
    target_tokens,
)
from lib.ui import common
from lib.ui.chart import top_chart
from lib.ui.controls import ViewControls, view_controls
from lib.ui.counterfactual_view import counterfactual_view
from lib.ui.foil import (
    clear_foil,
    contrast_for,
    contrast_note,
    contrast_record,
    foil_control,
    set_foil,
)
from lib.ui.generate import generate_view
from lib.ui.help_text import HOW_TO_READ
from lib.ui.inputs import generation_settings, prompt_inputs, target_choice
from lib.ui.model_service import get_service
from lib.ui.notes_view import notes_panel
from lib.ui.output_overlay import output_and_overlay
from lib.ui.parts_view import debug_part_scores, debug_parts, highlighted_part, overlay_part
from lib.ui.reading_view import reading_view
from lib.ui.restore import restore_debug_run
from lib.ui.scores import completeness_note, prefetch, scores_for
from lib.ui.share import report_builder, scores_json_builder, share_debug
from lib.ui.target_details import target_details
from lib.ui.url_state import UrlState
from lib.view import View

URL = UrlState("dbg", parse_selection, format_selection, adopt_foil=set_foil)


GENERATE_ASKED = "dbg_generate_asked"


def _ask_generate() -> None:
    """Generate's callback: the request is kept in session state until a generation answers
    it. A button's own True lasts one run, and a run that another rerun interrupts before the
    generation is submitted would drop the click."""
    URL.hold()
    st.session_state[GENERATE_ASKED] = True


def _input_column() -> None:
    inputs = prompt_inputs()
    settings = generation_settings("dbg", sampling=True)
    target_mode, target_text = target_choice(inputs)
    st.button("Generate", type="primary", key="dbg_generate", on_click=_ask_generate)
    if common.was_cancelled(GENERATE_ASKED):  # the reviewer pressed Cancel on it
        st.session_state.pop(GENERATE_ASKED, None)
    if not st.session_state.get(GENERATE_ASKED):
        return
    if settings is None:  # a setting is invalid; its message is shown beside it
        st.session_state.pop(GENERATE_ASKED, None)
        return
    try:
        view, response = generate_view(inputs, settings, target_mode, target_text,
                                       cancel_key=GENERATE_ASKED)
    except StudioError as e:
        st.session_state.pop(GENERATE_ASKED, None)
        common.show_error(str(e))
        return
    st.session_state.pop(GENERATE_ASKED, None)
    st.session_state["dbg_view"] = view
    st.session_state["dbg_response"] = response
    st.session_state["dbg_sel"] = None
    st.session_state.pop("dbg_prefetched", None)


def _on_click(index: int, shift: bool) -> None:
    """The picker's click: the one place a click becomes selection state."""
    URL.hold()
    common.clear_cancelled()  # a new click asks again, even for a cancelled segment
    clear_foil()  # the foil belonged to the segment that was selected
    st.session_state["dbg_sel"], st.session_state["dbg_anchor"] = next_selection(
        st.session_state.get("dbg_sel"), index, shift, st.session_state.get("dbg_anchor"))


def _select_row(index: int) -> None:
    """A matrix cell's click: its output segment alone becomes the selection (no toggling: a
    second cell in the same row keeps the row)."""
    URL.hold()
    common.clear_cancelled()
    if st.session_state.get("dbg_sel") != (index, index):
        clear_foil()  # the foil belonged to the segment that was selected
    st.session_state["dbg_sel"], st.session_state["dbg_anchor"] = (index, index), index


def _settled_selection(out_segs: list[Segment]) -> tuple[int, int] | None:
    """The session's selection if it is an output segment at this granularity, else None
    (saying so)."""
    sel = st.session_state.get("dbg_sel")
    valid = {s.index for s in out_segs}
    if sel is not None and not in_range(sel, valid):
        lo, hi = (min(valid), max(valid)) if valid else (0, -1)
        st.error(f"The selection {format_selection(sel)} is not a segment of the output at "
                 f"this granularity (output segments are {lo}–{hi}); click a segment instead.")
        sel = st.session_state["dbg_sel"] = None
    return sel


def _analysis(view: View) -> None:
    from lib.reading import PARAGRAPH_THRESHOLD_TOKENS, default_granularity
    from lib.render import STYLE_CSS, render_legend_html, scale_excluding
    from lib.segments import segment_scores, segment_sequence

    long_prompt = view.seq.prompt_length >= PARAGRAPH_THRESHOLD_TOKENS
    c: ViewControls = view_controls("dbg", URL.hold, numbers=True, shared=False,
                                    default_g=default_granularity(view.seq.prompt_length))
    try:
        segments = segment_sequence(view.seq, c.granularity, c.pattern)
    except InputError as e:
        common.show_error(str(e))
        URL.write(view.run_id)
        return
    out_segs = [s for s in segments if not s.in_prompt]
    sel = _settled_selection(out_segs)
    # Into the address bar now (the page's one write), before the slow part (scores, chart,
    # prefetch): a reload or a copied address during the computation keeps the selection.
    URL.write(view.run_id)

    completeness, checks = None, {}
    foil = foil_control(view, out_segs, sel, c.method, URL.hold) if sel is not None else None
    scores, contrast = None, None
    if sel is not None and foil is not None:
        contrast = contrast_for(view, target_tokens(out_segs, sel), foil, c.method)
        scores = None if contrast is None else contrast.token_scores(len(view.seq.tokens))
    elif sel is not None:
        scores = scores_for(view, c.method, target_tokens(out_segs, sel))
    # After the selection's own scores (a click goes first), before the output is drawn
    # (it shows what is still computing).
    prefetch(view, out_segs, c.granularity, c.method, state_key="dbg_prefetched")
    seg_vals = segment_scores(segments, scores) if scores is not None else None
    sel_idx = selected_indices(segments, sel)
    scale = scale_excluding(segments, seg_vals, sel_idx, c.signed)
    parts = debug_part_scores(view, scores, c.signed)
    highlight = highlighted_part(parts)
    st.markdown("**Output** — click a segment to see what in the prompt drove it "
                "(shift-click extends; click again clears; Tab + Enter from the keyboard).")
    output_and_overlay(view, segments, out_segs, sel, c, seg_vals, sel_idx, prefix="dbg",
                       on_click=_on_click, on_select_row=_select_row,
                       part=overlay_part(highlight), instant=foil is None)
    if view.target_mode != "response" and st.session_state.get("dbg_response"):
        st.caption("The model's own response was: "
                   + common.md_escape(repr(st.session_state["dbg_response"])))
    if sel is not None:
        target_details(view, out_segs, sel)
        completeness = completeness_note(view, c.method, target_tokens(out_segs, sel))
        if contrast is None and seg_vals is not None:
            checks = counterfactual_view(view, segments, target_tokens(out_segs, sel), sel,
                                         seg_vals, c, highlight)
        if contrast is not None:
            contrast_note(contrast)
    # The overlay's styles live in its component; the legend needs them on the page.
    label = c.method_label if contrast is None else f"{c.method_label} of the contrast with the foil"
    st.html(f"<style>{STYLE_CSS}</style>" + render_legend_html(scale, c.palette, label))
    if long_prompt and seg_vals is not None:
        reading_view(view, segments, seg_vals, scale, scores, c, sel_idx, prefix="dbg")
    if seg_vals is not None:
        top_chart(segments, seg_vals, c.signed, key="dbg_chart")
        debug_parts(view, parts, c.signed, URL.hold)
    with st.expander("How to read this"):
        st.markdown(HOW_TO_READ)
    ui = c.ui_record(sel)
    # The highlighted part (or the one a share link restored) goes with the run.
    ui["part"] = highlight.id if highlight is not None else st.session_state.get("dbg_part")
    if completeness is not None:  # Integrated Gradients: its steps and gap go with the run
        ui.update(completeness)
    ui.update(checks)  # the counterfactual check and deletion curve, if run
    if foil is not None:  # a contrastive view: the foil and its numbers go with the run
        ui.update(foil=foil, contrast=contrast_record(contrast))
    share_debug(view, out_segs, ui,
                report_builder(view, segments, seg_vals, scale, label, sel_idx, ui,
                               token_scores=scores, signed=c.signed),
                scores_json_builder(view, segments, seg_vals, ui, token_scores=scores,
                                    signed=c.signed))


def render_debug_page() -> None:
    errors: list[str] = []
    URL.adopt(errors, restore_debug_run, name_current_g=True)
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
            notes_panel(view.run_id, prefix="dbg", hold=URL.hold)  # a saved run's notes
