"""Scores -> colours -> escaped HTML. The app and the exported report share this code.

Every piece of text that reaches HTML goes through `lib.text_safety.safe_html` (escaped, with
invisible characters made visible). Colours come from colour-blind-safe palettes: sequential for
unsigned methods (Grad-L2), diverging for signed ones (Grad·Input).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lib.colours import (
    DEFAULT_SIGNED_PALETTE,
    DEFAULT_UNSIGNED_PALETTE,
    PALETTES,
    ColourScale,
    Palette,
    colour_scale,
    default_palette,
    format_score,
    get_palette,
    score_colour,
    score_fraction,
    score_rgb,
    text_colour,
)
from lib.errors import InputError
from lib.records import Alternative, Segment, TokenSequence
from lib.text_safety import escape_html, safe_html

# The colour names, for the modules that draw with them.
__all__ = ["DEFAULT_SIGNED_PALETTE", "DEFAULT_UNSIGNED_PALETTE", "PALETTES", "ColourScale",
           "Palette", "colour_scale", "default_palette", "format_score", "score_colour",
           "score_fraction", "score_rgb", "text_colour", "STYLE_CSS", "Paint", "Piece",
           "overlay_pieces", "paint", "render_legend_html", "render_segments_html",
           "render_target_html", "scale_excluding", "TARGET_CSS", "overlay_payload",
           "pieces_payload"]


def scale_excluding(segments: Sequence[Segment], values: Sequence[float] | None,
                    exclude: Collection[int], signed: bool) -> ColourScale:
    """The colour scale of `values` (one per segment) leaving out the segments in `exclude`
    (the selected target, whose own score would dwarf the prompt's)."""
    if values is None:
        return colour_scale([0.0], signed)
    shown = [v for s, v in zip(segments, values, strict=True) if s.index not in exclude]
    return colour_scale(shown or [0.0], signed)


STYLE_CSS = """
.salience-text { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.9;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9rem;
  color: inherit; }
.salience-text .seg { border-radius: 3px; padding: 1px 0; }
.salience-text .seg.selected { outline: 2px solid #d62728; outline-offset: 1px; }
.salience-text .seg.special { opacity: 0.7; font-style: italic; }
.salience-text sup.score { font-size: 0.65em; color: #555; margin: 0 2px; }
.invisible-char { border: 1px dashed #b00; border-radius: 2px; color: #b00; font-size: 0.75em;
  padding: 0 1px; background: #fff3f3; }
.salience-legend { font-family: sans-serif; font-size: 0.8rem; margin: 6px 0; }
.salience-legend .bar { height: 12px; border: 1px solid #999; border-radius: 2px; width: 260px; }
.salience-legend .ticks { display: flex; justify-content: space-between; width: 262px; }
.prompt-diff { white-space: pre-wrap; overflow-wrap: anywhere;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9rem; }
.prompt-diff ins { background: #d1e5f0; text-decoration: underline; }
.prompt-diff del { background: #fee0b6; text-decoration: line-through; }
""".strip()


def segment_display_text(seq: TokenSequence, seg: Segment) -> str:
    if seg.text:
        return seg.text
    # A zero-width segment shown on purpose (e.g. `<bos>` with include_special): its token text.
    return "".join(seq.tokens[i].text for i in seg.token_indices)


def part_range(seq: TokenSequence, part: str) -> tuple[int, int]:
    boundary = len(seq.input_text)
    if part == "prompt":
        return 0, boundary
    if part == "target":
        return boundary, len(seq.text)
    if part == "all":
        return 0, len(seq.text)
    raise InputError(
        f"Unknown part {str(part)[:20]!r}; use 'prompt', 'target' or 'all'.", field="part"
    )


def in_part(seg: Segment, part: str) -> bool:
    return part == "all" or seg.in_prompt == (part == "prompt")


def hidden_chars(seq: TokenSequence, segments: Sequence[Segment]) -> list[tuple[int, int]]:
    """Character spans of special tokens that no segment shows (hidden from display)."""
    shown = {i for seg in segments for i in seg.token_indices}
    return [
        (t.start, t.end)
        for t in seq.tokens
        if t.special and t.index not in shown and t.end > t.start
    ]


def visible_gap(text: str, start: int, end: int, hidden: Sequence[tuple[int, int]]) -> str:
    """text[start:end] minus hidden spans (raw text; escape it where it becomes HTML)."""
    out, pos = [], start
    for h_start, h_end in hidden:
        if h_end <= pos or h_start >= end:
            continue
        if h_start > pos:
            out.append(text[pos:h_start])
        pos = max(pos, h_end)
    if pos < end:
        out.append(text[pos:end])
    return "".join(out)


@dataclass(frozen=True)
class Piece:
    """One run of shown text: a segment (`k` its position in the segment list) or the plain
    text between segments (`k` is None)."""

    text: str
    k: int | None = None
    index: int = 0
    token_start: int = 0
    token_end: int = 0
    special: bool = False


def overlay_pieces(seq: TokenSequence, segments: Sequence[Segment], part: str = "all"
                   ) -> list[Piece]:
    """The shown text of `part` as segments and the gaps between them (spaces between words),
    in reading order; hidden special tokens are left out."""
    text = seq.text
    part_start, part_end = part_range(seq, part)
    hidden = sorted(hidden_chars(seq, segments))
    chosen = sorted((k for k, seg in enumerate(segments) if in_part(seg, part)),
                    key=lambda k: (segments[k].start, segments[k].end))
    out: list[Piece] = []
    pos = part_start
    for k in chosen:
        seg = segments[k]
        if seg.start > pos:
            out.append(Piece(visible_gap(text, pos, seg.start, hidden)))
        out.append(Piece(
            segment_display_text(seq, seg), k=k, index=seg.index,
            token_start=min(seg.token_indices) if seg.token_indices else 0,
            token_end=max(seg.token_indices) + 1 if seg.token_indices else 0,
            special=bool(seg.token_indices)
            and all(seq.tokens[i].special for i in seg.token_indices)))
        pos = max(pos, seg.end)
    if pos < part_end:
        out.append(Piece(visible_gap(text, pos, part_end, hidden)))
    return out


@dataclass(frozen=True)
class Paint:
    """How one scored segment looks: `salience` (exact, repr), `label` (3 digits), colours."""

    salience: str
    label: str
    background: str
    colour: str


def paint(value: float, scale: ColourScale, palette: str, intensity: float = 1.0) -> Paint:
    bg = score_colour(value, scale, palette, intensity)
    return Paint(repr(float(value)), format_score(value), bg, text_colour(bg))


def render_segments_html(
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
    include_style: bool = True,
) -> str:
    """One `<div class="salience-text">` with a `<span class="seg">` per segment of `part`.

    `scores[k]` belongs to `segments[k]` (e.g. from `segment_scores`); with `scores=None` the
    segments are drawn without colour or `data-salience`. Text between segments (spaces
    between words) is plain; hidden special tokens are left out.
    """
    from lib.render_reading import render_document_overlay_html  # one overlay renderer

    return render_document_overlay_html(
        seq, segments, scores, scale, palette=palette, intensity=intensity,
        show_numbers=show_numbers, selected=selected, part=part, include_style=include_style)


def _looks(segments: Sequence[Segment], values: Sequence[float], selected: Collection[int],
           signed: bool, palette: str, intensity: float) -> list[list[str]]:
    """[salience, label, background, colour] per segment, on the scale without `selected`."""
    scale = scale_excluding(segments, values, selected, signed)
    return [list(vars(paint(float(v), scale, palette, intensity)).values()) for v in values]


def pieces_payload(seq: TokenSequence, segments: Sequence[Segment]
                   ) -> tuple[list[list[Any]], list[int]]:
    """The whole text's overlay pieces as plain JSON, [text] or [text, segment index, token
    start, token end, special], and the positions in `segments` of its segment pieces."""
    shown = overlay_pieces(seq, segments, "all")
    return ([[p.text] if p.k is None else [p.text, p.index, p.token_start, p.token_end, p.special]
             for p in shown], [p.k for p in shown if p.k is not None])


def overlay_payload(seq: TokenSequence, segments: Sequence[Segment],
                    views: Mapping[int, Sequence[float]], current: Sequence[float] | None,
                    selected: Collection[int], *, signed: bool, palette: str,
                    intensity: float = 1.0, show_numbers: bool = False) -> dict[str, Any]:
    """What the browser needs to draw the prompt overlay for any computed single segment at once:
    the text `pieces` (as `render_segments_html` shows them), and for each output segment index
    in `views` (its per-segment scores) and for the `current` selection the look of every
    segment. Plain JSON values; the browser puts text in with textContent only."""
    get_palette(palette)
    pieces, order = pieces_payload(seq, segments)

    def looks(values: Sequence[float], sel: Collection[int]) -> list[list[str]]:
        every = _looks(segments, values, sel, signed, palette, intensity)
        return [every[k] for k in order]

    return {"pieces": pieces, "numbers": bool(show_numbers),
            "views": {str(i): looks(v, [i]) for i, v in views.items()},
            "current": None if current is None else looks(current, selected)}


def render_legend_html(scale: ColourScale, palette: str, method_label: str) -> str:
    """A colour bar from the lowest to the highest score of the scale, with its ends labelled."""
    low = -scale.vmax if scale.signed else 0.0
    stops = [low + (scale.vmax - low) * i / 10 for i in range(11)]
    gradient = ", ".join(score_colour(v, scale, palette) for v in stops)
    ticks = [low, 0.0, scale.vmax] if scale.signed else [0.0, scale.vmax]
    tick_html = "".join(f"<span>{escape_html(format_score(t))}</span>" for t in ticks)
    note = (
        "signed: one colour pushes towards the target, the other away"
        if scale.signed
        else "unsigned: darker = more influence, either way"
    )
    return (
        f'<div class="salience-legend" data-vmax="{escape_html(repr(float(scale.vmax)))}">'
        f"<div><strong>{safe_html(method_label)}</strong> "
        f'<span class="note">({escape_html(note)})</span></div>'
        f'<div class="bar" style="background: linear-gradient(to right, {gradient})"></div>'
        f'<div class="ticks">{tick_html}</div></div>'
    )


TARGET_CSS = """<style>
.target-box { border-left: 4px solid #c77700; padding: .35rem .7rem; margin: .2rem 0 .4rem;
  background: rgba(255,190,0,.10); line-height: 1.7; }
.target-box .target-text { white-space: pre-wrap; background: rgba(255,190,0,.35);
  border-radius: 3px; padding: 0 .2rem; }
.target-box .alt { display: inline-block; margin: 0 .5rem .1rem 0; white-space: nowrap; }
.target-box code { white-space: pre; background: #fff; border: 1px solid #ccd;
  border-radius: 3px; padding: 0 .25rem; }
</style>"""


def render_target_html(text: str, probs: Sequence[float],
                       alternatives: Sequence[Alternative], typed: bool) -> str:
    """The selected target, its probability (`probs`: its generated tokens' probabilities) and
    what else the model considered at its first token (`alternatives`), escaped."""
    parts = [f'<div class="target-box"><b>Selected target</b> '
             f'<span class="target-text">{safe_html(text)}</span>']
    if probs:
        p = math.prod(probs)
        n = len(probs)
        parts.append(f"<div>Probability of this text given everything before it: "
                     f"<b>{p:.3g}</b> ({n} token{'s' if n != 1 else ''}; "
                     f"first token {probs[0]:.1%})</div>")
        if alternatives:
            chips = "".join(
                f'<span class="alt"><code>{safe_html(a.text)}</code> {a.prob:.1%}</span>'
                for a in alternatives)
            parts.append(f"<div>At its first token the model's top choices were: {chips}"
                         "</div>")
    elif typed:
        parts.append("<div>This target was typed, not generated, so there are no "
                     "generation probabilities for it.</div>")
    parts.append("</div>")
    return TARGET_CSS + "".join(parts)
