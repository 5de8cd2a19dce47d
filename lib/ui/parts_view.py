"""Salience by part on the pages: Debug's part chart (click a bar to outline that part in the
prompt overlay) and table, and Compare's parts side by side per variant.

The highlighted part's id lives in `dbg_part` (plain session state, not a widget's, so it
outlives runs without a selection and travels in a share link's `ui` record as `part`). The
bar chart's selection and the accessible picker in the table's expander both write it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from lib.part_compare import PartCell, align_parts
from lib.part_scores import PartScore
from lib.parts import Part
from lib.render_parts import part_text, part_title, ranked, view_part_scores
from lib.text_safety import escape_html, safe_html, safe_plain
from lib.view import View

PART_KEY = "dbg_part"
PICK_KEY = "dbg_part_pick"
CHART_KEY = "dbg_parts_chart"
CHART_PARTS = 15  # bars shown; the table lists every part
FOCUS_CHARS = 1500

FOCUS_CSS = """<style>
.part-focus { border-left: 4px solid #0072b2; padding: .35rem .7rem; margin: .2rem 0 .4rem;
  background: rgba(0,114,178,.08); }
.part-focus .part-focus-text { white-space: pre-wrap; overflow-wrap: anywhere;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem;
  background: rgba(0,114,178,.15); border-radius: 3px; padding: 0 .2rem; }
