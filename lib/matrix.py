"""The output x prompt matrix from the rows computed so far (pure, no Streamlit).

`lib.analysis.salience_matrix` computes every row at once; the Debug page instead fills the
matrix from whatever single output segments' scores are already known (the background
prefetch computes them one by one), leaving the other rows NaN. Both aggregate a row's token
scores over the prompt's segments with `segment_scores`, so a fully computed grid equals the
lib's matrix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lib.records import Segment
from lib.segments import segment_scores

# Past these sizes the cells get too small to read or click (and the hover labels too many):
# the page asks for a coarser granularity rather than aggregating segments it did not choose.
MAX_COLUMNS = 60
MAX_ROWS = 100


@dataclass(frozen=True)
class MatrixGrid:
    """values[i][j]: the score of prompt segment `columns[j]` for output segment `rows[i]`
    (NaN while row i is not computed)."""

    rows: tuple[Segment, ...]
    columns: tuple[Segment, ...]
    values: tuple[tuple[float, ...], ...]

    @property
    def computed(self) -> int:
        """How many rows have scores."""
        return sum(1 for r in self.values if r and not math.isnan(r[0]))

    @property
    def too_large(self) -> bool:
        return len(self.columns) > MAX_COLUMNS or len(self.rows) > MAX_ROWS


def matrix_grid(segments: Sequence[Segment],
                known: Mapping[int, Sequence[float]]) -> MatrixGrid:
    """Rows: the output segments with tokens; columns: the prompt segments (as
    `segment_sequence` gives them: special tokens left out). `known`: token scores by output
    segment index (`lib.ui.scores.known_scores`); rows missing from it are NaN."""
    rows = tuple(s for s in segments if not s.in_prompt and s.token_indices)
    columns = tuple(s for s in segments if s.in_prompt)
    nan_row = (math.nan,) * len(columns)
    values = tuple(tuple(segment_scores(columns, known[r.index])) if r.index in known
                   else nan_row for r in rows)
    return MatrixGrid(rows=rows, columns=columns, values=values)


def clicked_cell(points: Sequence[Any], n_rows: int, n_cols: int) -> tuple[int, int] | None:
    """(row, column) positions of the first clicked cell in a plotly selection's points (each
    cell's point carries `customdata` [row, column]); None if none is a cell of the grid."""
    for p in points:
        data = p.get("customdata") if isinstance(p, dict) else None
        if not isinstance(data, list) or len(data) != 2:
            continue
        # JSON numbers from the browser: whole floats count, booleans and fractions do not.
        if not all(isinstance(v, int | float) and not isinstance(v, bool)
                   and float(v).is_integer() for v in data):
            continue
        row, col = int(data[0]), int(data[1])
        if 0 <= row < n_rows and 0 <= col < n_cols:
            return row, col
    return None
