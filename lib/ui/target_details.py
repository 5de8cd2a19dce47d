"""The selected output text with its tokens' probabilities and the model's alternatives."""

from __future__ import annotations

import streamlit as st

from lib.records import Segment
from lib.view import View, generated_positions


def target_details(view: View, out_segs: list[Segment], sel: tuple[int, int]) -> None:
    """The box under the output for the selection `sel` (first, last output segment)."""
    from lib.render import render_target_html

    chosen = [s for s in out_segs if sel[0] <= s.index <= sel[1]]
    text = view.seq.text[chosen[0].start:chosen[-1].end] if chosen else ""
    pos = generated_positions(view, chosen)
    alts = view.alternatives[pos[0]] if pos and pos[0] < len(view.alternatives) else ()
    st.html(render_target_html(text, [view.probs[i] for i in pos], alts,
                               typed=view.target_mode != "response"))
