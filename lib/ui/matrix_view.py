"""Debug's output x prompt matrix: a heatmap of every output segment's salience over the
prompt's segments, from the scores computed so far (`lib.matrix.matrix_grid`).

Clicking a cell selects its output segment (as a click on the output does) and outlines its
prompt segment in the overlay, through the overlay's highlight slot (`matrix_highlight`, next
to the part highlight). The clicked cell lives in `dbg_matrix_cell` (plain session state:
(output segment index, prompt segment index)); it shows only while its row is the selection.

Plotly heatmaps send no selection to Streamlit (streamlit#8760), so an invisible scatter
trace with one point per cell centre carries the clicks and the hover labels: the nearest
centre of a regular grid is the cell under the pointer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from lib.matrix import MAX_COLUMNS, MAX_ROWS, MatrixGrid, clicked_cell, matrix_grid
from lib.records import Segment
from lib.text_safety import escape_html, safe_plain

CHART_KEY = "dbg_matrix"
CELL_KEY = "dbg_matrix_cell"
OPEN_KEY = "dbg_matrix_open"
TITLE = "Output × prompt matrix"
LABEL_CHARS = 14
HOVER_CHARS = 40


def matrix_highlight(segments: Sequence[Segment], sel: tuple[int, int] | None
                     ) -> dict[str, Any] | None:
    """The overlay's highlight for the clicked cell's prompt segment ({id, tokens}, the shape
    of `lib.ui.parts_view.overlay_part`), while the cell's row is the selection; else None."""
    cell = st.session_state.get(CELL_KEY)
    if not isinstance(cell, tuple) or len(cell) != 2 or sel != (cell[0], cell[0]):
        return None
    seg = next((s for s in segments if s.index == cell[1] and s.in_prompt), None)
    return None if seg is None else {"id": str(seg.index), "tokens": list(seg.token_indices)}


def _label(seg: Segment, chars: int) -> str:
    # Plotly reads a few HTML tags (<a>, <b>, <br>) in labels: escape segment text for it.
    text = safe_plain(seg.text.strip())
    return escape_html(text if len(text) <= chars else text[:chars - 1] + "…")


def figure(grid: MatrixGrid, signed: bool, method_label: str,
           cell: tuple[int, int] | None = None) -> Any:
    """The heatmap (rows: output segments, top to bottom; columns: prompt segments), one
    colour scale for the whole matrix: diverging around 0 for signed methods, sequential from
    0 otherwise. `cell`: (row, column) positions to outline."""
    import plotly.graph_objects as go

    n_rows, n_cols = len(grid.rows), len(grid.columns)
    z = [[None if math.isnan(v) else v for v in row] for row in grid.values]
    heat = go.Heatmap(z=z, x=list(range(n_cols)), y=list(range(n_rows)), hoverinfo="skip",
                      colorscale="PuOr" if signed else "Blues", zmid=0 if signed else None,
                      zmin=None if signed else 0, colorbar=dict(title=escape_html(method_label)))
    xs, ys, data, hover = [], [], [], []
    for i, (r, row) in enumerate(zip(grid.rows, grid.values, strict=True)):
        for j, (c, v) in enumerate(zip(grid.columns, row, strict=True)):
            xs.append(j)
            ys.append(i)
            data.append([i, j])
            score = "not computed yet" if math.isnan(v) else f"{v:.4g}"
            hover.append(f"Output #{r.index} {_label(r, HOVER_CHARS)}<br>"
                         f"Prompt #{c.index} {_label(c, HOVER_CHARS)}<br>score: {score}")
    cells = go.Scatter(x=xs, y=ys, customdata=data, text=hover, mode="markers",
                       marker=dict(size=8, color="rgba(0,0,0,0)"), showlegend=False,
                       hovertemplate="%{text}<extra></extra>",
                       selected=dict(marker=dict(opacity=0)),
                       unselected=dict(marker=dict(opacity=0)))
    fig = go.Figure([heat, cells])
    if cell is not None:
        fig.add_shape(type="rect", x0=cell[1] - .5, x1=cell[1] + .5, y0=cell[0] - .5,
                      y1=cell[0] + .5, line=dict(color="#009e73", width=3))
    fig.update_layout(
        height=140 + 24 * n_rows, margin=dict(l=10, r=10, t=10, b=10),
        clickmode="event+select", hovermode="closest", hoverdistance=-1,
        xaxis=dict(tickvals=list(range(n_cols)), ticktext=[_label(c, LABEL_CHARS)
                                                           for c in grid.columns],
                   tickangle=-60, range=[-.5, n_cols - .5], showgrid=False, zeroline=False,
                   title="Prompt segments"),
        yaxis=dict(tickvals=list(range(n_rows)), ticktext=[_label(r, LABEL_CHARS)
                                                           for r in grid.rows],
                   range=[n_rows - .5, -.5], showgrid=False, zeroline=False,
                   automargin=True, title="Output segments"))
    return fig


def _on_select(grid: MatrixGrid, select_row: Callable[[int], None]) -> Callable[[], None]:
    def on_select() -> None:
        value = st.session_state.get(CHART_KEY)
        try:
            points = value["selection"]["points"] if value is not None else []
        except (KeyError, TypeError):
            points = []
        hit = clicked_cell(points if isinstance(points, list) else [], len(grid.rows),
                           len(grid.columns))
        if hit is None:  # a click beside the cells (plotly clears its selection): no change
            return
        row, col = grid.rows[hit[0]].index, grid.columns[hit[1]].index
        st.session_state[CELL_KEY] = (row, col)
        select_row(row)
    return on_select


def matrix_view(segments: Sequence[Segment], known: Mapping[int, Sequence[float]],
                signed: bool, method_label: str, sel: tuple[int, int] | None,
                select_row: Callable[[int], None]) -> None:
    """The matrix in an expander. `known`: token scores by output segment index, computed so
    far; `select_row(index)` makes that output segment the selection (the page's rule)."""
    # A tracked expander: its open state is session state, so the fragment's redraws while
    # scores fill in keep it open, and a closed one builds no figure.
    box = st.expander(TITLE, key=OPEN_KEY, on_change="rerun")
    if not box.open:
        return
    grid = matrix_grid(segments, known)
    with box:
        if not grid.rows or not grid.columns:
            st.caption("The matrix needs an output segment and a prompt segment.")
            return
        if grid.too_large:
            st.info(f"The matrix would be {len(grid.rows)} output × {len(grid.columns)} prompt "
                    f"segments; it is drawn up to {MAX_ROWS} × {MAX_COLUMNS}. Choose a coarser "
                    "granularity (sentences, lines or paragraphs) to see it.")
            return
        st.caption(f"{grid.computed} of {len(grid.rows)} rows computed (empty rows fill in as "
                   "the background computation finishes them). Click a cell to select its "
                   "output segment and outline its prompt segment in the overlay.")
        cell = st.session_state.get(CELL_KEY)
        pos = None
        if isinstance(cell, tuple) and sel == (cell[0], cell[0]):
            rows = [r.index for r in grid.rows]
            cols = [c.index for c in grid.columns]
            if cell[0] in rows and cell[1] in cols:
                pos = (rows.index(cell[0]), cols.index(cell[1]))
        st.plotly_chart(figure(grid, signed, method_label, pos), key=CHART_KEY,
                        on_select=_on_select(grid, select_row), selection_mode="points")
