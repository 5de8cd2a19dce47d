"""Compare's prompt overlays, ready for every click before it happens.

For each single output segment a reviewer can click in any column, the segment it selects in
every column (`lib.compare.click_matches`) and how each column's prompt then looks. With one
shared colour scale the scale pools every column's scores of that selection (each without its
own selected segments), so a column's looks belong to the whole selection, not to the column
alone. The browser repaints all columns from this at the click; Python's answer (`current`)
comes from the same code, so it matches what was painted. Pure functions, plain JSON values.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from lib.colours import ColourScale, colour_scale, format_score, score_colour_codes, text_colour
from lib.records import Segment, TokenSequence
from lib.render import pieces_payload


def column_peak(segments: Sequence[Segment], values: Sequence[float],
                exclude: Collection[int]) -> float:
    """The largest finite |value| of the segments not in `exclude` (0.0 if none): the `vmax`
    of `lib.render.scale_excluding(segments, values, exclude, ...)` (before its 0 -> 1 rule)."""
    peak = 0.0
    for seg, v in zip(segments, values, strict=True):
        v = float(v)
        if seg.index not in exclude and math.isfinite(v):
            peak = max(peak, abs(v))
    return peak


def compare_scales(peaks: Sequence[float | None], *, shared: bool, signed: bool
                   ) -> list[ColourScale]:
    """Each column's colour scale from its `column_peak` (None: the column has no scores):
    with `shared` one scale over every column's scores; else each column its own (a column
    without scores gets the pooled one, for its legend)."""
    pooled = colour_scale([p for p in peaks if p is not None] or [0.0], signed)
    return [pooled if shared or p is None else colour_scale([p], signed) for p in peaks]


def current_scales(segs: Sequence[Sequence[Segment]], values: Sequence[Sequence[float] | None],
                   picked: Sequence[Collection[int]], *, shared: bool, signed: bool
                   ) -> list[ColourScale]:
    """The colour scales of a selection: `values[k]` column k's segment scores (None: none),
    `picked[k]` its selected segment indices (left out of the scale)."""
    peaks = [None if v is None else column_peak(segs[k], v, set(picked[k]))
             for k, v in enumerate(values)]
    return compare_scales(peaks, shared=shared, signed=signed)


def compare_overlays(seqs: Sequence[TokenSequence], segs: Sequence[Sequence[Segment]],
                     known: Sequence[Mapping[int, Sequence[float]]],
                     current: Sequence[Sequence[float] | None],
                     picked: Sequence[Collection[int]],
                     matches: Mapping[tuple[int, int], Sequence[int | None]], *,
                     shared: bool, signed: bool, palette: str, intensity: float = 1.0
                     ) -> list[dict[str, Any]]:
    """What each column's component needs to repaint its overlay at any click.

    `known[k]`: column k's computed single output segments, index -> segment scores;
    `current[k]` / `picked[k]`: the shown selection's scores (None: none) and segment indices;
    `matches`: `lib.compare.click_matches`. Per column: `pieces` (as `overlay_payload`),
    `current` (the shown selection's looks, [salience, label, background, colour] per segment
    piece, or None), `values` (own segment index -> [salience, label] per piece), `colours`
    ([background, colour] pairs), `views` ("j:i" -> colour ids per piece, for each click whose
    match here is computed), `match` ("j:i" -> the segment index a click selects here, or
    None) and `pending` (own segments whose click needs scores not computed yet).
    """
    n = len(segs)
    orders = []
    out: list[dict[str, Any]] = []
    for k in range(n):
        pieces, order = pieces_payload(seqs[k], segs[k])
        orders.append(order)
        out.append({"pieces": pieces, "numbers": False, "match": {}, "pending": []})
    peaks: dict[tuple[int, int], float] = {}

    def peak(k: int, m: int) -> float:
        if (k, m) not in peaks:
            peaks[(k, m)] = column_peak(segs[k], known[k][m], {m})
        return peaks[(k, m)]

    rows: list[list[tuple[str, Sequence[float], float]]] = [[] for _ in range(n)]
    for (j, i), ms in matches.items():
        key = f"{j}:{i}"
        have = [m is not None and m in known[k] for k, m in enumerate(ms)]
        scales = compare_scales([peak(k, m) if ok and m is not None else None
                                 for k, (m, ok) in enumerate(zip(ms, have, strict=True))],
                                shared=shared, signed=signed)
        for k, m in enumerate(ms):
            out[k]["match"][key] = m
            if have[k] and m is not None:
                rows[k].append((key, known[k][m], scales[k].vmax))
        if any(m is not None and not ok for m, ok in zip(ms, have, strict=True)):
            out[j]["pending"].append(i)
    scales = current_scales(segs, current, picked, shared=shared, signed=signed)
    for k in range(n):
        if current[k] is not None:
            rows[k].append(("", current[k], scales[k].vmax))
        out[k].update(_column_looks(rows[k], orders[k], known[k], signed, palette, intensity))
        if current[k] is None:
            out[k]["current"] = None
    return out


def _column_looks(rows: list[tuple[str, Sequence[float], float]], order: list[int],
                  known: Mapping[int, Sequence[float]], signed: bool, palette: str,
                  intensity: float) -> dict[str, Any]:
    """One column's `values`, `colours`, `views` and `current` (the row keyed "")."""
    import numpy as np

    def texts(values: Sequence[float]) -> list[list[str]]:
        return [[repr(float(values[p])), format_score(values[p])] for p in order]

    got: dict[str, Any] = {"values": {str(m): texts(v) for m, v in known.items()},
                           "colours": [], "views": {}, "current": None}
    if not rows:
        return got
    table = np.asarray([r[1] for r in rows], dtype=np.float64)[:, order]
    codes = score_colour_codes(table, [r[2] for r in rows], signed, palette, intensity)
    unique, ids = np.unique(codes, return_inverse=True)
    ids = ids.reshape(codes.shape)
    got["colours"] = [[bg, text_colour(bg)] for bg in (f"#{int(c):06x}" for c in unique)]
    for (key, values, _), row in zip(rows, ids.tolist(), strict=True):
        if key:
            got["views"][key] = row
        else:
            got["current"] = [t + got["colours"][c] for t, c in zip(texts(values), row,
                                                                       strict=True)]
    return got
