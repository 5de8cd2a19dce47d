"""Make a long salience overlay readable: what to look at first, where salience sits, what to fold.

Pure functions over the pipeline's records (`TokenSequence`, `Segment`, scores); HTML for them is
in `lib.render_reading`. Three views of one set of scores:

* `rank_segments`: the top-N segments by |score|, each with its character offsets and its share
  of the largest score (the jump list).
* `density_strip`: the part's characters cut into K equal bins, each bin's summed |token score|
  normalised so the fullest bin is 1 (the strip beside the document).
* `fold_paragraphs`: which runs of paragraphs fall below a share of the top paragraph's score
  (folded away, one click to open).

"Share" is always |score| / max |score| over the segments considered, in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lib.errors import InputError
from lib.records import Segment, TokenSequence
from lib.render import in_part, part_range

PARAGRAPH_THRESHOLD_TOKENS = 1_000  # longer prompts open at paragraph granularity
SHORT_PROMPT_GRANULARITY = "words"
DEFAULT_TOP_N = 10
MAX_TOP_N = 100
DEFAULT_BINS = 100
MAX_BINS = 1_000
DEFAULT_FOLD_SHARE = 0.1


def default_granularity(n_tokens: int, short: str = SHORT_PROMPT_GRANULARITY) -> str:
    """"paragraphs" for prompts of more than PARAGRAPH_THRESHOLD_TOKENS tokens, else `short`."""
    return "paragraphs" if int(n_tokens) > PARAGRAPH_THRESHOLD_TOKENS else short


def _magnitude(value: float) -> float:
    v = float(value)
    return abs(v) if math.isfinite(v) else 0.0


def _check_scores(segments: Sequence[Segment], scores: Sequence[float]) -> None:
    if len(scores) != len(segments):
        raise ValueError(f"{len(scores)} scores for {len(segments)} segments.")


@dataclass(frozen=True)
class RankedSegment:
    """One entry of the jump list. `position` indexes the `segments` list given to
    `rank_segments`; `segment_index` is `Segment.index` (what anchors are named after)."""

    rank: int  # 1 = the most salient
    position: int
    segment_index: int
    start: int
    end: int
    score: float  # the segment's score as given (signed methods keep their sign)
    share: float  # |score| / max |score| over the ranked part, in [0, 1]
    share_of_total: float  # |score| / sum |score| over the ranked part, in [0, 1]


def rank_segments(
    segments: Sequence[Segment],
    scores: Sequence[float],
    *,
    top_n: int = DEFAULT_TOP_N,
    part: str = "prompt",
    exclude: Sequence[int] = (),
) -> list[RankedSegment]:
    """The `top_n` segments of `part` by |score|, largest first (ties: earlier text first).

    `scores[k]` belongs to `segments[k]` (`lib.segments.segment_scores`). Segments whose
    `Segment.index` is in `exclude` (e.g. the selected target) and segments with a zero or
    non-finite score are left out, so a short list means little else carries any salience.
    """
    _check_scores(segments, scores)
    if not isinstance(top_n, int) or not 1 <= top_n <= MAX_TOP_N:
        raise InputError(
            f"The number of top segments must be a whole number from 1 to {MAX_TOP_N} "
            f"(got {str(top_n)[:20]!r}).",
            field="top_n",
        )
    excluded = {int(i) for i in exclude}
    pool = [
        k for k, seg in enumerate(segments)
        if in_part(seg, part) and seg.index not in excluded and seg.end > seg.start
    ]
    peak = max((_magnitude(scores[k]) for k in pool), default=0.0)
    total = sum(_magnitude(scores[k]) for k in pool)
    if peak <= 0.0:
        return []
    order = sorted(
        (k for k in pool if _magnitude(scores[k]) > 0.0),
        key=lambda k: (-_magnitude(scores[k]), segments[k].start, k),
    )
    return [
        RankedSegment(
            rank=rank,
            position=k,
            segment_index=segments[k].index,
            start=segments[k].start,
            end=segments[k].end,
            score=float(scores[k]),
            share=_magnitude(scores[k]) / peak,
            share_of_total=_magnitude(scores[k]) / total,
        )
        for rank, k in enumerate(order[:top_n], start=1)
    ]


@dataclass(frozen=True)
class DensityBin:
    """Characters [start, end) of the text; `total` is the summed |token score| that falls in
    them (a token spread over bins by its characters), `value` = total / the fullest bin's total.
    `segment_index` is the `Segment.index` to jump to (the most salient segment overlapping the
    bin), or None when no segment was given or none overlaps."""

    index: int
    start: int
    end: int
    total: float
    value: float
    segment_index: int | None


@dataclass(frozen=True)
class DensityStrip:
    start: int
    end: int
    bins: tuple[DensityBin, ...]
    total: float  # sum of |score| over the tokens counted (= sum of the bins' totals)
    peak: float  # the fullest bin's total (0 when nothing is salient)


def density_strip(
    seq: TokenSequence,
    token_scores: Sequence[float],
    *,
    bins: int = DEFAULT_BINS,
    part: str = "prompt",
    segments: Sequence[Segment] | None = None,
    segment_scores: Sequence[float] | None = None,
) -> DensityStrip:
    """Where salience sits along the characters of `part`, in `bins` equal bins.

    `token_scores[i]` belongs to `seq.tokens[i]` (a `Salience.scores`). Special tokens are left
    out (they are not shown); a token covering no characters counts at its start. With
    `segments` (and their `segment_scores`), each bin names the segment a click should jump to.
    Fewer bins than asked are made when the text has fewer characters than `bins`.
    """
    if len(token_scores) != len(seq.tokens):
        raise ValueError(f"{len(token_scores)} scores for {len(seq.tokens)} tokens.")
    if not isinstance(bins, int) or not 1 <= bins <= MAX_BINS:
        raise InputError(
            f"The density strip needs a whole number of bins from 1 to {MAX_BINS} "
            f"(got {str(bins)[:20]!r}).",
            field="bins",
        )
    start, end = part_range(seq, part)
    length = end - start
    k = max(1, min(bins, length))
    edges = [start + (length * i) // k for i in range(k + 1)]
    totals = [0.0] * k

    def bin_of(pos: int) -> int:
        # The bin holding character `pos` (edges are increasing; clamp to the strip).
        b = ((pos - start) * k) // length if length else 0
        b = min(max(b, 0), k - 1)
        while b > 0 and pos < edges[b]:
            b -= 1
        while b < k - 1 and pos >= edges[b + 1]:
            b += 1
        return b

    counted = 0.0
    for tok, raw in zip(seq.tokens, token_scores, strict=True):
        if tok.special:
            continue
        mag = _magnitude(raw)
        if mag == 0.0 or tok.start >= end or tok.end < start or (
            tok.end == start and tok.end > tok.start
        ):
            continue
        s, e = max(tok.start, start), min(tok.end, end)
        counted += mag
        if e <= s:
            totals[bin_of(s)] += mag
            continue
        first, last = bin_of(s), bin_of(e - 1)
        for b in range(first, last + 1):
            overlap = min(e, edges[b + 1]) - max(s, edges[b])
            totals[b] += mag * overlap / (e - s)
    peak = max(totals)

    targets: list[int | None] = [None] * k
    if segments is not None:
        if segment_scores is not None:
            _check_scores(segments, segment_scores)
        best: list[float] = [-1.0] * k
        for pos, seg in enumerate(segments):
            if seg.end <= seg.start or not (start <= seg.start < end):
                continue
            mag = _magnitude(segment_scores[pos]) if segment_scores is not None else 0.0
            for b in range(bin_of(seg.start), bin_of(min(seg.end, end) - 1) + 1):
                if mag > best[b]:
                    best[b], targets[b] = mag, seg.index
    return DensityStrip(
        start=start,
        end=end,
        bins=tuple(
            DensityBin(
                index=b,
                start=edges[b],
                end=edges[b + 1],
                total=totals[b],
                value=totals[b] / peak if peak > 0 else 0.0,
                segment_index=targets[b],
            )
            for b in range(k)
        ),
        total=counted,
        peak=peak,
    )


@dataclass(frozen=True)
class FoldRun:
    """Consecutive paragraphs [start, end) (characters) folded away together."""

    start: int
    end: int
    positions: tuple[int, ...]  # indices into the `paragraphs` list
    max_share: float  # the largest share among them (< threshold)
    threshold: float  # the `below_share` they were folded under


def fold_paragraphs(
    paragraphs: Sequence[Segment],
    scores: Sequence[float],
    *,
    below_share: float = DEFAULT_FOLD_SHARE,
    part: str = "prompt",
) -> list[FoldRun]:
    """Runs of consecutive paragraphs of `part` whose |score| is below `below_share` of the
    largest paragraph's (0 folds nothing; 1 folds all but the top paragraph(s)).

    `paragraphs` are paragraph segments (`segment_sequence(seq, "paragraphs")`) and `scores`
    their `segment_scores`. Nothing is folded when no paragraph has any salience.
    """
    _check_scores(paragraphs, scores)
    try:
        threshold = float(below_share)
    except (TypeError, ValueError):
        threshold = math.nan
    if not 0.0 <= threshold <= 1.0:
        raise InputError(
            "The fold threshold must be a share of the largest paragraph's salience from 0 "
            f"to 1 (e.g. 0.1 for 10 %), not {str(below_share)[:20]!r}.",
            field="fold_share",
        )
    chosen = sorted(
        (k for k, p in enumerate(paragraphs) if in_part(p, part) and p.end > p.start),
        key=lambda k: paragraphs[k].start,
    )
    peak = max((_magnitude(scores[k]) for k in chosen), default=0.0)
    if peak <= 0.0 or threshold == 0.0:
        return []
    runs: list[FoldRun] = []
    current: list[int] = []

    def close() -> None:
        if current:
            runs.append(
                FoldRun(
                    start=paragraphs[current[0]].start,
                    end=paragraphs[current[-1]].end,
                    positions=tuple(current),
                    max_share=max(_magnitude(scores[k]) for k in current) / peak,
                    threshold=threshold,
                )
            )
            current.clear()

    for k in chosen:
        if _magnitude(scores[k]) / peak < threshold:
            current.append(k)
        else:
            close()
    close()
    return runs
