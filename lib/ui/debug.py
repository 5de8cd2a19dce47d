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
from lib.ui.matrix_view import matrix_highlight, matrix_view
from lib.ui.model_service import get_service
from lib.ui.parts_view import debug_part_scores, debug_parts, highlighted_part, overlay_part
from lib.ui.restore import restore_debug_run
from lib.ui.scores import completeness_note, known_scores, prefetch, prefetching, scores_for
from lib.ui.segment_picker import segment_picker
from lib.ui.share import report_builder, scores_json_builder, share_debug
from lib.ui.url_state import UrlState, hold_all
from lib.view import View, generated_positions, segment_titles

URL = UrlState("dbg", parse_selection, format_selection, adopt_foil=set_foil)


def _input_column() -> None:
    inputs = prompt_inputs()
    settings = generation_settings("dbg", sampling=True)
    target_mode, target_text = target_choice(inputs)
    if (st.button("Generate", type="primary", key="dbg_generate", on_click=URL.hold)
            and settings is not None):
        try:
            view, response = generate_view(inputs, settings, target_mode, target_text)
        except StudioError as e:
            common.show_error(str(e))
            return
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


def _target_details(view: View, out_segs: list[Segment], sel: tuple[int, int]) -> None:
    from lib.render import render_target_html

    chosen = [s for s in out_segs if sel[0] <= s.index <= sel[1]]
    text = view.seq.text[chosen[0].start:chosen[-1].end] if chosen else ""
    pos = generated_positions(view, chosen)
    alts = view.alternatives[pos[0]] if pos and pos[0] < len(view.alternatives) else ()
    st.html(render_target_html(text, [view.probs[i] for i in pos], alts,
                               typed=view.target_mode != "response"))


def _output_and_overlay(view: View, segments: list[Segment], out_segs: list[Segment],
                        sel: tuple[int, int] | None, c: ViewControls,
                        seg_vals: list[float] | None, sel_idx: list[int],
                        part: dict | None = None, instant: bool = True) -> None:
    """The output picker and the prompt overlay, one component holding every computed single
    segment's scores (it repaints a click on one at once), and the output x prompt matrix
    from the same scores. While prefetching fills in more, a fragment redraws both each
    second; a click inside it reruns the page. `part`: the prompt part to outline
    (`lib.ui.parts_view.overlay_part`). `instant=False` (a contrast is shown): the component
    holds no other segment's scores, so a click waits for the page (which drops the foil)
    instead of repainting plain scores under the contrast's legend."""
    from lib.render import overlay_payload
    from lib.segments import segment_scores

    def draw() -> bool:
        known = known_scores(view, out_segs, c.method)
        views = {i: segment_scores(segments, tok) for i, tok in known.items()} if instant else {}
        computing = prefetching("dbg_prefetched")
        payload = overlay_payload(view.seq, segments, views, seg_vals, sel_idx,
                                  signed=c.signed, palette=c.palette, intensity=c.intensity,
                                  show_numbers=bool(c.show_numbers))
        payload.update(hint="Select a segment of the output first.", computing=computing,
                       waiting="Scores for this selection are not available yet.", part=part,
                       column=matrix_highlight(segments, sel))
        segment_picker(view.seq.text, out_segs, sel, key="dbg_picker", on_click=_on_click,
                       titles=segment_titles(view, out_segs), overlay=payload,
                       anchor=st.session_state.get("dbg_anchor"))
        matrix_view(segments, known, c.signed, c.method_label, sel, _select_row)
        return computing

    if not prefetching("dbg_prefetched"):
        draw()
        return

    @st.fragment(run_every=1.0)
    def refresh() -> None:
        if st.session_state.get("dbg_sel") != sel:
            # A click (its callback marked the rerun): the whole page follows. The browser
            # already shows the new selection; drawing the old one first would undo it.
            st.rerun(scope="app")
        if not draw():
            # All scores are in: one full rerun, which also stops this timer.
            hold_all()
            st.rerun(scope="app")

    refresh()


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
    _output_and_overlay(view, segments, out_segs, sel, c, seg_vals, sel_idx,
                        overlay_part(highlight), instant=foil is None)
    if view.target_mode != "response" and st.session_state.get("dbg_response"):
        st.caption("The model's own response was: "
                   + common.md_escape(repr(st.session_state["dbg_response"])))
    if sel is not None:
        _target_details(view, out_segs, sel)
        completeness_note(view, c.method, target_tokens(out_segs, sel))
        if contrast is not None:
            contrast_note(contrast)
    # The overlay's styles live in its component; the legend needs them on the page.
    label = c.method_label if contrast is None else f"{c.method_label} of the contrast with the foil"
    st.html(f"<style>{STYLE_CSS}</style>" + render_legend_html(scale, c.palette, label))
    if long_prompt and seg_vals is not None:
        _reading_view(view, segments, seg_vals, scale, scores, c, sel_idx)
    if seg_vals is not None:
        top_chart(segments, seg_vals, c.signed, key="dbg_chart")
        debug_parts(view, parts, c.signed, URL.hold)
    with st.expander("How to read this"):
        st.markdown(HOW_TO_READ)
    ui = c.ui_record(sel)
    # The highlighted part (or the one a share link restored) goes with the run.
    ui["part"] = highlight.id if highlight is not None else st.session_state.get("dbg_part")
    if foil is not None:  # a contrastive view: the foil and its numbers go with the run
        ui.update(foil=foil, contrast=contrast_record(contrast))
    share_debug(view, out_segs, ui,
                report_builder(view, segments, seg_vals, scale, label, sel_idx, ui,
                               token_scores=scores, signed=c.signed),
                scores_json_builder(view, segments, seg_vals, ui, token_scores=scores,
                                    signed=c.signed))


def _reading_view(view: View, segments: list[Segment], seg_vals: list[float], scale: object,
                  token_scores: object, c: ViewControls, sel_idx: list[int]) -> None:
    """A long document's reading aids: the top segments as links to their place, a density
    strip of where the salience sits, and paragraphs folded below a share of the top one."""
    from lib.render_reading import render_reading_view_html

    with st.expander("Reading view: jump to what mattered in the document", expanded=True):
        fold = st.slider("Fold paragraphs below this share of the top paragraph (0 = none)",
                         0, 50, 10, step=5, format="%d%%", key="dbg_fold")
        st.html(render_reading_view_html(
            view.seq, segments, seg_vals, scale, token_scores, palette=c.palette,
            intensity=c.intensity, show_numbers=bool(c.show_numbers), selected=sel_idx,
            fold_share=fold / 100 or None, prefix="dbg-"))


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
