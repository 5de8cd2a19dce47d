"""HTML for reading a long overlay: jump list, density strip, folded paragraphs, anchors.

No scripts anywhere: every jump is a plain `<a href="#...">` to an element id, and folding is a
`<details>` element, so the same HTML works in the app (`st.html`) and in the exported report,
whose Content-Security-Policy allows no scripts. Chromium opens a closed `<details>` when a
jump targets something inside it.

Anchors: the overlay gives each shown segment `id="<prefix>seg-<Segment.index>"` (see
`anchor_ids`); the jump list and the strip link to those ids. Pages that show several overlays
(compare) give each its own prefix so ids stay unique.

All text goes through `lib.text_safety` (escaped, invisible characters shown as markers).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from lib.colours import get_palette
from lib.reading import (
    DEFAULT_BINS,
    DEFAULT_TOP_N,
    DensityStrip,
    FoldRun,
    RankedSegment,
    density_strip,
    fold_paragraphs,
    rank_segments,
)
from lib.records import Segment, TokenSequence
from lib.render import (
    STYLE_CSS,
    ColourScale,
    colour_scale,
    format_score,
    hidden_chars,
    in_part,
    part_range,
    score_colour,
    segment_display_text,
    text_colour,
    visible_gap,
)
from lib.report import render_report_html
from lib.segments import segment_scores, segment_sequence
from lib.text_safety import escape_html, safe_html

READING_CSS = """
.reading-view { display: grid; grid-template-columns: 16px minmax(0, 1fr); gap: 10px;
  align-items: start; }
