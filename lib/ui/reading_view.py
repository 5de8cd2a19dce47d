"""A long document's reading aids: the top segments as links to their place, a density strip
of where the salience sits, and paragraphs folded below a share of the top one."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from lib.records import Segment
from lib.render import ColourScale
from lib.ui.controls import ViewControls
from lib.view import View


def reading_view(view: View, segments: list[Segment], seg_vals: list[float],
                 scale: ColourScale, token_scores: Sequence[float] | None, c: ViewControls,
                 sel_idx: list[int], *, prefix: str) -> None:
    """The reading view in an expander; session keys and element ids start with `prefix`."""
    from lib.render_reading import render_reading_view_html

    with st.expander("Reading view: jump to what mattered in the document", expanded=True):
        fold = st.slider("Fold paragraphs below this share of the top paragraph (0 = none)",
                         0, 50, 10, step=5, format="%d%%", key=f"{prefix}_fold")
        st.html(render_reading_view_html(
            view.seq, segments, seg_vals, scale, token_scores, palette=c.palette,
            intensity=c.intensity, show_numbers=bool(c.show_numbers), selected=sel_idx,
            fold_share=fold / 100 or None, prefix=f"{prefix}-"))
