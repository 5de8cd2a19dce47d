"""Compare's instant re-click: the per-click matches (`lib.compare.click_matches`), the colour
scales of a compare selection and the looks every column paints at a click
(`lib.compare_overlay`), and the vectorised colours they use (`score_colour_codes`)."""

from __future__ import annotations

import math
import random

import pytest

from lib.colours import PALETTES, ColourScale, score_colour, score_colour_codes, text_colour
from lib.compare import click_matches, match_range
from lib.compare_overlay import column_peak, compare_overlays, compare_scales, current_scales
from lib.render import overlay_payload, paint, scale_excluding
from lib.segments import segment_sequence
from tests.test_segments import make_seq

SEQS = [
    make_seq(["Intro", "\n", "Recommendation", ":", " Try", ".", "\n", "Analysis", ":"],
             [" cheesy", ".", "\n", "Recommendation", ":", " You", " have", " to", " try", "."]),
    make_seq(["Intro", "\n", "Rules", "\n", "Recommendation", ":", " Avoid", ".", "\n",
              "Analysis", ":"], [" has", " eggs", ".", "\n", "Recommendation", ":", " Avoid"]),
    make_seq(["Intro", "\n", "Analysis", ":"], [" Intro", " only"]),
]


def _segs(granularity: str) -> list:
    return [segment_sequence(s, granularity) for s in SEQS]


def _values(segs, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(-2, 2) for _ in segs]


def _known(segs) -> list[dict[int, list[float]]]:
    return [{s.index: _values(col, 100 * k + s.index) for s in col if not s.in_prompt}
            for k, col in enumerate(segs)]


def _expand(column: dict, key: str) -> list[list[str]] | None:
    """The looks the browser builds for a click (segment_picker's groupLook)."""
    ids, m = column["views"].get(key), column["match"].get(key)
    if ids is None or m is None:
        return None
    return [v + column["colours"][c] for v, c in zip(column["values"][str(m)], ids, strict=True)]


# ---- colours, vectorised --------------------------------------------------------------------
@pytest.mark.parametrize("palette", sorted(PALETTES))
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("intensity", [0.0, 0.6, 1.0, 2.5])
def test_colour_codes_are_score_colour(palette, signed, intensity):
    rng = random.Random(f"{palette}{signed}{intensity}")
    special = [0.0, 1.0, -1.0, 0.5, -0.5, 0.25, 0.1, 1e-300, -1e-300, 7.0, math.nan, math.inf,
               -math.inf]
    rows = [[rng.choice(special) if rng.random() < 0.3 else rng.uniform(-3, 3)
             for _ in range(40)] for _ in range(12)]
    vmax = [rng.choice([1.0, 0.5, 2.0, 1e-300, rng.uniform(0.01, 5)]) for _ in rows]
    codes = score_colour_codes(rows, vmax, signed, palette, intensity)
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            assert f"#{int(codes[r, c]):06x}" == score_colour(
                v, ColourScale(vmax[r], signed), palette, intensity), (v, vmax[r])


def test_colour_codes_of_nothing():
    assert score_colour_codes([[], []], [1.0, 2.0], False, "blues").shape == (2, 0)


# ---- what a click selects in every column -----------------------------------------------------
@pytest.mark.parametrize("granularity", ["lines", "words", "tokens"])
def test_click_matches_are_match_range_of_each_single_segment(granularity):
    segs = _segs(granularity)
    got = click_matches(segs, granularity)
    assert set(got) == {(j, s.index) for j, col in enumerate(segs) for s in col if not s.in_prompt}
    for (j, i), ms in got.items():
        want = match_range(segs, granularity, (j, i, i))
        assert ms == [None if r is None else r[0] for r in want]
        assert all(r is None or r[0] == r[1] for r in want)
        assert ms[j] == i


@pytest.mark.parametrize("granularity", ["lines", "words"])
def test_a_range_follows_from_the_matches_of_its_ends(granularity):
    """The browser's rule for a shift-click range (segment_picker's groupSelection)."""
    segs = _segs(granularity)
    got = click_matches(segs, granularity)
    for j, col in enumerate(segs):
        outs = [s.index for s in col if not s.in_prompt]
        for lo in outs:
            for hi in (h for h in outs if h >= lo):
                for k, want in enumerate(match_range(segs, granularity, (j, lo, hi))):
                    a, b = got[(j, lo)][k], got[(j, hi)][k]
                    rule = (lo, hi) if k == j else (
                        (a, b) if a is not None and b is not None and a <= b else None)
                    assert rule == want, (j, lo, hi, k)