</style>"""


def highlighted_part(scores: Sequence[PartScore], key: str = PART_KEY) -> Part | None:
    """The highlighted part if it is one of these parts (else None: another prompt's id)."""
    ident = st.session_state.get(key)
    return next((s.part for s in scores if s.part.id == ident), None)


def overlay_part(part: Part | None) -> dict[str, Any] | None:
    """What the overlay component needs to outline a part: its id and token indices."""
    if part is None:
        return None
    return {"id": part.id, "tokens": list(part.token_indices)}


def _points(value: Any) -> list[dict[str, Any]]:
    try:
        selection = value["selection"] if value is not None else None
        points = selection["points"] if selection is not None else []
    except (KeyError, TypeError, AttributeError):
        return []
    return [p for p in points if isinstance(p, dict)]


def _chart_ids(fig_ids: Sequence[str], on_change: Callable[[], None]) -> Callable[[], None]:
    """The chart's on_select callback: the clicked bar's part becomes the highlight (a click
    on empty space, which clears plotly's selection, clears it)."""
    def on_select() -> None:
        points = _points(st.session_state.get(CHART_KEY))
        ident = None
        for p in points:
            data = p.get("customdata")
            data = data[0] if isinstance(data, list) and data else data
            if isinstance(data, str) and data in fig_ids:
                ident = data
                break
            index = p.get("point_index")
            if ident is None and isinstance(index, int) and 0 <= index < len(fig_ids):
                ident = fig_ids[index]
                break
        st.session_state[PART_KEY] = ident
        on_change()
    return on_select


def _chart(scores: Sequence[PartScore], signed: bool, on_change: Callable[[], None]) -> None:
    import plotly.graph_objects as go

    top = ranked(scores)[:CHART_PARTS][::-1]  # plotly draws the first bar at the bottom
    ids = [s.part.id for s in top]
    titles = [safe_plain(part_title(s.part))[:60] for s in top]
    # Two parts may share a label: the axis is categorical, so keep every bar its own row.
    seen: dict[str, int] = {}
    for i, t in enumerate(titles):
        seen[t] = seen.get(t, 0) + 1
        if seen[t] > 1:
            titles[i] = f"{t} [{ids[i]}]"
    # Plotly reads a few HTML tags (<a>, <b>, <br>) in labels: escape prompt text for it.
    labels = [escape_html(t) for t in titles]
    shares = [f"{s.share:.1%}" for s in top]
    hover = "%{y}: %{x:.4g} (share %{text})<extra>%{fullData.name}</extra>"
    if signed:
        traces = [go.Bar(x=[s.positive or 0.0 for s in top], y=labels, name="Positive",
                         orientation="h", marker_color="#542788", customdata=ids,
                         text=shares, textposition="none", hovertemplate=hover),
                  go.Bar(x=[s.negative or 0.0 for s in top], y=labels, name="Negative",
                         orientation="h", marker_color="#b35806", customdata=ids,
                         text=shares, textposition="none", hovertemplate=hover)]
    else:
        traces = [go.Bar(x=[s.score for s in top], y=labels, name="Score", orientation="h",
                         marker_color="#2171b5", customdata=ids, text=shares,
                         textposition="outside", hovertemplate=hover)]
    fig = go.Figure(traces)
    fig.update_layout(height=90 + 26 * len(top), margin=dict(l=10, r=10, t=36, b=10),
                      title="Prompt parts by salience (bar labels: share of the total)",
                      barmode="relative", yaxis=dict(automargin=True), clickmode="event+select",
                      showlegend=signed)
    st.plotly_chart(fig, key=CHART_KEY, on_select=_chart_ids(ids, on_change), selection_mode="points")


def _focus(view: View, score: PartScore) -> None:
    """The highlighted part spelled out under the chart (the overlay outlines it too)."""
    text = part_text(view.seq, score.part)
    if len(text) > FOCUS_CHARS:
        text = text[:FOCUS_CHARS] + "…"
    numbers = f"score {score.score:.4g} · share {score.share:.1%}"
    if score.positive is not None:
        numbers += f" · positive {score.positive:.4g} · negative {(score.negative or 0.0):.4g}"
    st.html(FOCUS_CSS
            + f'<div class="part-focus" data-part-id="{escape_html(score.part.id)}">'
            f"<b>Highlighted part: {safe_html(part_title(score.part))}</b> "
            f"({escape_html(numbers)})"
            f'<div class="part-focus-text">{safe_html(text)}</div></div>')


def _table_rows(scores: Sequence[PartScore], signed: bool) -> list[dict[str, Any]]:
    rows = []
    for s in ranked(scores):
        row: dict[str, Any] = {"Part": safe_plain(s.part.label), "Kind": s.part.kind,
                               "Score": s.score, "Share %": round(100 * s.share, 2)}
        if signed:
            row["Positive"], row["Negative"] = s.positive, s.negative
        rows.append(row)
    return rows


def debug_parts(view: View, scores: Sequence[PartScore], signed: bool,
                on_change: Callable[[], None]) -> None:
    """Debug: the chart of the parts, the highlighted part, and the table in an expander.
    `on_change` marks a click's rerun as the reviewer's own (the URL owner's `hold`)."""
    if not scores:
        return
    _chart(scores, signed, on_change)
    st.caption("Click a bar to outline that part in the prompt overlay above (click empty "
               "space in the chart to clear).")
    chosen = highlighted_part(scores)
    if chosen is not None:
        _focus(view, next(s for s in scores if s.part.id == chosen.id))
    with st.expander("Salience by part (table)"):
        st.dataframe(_table_rows(scores, signed), hide_index=True)
        ids = [""] + [s.part.id for s in scores]
        names = {s.part.id: part_title(s.part) for s in scores}
        # The picker mirrors the highlight (set before it is drawn: Streamlit allows that).
        st.session_state[PICK_KEY] = chosen.id if chosen is not None else ""

        def picked() -> None:
            st.session_state[PART_KEY] = st.session_state.get(PICK_KEY) or None
            on_change()

        st.selectbox("Highlight a part in the prompt", ids, key=PICK_KEY, on_change=picked,
                     format_func=lambda i: names.get(i, "(none)"))


def debug_part_scores(view: View, token_scores: Sequence[float] | None, signed: bool
                      ) -> list[PartScore]:
    """The parts' scores for the selection's token scores ([] without scores)."""
    return [] if token_scores is None else view_part_scores(view, token_scores, signed)


def _cell(cell: PartCell, baseline: bool) -> str:
    share = f"{cell.score.share:.1%}" if cell.score is not None else ""
    if cell.status == "absent":
        return "—"
    if cell.status == "missing":
        return "missing"
    if cell.status == "new":
        return f"new · {share}"
    if baseline or cell.share_shift is None:
        return share
    return f"{share} ({100 * cell.share_shift:+.1f} pp)"


def compare_parts(views: Sequence[View], token_scores: Sequence[Sequence[float] | None],
                  signed: bool) -> None:
    """Compare: each variant's parts aligned by part (`align_parts`), the share per variant and
    its shift from the first variant shown; parts only one variant has are marked new."""
    cols = [j for j, t in enumerate(token_scores) if t is not None]
    per = [view_part_scores(views[j], token_scores[j], signed) for j in cols]  # type: ignore[arg-type]
    cols = [j for j, p in zip(cols, per, strict=True) if p]
    per = [p for p in per if p]
    if not per:
        return
    rows = []
    for r in align_parts(per):
        row: dict[str, Any] = {"Part": safe_plain(r.label), "Kind": r.kind}
        for k, (j, cell) in enumerate(zip(cols, r.cells, strict=True)):
            row[f"Variant {j + 1}"] = _cell(cell, baseline=k == 0)
        rows.append(row)
    with st.expander("Salience by part, side by side", expanded=True):
        missing = len(views) - len(cols)
        st.caption(f"Each part's share of its variant's total |score|; shifts in percentage "
                   f"points from variant {cols[0] + 1}; \"new\": only that variant has the part."
                   + (f" {missing} variant(s) have no scores for the selection." if missing
                      else ""))
        st.dataframe(rows, hide_index=True)
