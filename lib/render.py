"""Scores -> colours -> escaped HTML. The app and the exported report share this code.

Every piece of text that reaches HTML goes through `lib.text_safety.safe_html` (escaped, with
invisible characters made visible). Colours come from colour-blind-safe palettes: sequential for
unsigned methods (Grad-L2), diverging for signed ones (Grad·Input).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from lib.errors import InputError
from lib.records import Segment, TokenSequence
from lib.text_safety import escape_html, safe_html

RGB = tuple[int, int, int]
_WHITE: RGB = (255, 255, 255)


@dataclass(frozen=True)
class ColourScale:
    """Scores map to colours relative to `vmax` (> 0); `signed` scales run -vmax..vmax."""

    vmax: float
    signed: bool


@dataclass(frozen=True)
class Palette:
    """A colour ramp. `positive` runs from the colour of 0 to the colour of +vmax;
    diverging palettes also have `negative` (0 to -vmax). Both start at white."""

    id: str
    label: str
    diverging: bool
    positive: tuple[RGB, ...]
    negative: tuple[RGB, ...] = ()


def _hex(value: str) -> RGB:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def _ramp(*colours: str) -> tuple[RGB, ...]:
    return tuple(_hex(c) for c in colours)


# ColorBrewer / Crameri ramps chosen because they stay distinguishable with the common forms of
# colour blindness; each starts at white so a zero score leaves the text unmarked.
PALETTES: dict[str, Palette] = {
    "blues": Palette(
        "blues", "Blues (sequential)", False,
        _ramp("#ffffff", "#deebf7", "#9ecae1", "#4292c6", "#08519c", "#08306b"),
    ),
    "cividis": Palette(
        "cividis", "Cividis-like (sequential)", False,
        _ramp("#ffffff", "#fdea9b", "#c9b66d", "#8b8a7a", "#4b5b7d", "#00204d"),
    ),
    "oranges": Palette(
        "oranges", "Oranges (sequential)", False,
        _ramp("#ffffff", "#fee6ce", "#fdae6b", "#f16913", "#d94801", "#7f2704"),
    ),
    "puor": Palette(
        "puor", "Purple-orange (diverging)", True,
        positive=_ramp("#ffffff", "#d8daeb", "#b2abd2", "#8073ac", "#542788", "#2d004b"),
        negative=_ramp("#ffffff", "#fee0b6", "#fdb863", "#e08214", "#b35806", "#7f3b08"),
    ),
    "blue_orange": Palette(
        "blue_orange", "Blue-orange (diverging)", True,
        positive=_ramp("#ffffff", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac", "#053061"),
        negative=_ramp("#ffffff", "#fee0b6", "#fdb863", "#e08214", "#b35806", "#7f3b08"),
    ),
}
DEFAULT_UNSIGNED_PALETTE = "blues"
DEFAULT_SIGNED_PALETTE = "puor"


def default_palette(signed: bool) -> str:
    return DEFAULT_SIGNED_PALETTE if signed else DEFAULT_UNSIGNED_PALETTE


def _get_palette(palette: str) -> Palette:
    found = PALETTES.get(palette)
    if found is None:
        raise InputError(
            f"Unknown colour palette {str(palette)[:40]!r}. Choose one of: {', '.join(PALETTES)}.",
            field="palette",
        )
    return found


def colour_scale(values: Iterable[float], signed: bool) -> ColourScale:
    """A scale whose `vmax` is the largest |value| (finite values only; 1.0 if all are 0)."""
    vmax = 0.0
    for v in values:
        v = float(v)
        if math.isfinite(v):
            vmax = max(vmax, abs(v))
    return ColourScale(vmax=vmax if vmax > 0 else 1.0, signed=bool(signed))


def _interpolate(stops: Sequence[RGB], t: float) -> RGB:
    t = min(max(t, 0.0), 1.0)
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    frac = pos - i
    a, b = stops[i], stops[i + 1]
    return tuple(round(a[k] + (b[k] - a[k]) * frac) for k in range(3))  # type: ignore[return-value]


def score_fraction(value: float, scale: ColourScale, intensity: float = 1.0) -> float:
    """The value as a fraction of the scale in [-1, 1] (in [0, 1] for unsigned scales)."""
    v = float(value)
    if not math.isfinite(v):
        return 0.0
    f = v / scale.vmax * max(float(intensity), 0.0)
    if not scale.signed:
        f = abs(f)
    return min(max(f, -1.0), 1.0)


def score_rgb(value: float, scale: ColourScale, palette: str, intensity: float = 1.0) -> RGB:
    pal = _get_palette(palette)
    f = score_fraction(value, scale, intensity)
    if f < 0 and pal.diverging:
        return _interpolate(pal.negative, -f)
    return _interpolate(pal.positive, abs(f))


def score_colour(value: float, scale: ColourScale, palette: str, intensity: float = 1.0) -> str:
    """Background colour `#rrggbb` for a score."""
    r, g, b = score_rgb(value, scale, palette, intensity)
    return f"#{r:02x}{g:02x}{b:02x}"


def _luminance(rgb: RGB) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_colour(background: str) -> str:
    """Black or white, whichever contrasts more with `background` (WCAG luminance)."""
    lum = _luminance(_hex(background))
    # Contrast with black is (L + .05)/.05, with white 1.05/(L + .05); equal at L ≈ 0.179.
    return "#000000" if lum > 0.179 else "#ffffff"


def format_score(value: float) -> str:
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.3g}"


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


def _segment_display_text(seq: TokenSequence, seg: Segment) -> str:
    if seg.text:
        return seg.text
    # A zero-width segment shown on purpose (e.g. `<bos>` with include_special): its token text.
    return "".join(seq.tokens[i].text for i in seg.token_indices)


def _part_range(seq: TokenSequence, part: str) -> tuple[int, int]:
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


def _in_part(seg: Segment, part: str) -> bool:
    return part == "all" or seg.in_prompt == (part == "prompt")


def _hidden_chars(seq: TokenSequence, segments: Sequence[Segment]) -> list[tuple[int, int]]:
    """Character spans of special tokens that no segment shows (hidden from display)."""
    shown = {i for seg in segments for i in seg.token_indices}
    return [
        (t.start, t.end)
        for t in seq.tokens
        if t.special and t.index not in shown and t.end > t.start
    ]


def _plain_gap(text: str, start: int, end: int, hidden: Sequence[tuple[int, int]]) -> str:
    """Escaped text[start:end] minus hidden spans."""
    out, pos = [], start
    for h_start, h_end in hidden:
        if h_end <= pos or h_start >= end:
            continue
        if h_start > pos:
            out.append(safe_html(text[pos:h_start]))
        pos = max(pos, h_end)
    if pos < end:
        out.append(safe_html(text[pos:end]))
    return "".join(out)


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
    if scores is not None and len(scores) != len(segments):
        raise ValueError(f"{len(scores)} scores for {len(segments)} segments.")
    if scores is not None and scale is None:
        scale = colour_scale(scores, signed=False)
    if scores is not None:
        _get_palette(palette)
    selected_set = {int(i) for i in selected}
    text = seq.text
    part_start, part_end = _part_range(seq, part)
    hidden = sorted(_hidden_chars(seq, segments))
    chosen = sorted(
        (k for k, seg in enumerate(segments) if _in_part(seg, part)),
        key=lambda k: (segments[k].start, segments[k].end),
    )

    html_parts: list[str] = []
    if include_style:
        html_parts.append(f"<style>{STYLE_CSS}</style>")
    html_parts.append(f'<div class="salience-text" data-part="{escape_html(part)}">')
    pos = part_start
    for k in chosen:
        seg = segments[k]
        if seg.start > pos:
            html_parts.append(_plain_gap(text, pos, seg.start, hidden))
        classes = ["seg"]
        if seg.index in selected_set:
            classes.append("selected")
        if seg.token_indices and all(seq.tokens[i].special for i in seg.token_indices):
            classes.append("special")
        tok_start = min(seg.token_indices) if seg.token_indices else 0
        tok_end = max(seg.token_indices) + 1 if seg.token_indices else 0
        attrs = [
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
        html_parts.append(
            f"<span {' '.join(attrs)}>{safe_html(_segment_display_text(seq, seg))}</span>{number}"
        )
        pos = max(pos, seg.end)
    if pos < part_end:
        html_parts.append(_plain_gap(text, pos, part_end, hidden))
    html_parts.append("</div>")
    return "".join(html_parts)


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