# ---- colour scales of a compare selection -------------------------------------------------------
def _old_scales(segs, values, picked, shared, signed):
    """The rule the Compare page drew with before (pooled or per column)."""
    out = []
    for j in range(len(segs)):
        if shared or values[j] is None:
            pool = [(s, v) for k, vals in enumerate(values) if vals is not None
                    for s, v in zip(segs[k], vals, strict=True) if s.index not in picked[k]]
            out.append(scale_excluding([s for s, _ in pool], [v for _, v in pool], (), signed))
        else:
            out.append(scale_excluding(segs[j], values[j], picked[j], signed))
    return out


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("signed", [True, False])
def test_current_scales_are_the_pooled_or_own_scale(shared, signed):
    segs = _segs("words")
    values = [_values(segs[0], 1), None, _values(segs[2], 3)]
    values[0][2] = math.nan  # non-finite scores are left out, as colour_scale does
    values[2][1] = 50.0
    picked = [[segs[0][-1].index], [], [segs[2][1].index]]
    assert current_scales(segs, values, picked, shared=shared, signed=signed) == \
        _old_scales(segs, values, picked, shared, signed)
    nothing = [None, None, None]
    assert current_scales(segs, nothing, [[], [], []], shared=shared, signed=signed) == \
        [ColourScale(1.0, signed)] * 3


def test_peaks_and_scales():
    segs = _segs("lines")[0]
    vals = [0.5 * (k + 1) * (-1) ** k for k in range(len(segs))]
    assert column_peak(segs, vals, {segs[-1].index}) == abs(vals[-2])
    assert column_peak(segs, [0.0] * len(segs), ()) == 0.0
    assert compare_scales([2.0, None, 0.0], shared=True, signed=False) == \
        [ColourScale(2.0, False)] * 3
    assert compare_scales([2.0, None, 0.0], shared=False, signed=True) == \
        [ColourScale(2.0, True), ColourScale(2.0, True), ColourScale(1.0, True)]


# ---- the looks each column paints at a click ------------------------------------------------
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("granularity", ["lines", "words"])
def test_a_click_paints_what_the_server_answers(shared, granularity):
    """For every click, each column's looks (built as the browser builds them) are the
    `current` looks Python sends once that click is the selection, and those are `paint` on
    the selection's scale: the shared one pools every column's scores without its match."""
    segs = _segs(granularity)
    matches = click_matches(segs, granularity)
    known = _known(segs)
    before = compare_overlays(SEQS, segs, known, [None] * 3, [[], [], []], matches,
                              shared=shared, signed=True, palette="puor", intensity=0.8)
    for (j, i), ms in matches.items():
        key = f"{j}:{i}"
        current = [known[k][m] if m is not None else None for k, m in enumerate(ms)]
        picked = [[m] if m is not None else [] for m in ms]
        after = compare_overlays(SEQS, segs, known, current, picked, matches, shared=shared,
                                 signed=True, palette="puor", intensity=0.8)
        scales = _old_scales(segs, current, picked, shared, True)
        for k, m in enumerate(ms):
            assert before[k]["match"][key] == m
            painted = _expand(before[k], key)
            if m is None:
                assert painted is None and after[k]["current"] is None
                continue
            assert painted == after[k]["current"]
            order = [p[1] for p in before[k]["pieces"] if len(p) > 1]
            pos = {s.index: n for n, s in enumerate(segs[k])}
            want = [list(vars(paint(known[k][m][pos[idx]], scales[k], "puor", 0.8)).values())
                    for idx in order]
            assert painted == want
        assert before[j]["pending"] == []


def test_pieces_are_the_debug_overlays_and_pending_names_clicks_that_would_wait():
    segs = _segs("words")
    matches = click_matches(segs, "words")
    known = _known(segs)
    missing = next(m for (j, _), ms in matches.items() if j == 0 for m in ms[1:2]
                   if m is not None)
    del known[1][missing]  # column 1 has not computed this segment yet
    got = compare_overlays(SEQS, segs, known, [None] * 3, [[], [], []], matches, shared=True,
                           signed=False, palette="blues")
    for k, column in enumerate(got):
        debug = overlay_payload(SEQS[k], segs[k], {}, None, [], signed=False, palette="blues")
        assert column["pieces"] == debug["pieces"] and column["numbers"] is False
        assert column["current"] is None
        assert set(column["match"]) == {f"{j}:{i}" for j, i in matches}
    for (j, i), ms in matches.items():
        waits = any(m is not None and m not in known[k] for k, m in enumerate(ms))
        assert (i in got[j]["pending"]) == waits, (j, i)
        assert waits == (ms[1] == missing)
        # The column that lacks the scores has no looks for the click; the others have theirs.
        for k, m in enumerate(ms):
            assert (_expand(got[k], f"{j}:{i}") is not None) == (m is not None and m in known[k])
    assert all(c[1] == text_colour(c[0]) for column in got for c in column["colours"])
