"""The matrix grid the Debug page draws (`lib.matrix`): equal to `salience_matrix` once every
row is computed, NaN rows while not, and the clicked cell read from plotly's points."""

from __future__ import annotations

import math

import pytest

from lib import pipeline
from lib.matrix import MAX_COLUMNS, clicked_cell, matrix_grid
from lib.models.tiny import load_tiny
from lib.segments import segment_sequence

PROMPT = "Is this dish vegetarian? Quiche with ham and eggs.\n"
TARGET = " No. It has ham. Try the salad."


@pytest.fixture(scope="module")
def model():
    return load_tiny("tiny")


@pytest.fixture(scope="module")
def seq(model):
    return pipeline.sequence_for_target(model, PROMPT, TARGET)


def test_a_fully_computed_grid_equals_salience_matrix(model, seq):
    pipeline.clear_cache()
    m = pipeline.salience_matrix(model, seq, "words", "grad_dot_input")
    segments = segment_sequence(seq, "words")
    known = {}
    for row in m.rows:  # each row its own call, as the prefetch computes them
        pipeline.clear_cache()
        known[row.index] = pipeline.salience(model, seq, row.token_indices,
                                             "grad_dot_input").scores
    grid = matrix_grid(segments, known)
    assert grid.rows == m.rows and grid.columns == m.columns
    assert grid.computed == len(m.rows)
    for got, want in zip(grid.values, m.scores, strict=True):
        assert got == pytest.approx(want, rel=1e-4, abs=1e-6)


def test_rows_not_computed_are_nan(model, seq):
    segments = segment_sequence(seq, "sentences")
    rows = [s for s in segments if not s.in_prompt and s.token_indices]
    first = pipeline.salience(model, seq, rows[0].token_indices, "grad_l2").scores
    grid = matrix_grid(segments, {rows[0].index: first})
    assert grid.computed == 1 and len(grid.rows) == len(rows) > 1
    assert not any(math.isnan(v) for v in grid.values[0])
    assert all(math.isnan(v) for row in grid.values[1:] for v in row)
    assert not grid.too_large and len(grid.columns) <= MAX_COLUMNS
    # Special tokens (<bos> ...) are no column.
    special = {i for i, t in enumerate(seq.tokens) if t.special}
    assert special and not special & {t for c in grid.columns for t in c.token_indices}


def test_clicked_cell_reads_the_customdata_and_refuses_anything_else():
    assert clicked_cell([{"customdata": [1, 2]}], 3, 3) == (1, 2)
    assert clicked_cell([{"customdata": [1.0, 0.0]}], 3, 3) == (1, 0)
    assert clicked_cell([{"x": 1}, {"customdata": [0, 1]}], 3, 3) == (0, 1)
    for bad in ([3, 0], [0, -1], [True, 0], [0.5, 0], ["1", "0"], [1], None, "x",
                [float("nan"), 0]):
        assert clicked_cell([{"customdata": bad}], 3, 3) is None, bad
    assert clicked_cell(["not a point", None], 3, 3) is None
    assert clicked_cell([], 3, 3) is None
