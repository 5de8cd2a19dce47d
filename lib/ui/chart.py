"""The bar chart of the prompt segments with the largest salience."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from lib.records import Segment


def top_chart(segments: Sequence[Segment], seg_vals: Sequence[float], signed: bool,
              key: str) -> None:
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
    st.plotly_chart(fig, key=key)
