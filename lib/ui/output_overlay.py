"""The output picker and the prompt overlay as one component, and the matrix beside it.

The component holds every computed single segment's scores, so a click on one repaints the
overlay in the browser at once (`lib.ui.segment_picker`); the output x prompt matrix is drawn
from the same scores. While prefetching fills in more, a fragment redraws both each second.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lib.records import Segment
from lib.ui.controls import ViewControls
from lib.ui.matrix_view import matrix_highlight, matrix_view
from lib.ui.scores import known_scores, prefetching
from lib.ui.segment_picker import segment_picker
from lib.ui.url_state import hold_all
from lib.view import View, segment_titles


def output_and_overlay(view: View, segments: list[Segment], out_segs: list[Segment],
                       sel: tuple[int, int] | None, c: ViewControls,
                       seg_vals: list[float] | None, sel_idx: list[int], *,
                       prefix: str, on_click: Callable[[int, bool], None],
                       on_select_row: Callable[[int], None], part: dict | None = None,
                       instant: bool = True) -> None:
    """Draw the picker + overlay and the matrix. Session keys: `{prefix}_sel` (the selection,
    which the callbacks set), `{prefix}_anchor`, `{prefix}_prefetched`. A click inside the
    refreshing fragment reruns the page. `part`: the prompt part to outline
    (`lib.ui.parts_view.overlay_part`). `instant=False` (a contrast is shown): the component
    holds no other segment's scores, so a click waits for the page (which drops the foil)
    instead of repainting plain scores under the contrast's legend."""
    from lib.render import overlay_payload
    from lib.segments import segment_scores

    prefetched = f"{prefix}_prefetched"

    def draw() -> bool:
        known = known_scores(view, out_segs, c.method)
        views = {i: segment_scores(segments, tok) for i, tok in known.items()} if instant else {}
        computing = prefetching(prefetched)
        payload = overlay_payload(view.seq, segments, views, seg_vals, sel_idx,
                                  signed=c.signed, palette=c.palette, intensity=c.intensity,
                                  show_numbers=bool(c.show_numbers))
        payload.update(hint="Select a segment of the output first.", computing=computing,
                       waiting="Scores for this selection are not available yet.", part=part,
                       column=matrix_highlight(segments, sel))
        segment_picker(view.seq.text, out_segs, sel, key=f"{prefix}_picker", on_click=on_click,
                       output_id=str(id(view)),
                       titles=segment_titles(view, out_segs), overlay=payload,
                       anchor=st.session_state.get(f"{prefix}_anchor"))
        matrix_view(segments, known, c.signed, c.method_label, sel, on_select_row)
        return computing

    if not prefetching(prefetched):
        draw()
        return

    @st.fragment(run_every=1.0)
    def refresh() -> None:
        if st.session_state.get(f"{prefix}_sel") != sel:
            # A click (its callback marked the rerun): the whole page follows. The browser
            # already shows the new selection; drawing the old one first would undo it.
            st.rerun(scope="app")
        if not draw():
            # All scores are in: one full rerun, which also stops this timer.
            hold_all()
            st.rerun(scope="app")

    refresh()