.density-strip { position: sticky; top: 4rem; display: flex; flex-direction: column;
  height: 70vh; width: 14px; border: 1px solid #999; border-radius: 3px; overflow: hidden;
  background: #fff; }
.density-strip .bin { flex: 1 1 0; display: block; min-height: 1px; }
.density-strip a.bin:hover, .density-strip a.bin:focus { outline: 2px solid #d62728;
  outline-offset: -2px; }
.jump-list { font-family: system-ui, sans-serif; font-size: 0.85rem; margin: 0.3rem 0 0.8rem;
  padding-left: 2.2rem; }
.jump-list li { margin: 1px 0; }
.jump-list a { color: inherit; text-decoration: none; }
.jump-list a:hover .snippet, .jump-list a:focus .snippet { text-decoration: underline; }
.jump-list .share { display: inline-block; min-width: 3.4em; text-align: right;
  font-variant-numeric: tabular-nums; margin-right: 0.4em; }
.jump-list .swatch { display: inline-block; width: 0.8em; height: 0.8em; border: 1px solid #999;
  border-radius: 2px; vertical-align: middle; margin-right: 0.4em; }
.jump-list .snippet { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.reading-caption { font-family: system-ui, sans-serif; font-size: 0.8rem; color: #555; }
details.fold { border-left: 3px solid #bbb; padding-left: 0.4rem; margin: 0.1rem 0; }
details.fold > summary { cursor: pointer; font-family: system-ui, sans-serif;
  font-size: 0.8rem; color: #555; white-space: normal; }
.salience-text .seg:target { outline: 2px solid #d62728; outline-offset: 1px; }
.salience-text .seg[id] { scroll-margin-top: 5rem; }
""".strip()

_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]*-?|")
SNIPPET_CHARS = 100


def anchor_id(segment_index: int, prefix: str = "") -> str:
    """The element id of a segment in the overlay: `<prefix>seg-<index>`."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"Anchor prefix {prefix!r} must be letters, digits, - or _.")
    return f"{prefix}seg-{int(segment_index)}"


def anchor_ids(segments: Sequence[Segment], prefix: str = "") -> dict[int, str]:
    """`Segment.index` -> element id for every segment (the overlay's `anchor_ids` argument)."""
    return {seg.index: anchor_id(seg.index, prefix) for seg in segments}


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %" if share >= 0.01 or share == 0 else "<1 %"


def render_document_overlay_html(
    seq: TokenSequence,
    segments: Sequence[Segment],
    scores: Sequence[float] | None,
    scale: ColourScale | None,
    *,
    palette: str,
    intensity: float = 1.0,
    show_numbers: bool = False,
    selected: Collection[int] = (),
    part: str = "prompt",
    anchor_ids: Mapping[int, str] | None = None,
    folds: Sequence[FoldRun] = (),
    include_style: bool = True,
) -> str:
    """`lib.render.render_segments_html` plus two hooks for long documents.

    `anchor_ids` maps `Segment.index` to an element id put on that segment's span (jump
    targets); `folds` (from `lib.reading.fold_paragraphs`) wrap the segments that start inside
    each run in a closed `<details>`. With neither, the output is exactly
    `render_segments_html`'s.
    """
    if scores is not None and len(scores) != len(segments):
        raise ValueError(f"{len(scores)} scores for {len(segments)} segments.")
    if scores is not None and scale is None:
        scale = colour_scale(scores, signed=False)
    if scores is not None:
        get_palette(palette)
    ids = dict(anchor_ids or {})
    selected_set = {int(i) for i in selected}
    text = seq.text
    part_start, part_end = part_range(seq, part)
    hidden = sorted(hidden_chars(seq, segments))
    chosen = sorted(
        (k for k, seg in enumerate(segments) if in_part(seg, part)),
        key=lambda k: (segments[k].start, segments[k].end),
    )
    runs = sorted(folds, key=lambda r: r.start)

    out: list[str] = []
    if include_style:
        out.append(f"<style>{STYLE_CSS}\n{READING_CSS}</style>")
    out.append(f'<div class="salience-text" data-part="{escape_html(part)}">')
    pos = part_start
    fold_at = 0  # next run to open
    open_run: FoldRun | None = None

    def close_run() -> None:
        nonlocal pos, open_run
        assert open_run is not None
        if open_run.end > pos:
            out.append(safe_html(visible_gap(text, pos, open_run.end, hidden)))
            pos = open_run.end
        out.append("</details>")
        open_run = None

    for k in chosen:
        seg = segments[k]
        if open_run is not None and seg.start >= open_run.end:
            close_run()
        while fold_at < len(runs) and runs[fold_at].end <= seg.start:
            fold_at += 1  # a run with no segment starting in it (cannot happen for paragraphs)
        if (open_run is None and fold_at < len(runs)
                and runs[fold_at].start <= seg.start < runs[fold_at].end):
            run = runs[fold_at]
            fold_at += 1
            if run.start > pos:
                out.append(safe_html(visible_gap(text, pos, run.start, hidden)))
                pos = run.start
            n = len(run.positions)
            label = (
                f"{n} paragraph{'s' if n != 1 else ''} folded: each under "
                f"{_percent(run.threshold)} of the top paragraph's salience (at most "
                f"{_percent(run.max_share)}). Open to read."
            )
            out.append(
                f'<details class="fold" data-fold-start="{run.start}" data-fold-end="{run.end}">'
                f"<summary>{escape_html(label)}</summary>"
            )
            open_run = run
        if seg.start > pos:
            out.append(safe_html(visible_gap(text, pos, seg.start, hidden)))
        classes = ["seg"]
        if seg.index in selected_set:
            classes.append("selected")
        if seg.token_indices and all(seq.tokens[i].special for i in seg.token_indices):
            classes.append("special")
        tok_start = min(seg.token_indices) if seg.token_indices else 0
        tok_end = max(seg.token_indices) + 1 if seg.token_indices else 0
        attrs = [f'id="{escape_html(ids[seg.index])}"'] if seg.index in ids else []
        attrs += [
            f'class="{" ".join(classes)}"',
            f'data-segment-index="{seg.index}"',
            f'data-token-start="{tok_start}"',
            f'data-token-end="{tok_end}"',
        ]
        number = ""
        if scores is not None:
            assert scale is not None
            value = float(scores[k])
            bg = score_colour(value, scale, palette, intensity)
            attrs.append(f'data-salience="{escape_html(repr(value))}"')
            attrs.append(f'title="{escape_html(format_score(value))}"')
            attrs.append(f'style="background-color:{bg};color:{text_colour(bg)}"')
            if show_numbers:
                number = f'<sup class="score">{escape_html(format_score(value))}</sup>'
        out.append(
            f"<span {' '.join(attrs)}>{safe_html(segment_display_text(seq, seg))}</span>{number}"
        )
        pos = max(pos, seg.end)
    if open_run is not None:
        close_run()
    if pos < part_end:
        out.append(safe_html(visible_gap(text, pos, part_end, hidden)))
    out.append("</div>")
    return "".join(out)


def render_jump_list_html(
    seq: TokenSequence,
    ranked: Sequence[RankedSegment],
    scale: ColourScale,
    *,
    palette: str,
    prefix: str = "",
) -> str:
    """An ordered list of the top segments, each a link to its place in the overlay."""
    if not ranked:
        return (
            '<p class="reading-caption jump-list-empty">No segment of the prompt carries any '
            "salience for this target.</p>"
        )
    items = []
    for r in ranked:
        bg = score_colour(r.score, scale, palette)
        tip = (
            f"Rank {r.rank}: score {format_score(r.score)}, {_percent(r.share)} of the top "
            f"segment, {_percent(r.share_of_total)} of all; characters {r.start + 1}–{r.end}"
        )
        items.append(
            f'<li data-segment-index="{r.segment_index}" data-share="{r.share:.4f}">'
            f'<a href="#{escape_html(anchor_id(r.segment_index, prefix))}" '
            f'title="{escape_html(tip)}">'
            f'<span class="share">{escape_html(_percent(r.share))}</span>'
            f'<span class="swatch" style="background-color:{bg}"></span>'
            f'<span class="snippet">{safe_html(_snippet(seq.text[r.start:r.end]))}</span>'
            "</a></li>"
        )
    return (
        f'<div class="reading-caption">Top {len(ranked)} segments (share of the top one); '
        "click to jump to it in the document.</div>"
        f'<ol class="jump-list">{"".join(items)}</ol>'
    )


def render_density_strip_html(strip: DensityStrip, *, palette: str, prefix: str = "") -> str:
    """A vertical strip, top = start of the text: one cell per bin, darker = more salience;
    a cell with a segment to go to is a link to it."""
    unit = ColourScale(vmax=1.0, signed=False)
    cells = []
    span = max(strip.end - strip.start, 1)
    for b in strip.bins:
        bg = score_colour(b.value, unit, palette)
        tip = (
            f"{(b.start - strip.start) * 100 // span}–{(b.end - strip.start) * 100 // span} % "
            f"of the text: {_percent(b.value)} of the densest part"
        )
        common = f'style="background-color:{bg}" title="{escape_html(tip)}"'
        if b.segment_index is None:
            cells.append(f'<span class="bin" {common}></span>')
        else:
            href = escape_html(anchor_id(b.segment_index, prefix))
            cells.append(
                f'<a class="bin" href="#{href}" {common} aria-label="{escape_html(tip)}"></a>'
            )
    return (
        '<nav class="density-strip" aria-label="Where salience sits in the text '
        '(top = start); click to jump">' + "".join(cells) + "</nav>"
    )


def render_reading_view_html(
    seq: TokenSequence,
    segments: Sequence[Segment],
    scores: Sequence[float] | None,
    scale: ColourScale | None,
    token_scores: Sequence[float] | None,
    *,
    palette: str,
    intensity: float = 1.0,
    show_numbers: bool = False,
    selected: Collection[int] = (),
    part: str = "prompt",
    top_n: int = DEFAULT_TOP_N,
    bins: int = DEFAULT_BINS,
    fold_share: float | None = None,
    prefix: str = "",
    include_style: bool = True,
) -> str:
    """Jump list, then the density strip beside the overlay (folded below `fold_share` of the
    top paragraph when given). `scores` are the segments' scores, `token_scores` the tokens'
    (`Salience.scores`); with no scores, only the plain overlay is drawn."""
    if scores is None or token_scores is None:
        overlay = render_document_overlay_html(
            seq, segments, None, None, palette=palette, selected=selected, part=part,
            anchor_ids=None, include_style=include_style,
        )
        return overlay
    if scale is None:
        scale = colour_scale(scores, signed=False)
    ranked = rank_segments(segments, scores, top_n=top_n, part="prompt", exclude=tuple(selected))
    strip = density_strip(
        seq, token_scores, bins=bins, part="prompt", segments=segments, segment_scores=scores
    )
    folds: list[FoldRun] = []
    if fold_share is not None:
        paragraphs = segment_sequence(seq, "paragraphs")
        folds = fold_paragraphs(
            paragraphs, segment_scores(paragraphs, token_scores), below_share=fold_share
        )
    overlay = render_document_overlay_html(
        seq, segments, scores, scale, palette=palette, intensity=intensity,
        show_numbers=show_numbers, selected=selected, part=part,
        anchor_ids=anchor_ids(segments, prefix), folds=folds, include_style=False,
    )
    style = f"<style>{STYLE_CSS}\n{READING_CSS}</style>" if include_style else ""
    return (
        f'{style}<div class="reading" data-prefix="{escape_html(prefix)}">'
        f"{render_jump_list_html(seq, ranked, scale, palette=palette, prefix=prefix)}"
        f'<div class="reading-view">'
        f"{render_density_strip_html(strip, palette=palette, prefix=prefix)}"
        f"<div>{overlay}</div></div></div>"
    )


_PROMPT_OPEN = '<h2>Prompt</h2><div class="box">'
_PROMPT_CLOSE = '</div><h2>Output</h2>'
_STYLE_CLOSE = "</style></head>"


def render_document_report_html(
    *,
    token_scores: Sequence[float] | None,
    top_n: int = DEFAULT_TOP_N,
    bins: int = DEFAULT_BINS,
    fold_share: float | None = None,
    **report: object,
) -> str:
    """`lib.render.render_report_html` (same keyword arguments) with the prompt shown as a
    reading view: jump list, density strip and anchors, all plain links (the report's CSP
    allows no scripts). Untrusted text is escaped, so the markers used to place the view can
    only come from the report's own markup."""
    page = render_report_html(**report)  # type: ignore[arg-type]
    scores = report.get("scores")
    if scores is None or token_scores is None:
        return page
    seq = report["seq"]
    segments = report["segments"]
    scale = report.get("scale") or colour_scale(scores, signed=False)  # type: ignore[arg-type]
    view = render_reading_view_html(
        seq, segments, scores, scale, token_scores,  # type: ignore[arg-type]
        palette=report["palette"],  # type: ignore[arg-type]
        intensity=float(report.get("intensity", 1.0)),  # type: ignore[arg-type]
        show_numbers=bool(report.get("show_numbers", False)),
        selected=report.get("selected", ()),  # type: ignore[arg-type]
        part="prompt", top_n=top_n, bins=bins, fold_share=fold_share, include_style=False,
    )
    for marker in (_PROMPT_OPEN, _PROMPT_CLOSE, _STYLE_CLOSE):
        if page.count(marker) != 1:
            raise RuntimeError(f"The report's layout changed: {marker!r} is not unique.")
    head, rest = page.split(_PROMPT_OPEN)
    _, tail = rest.split(_PROMPT_CLOSE)
    head = head.replace(_STYLE_CLOSE, f"\n{READING_CSS}{_STYLE_CLOSE}")
    return f"{head}{_PROMPT_OPEN}{view}{_PROMPT_CLOSE}{tail}"


def reading_summary(ranked: Sequence[RankedSegment], seq: TokenSequence) -> list[dict[str, object]]:
    """The jump list as plain data (for the JSON export): rank, offsets, score, shares and the
    segment's exact text (JSON, not HTML: whoever shows it must escape it)."""
    return [
        {
            "rank": r.rank, "segment_index": r.segment_index, "start": r.start, "end": r.end,
            "score": r.score, "share": r.share, "share_of_total": r.share_of_total,
            "text": seq.text[r.start:r.end],
        }
        for r in ranked
    ]
