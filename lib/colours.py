"""Scores -> colours: the colour-blind-safe palettes, the colour scale, text contrast.

Sequential palettes for unsigned methods (Grad-L2), diverging ones for signed ones (Grad·Input).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lib.errors import InputError

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


def get_palette(palette: str) -> Palette:
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
    pal = get_palette(palette)
    f = score_fraction(value, scale, intensity)
    if f < 0 and pal.diverging:
        return _interpolate(pal.negative, -f)
    return _interpolate(pal.positive, abs(f))


def score_colour(value: float, scale: ColourScale, palette: str, intensity: float = 1.0) -> str:
    """Background colour `#rrggbb` for a score."""
    r, g, b = score_rgb(value, scale, palette, intensity)
    return f"#{r:02x}{g:02x}{b:02x}"


def score_colour_codes(values: Sequence[Sequence[float]], vmax: Sequence[float], signed: bool,
                       palette: str, intensity: float = 1.0) -> Any:
    """`score_colour` of many scores at once, as 0xRRGGBB integers (a numpy array shaped like
    `values`): `values` rows x columns, each row on the scale `ColourScale(vmax[row], signed)`.
    The same arithmetic as `score_fraction` and `_interpolate`, in the same order, so the same
    colours (numpy's rint rounds half to even, as `round` does)."""
    import numpy as np

    pal = get_palette(palette)
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        f = v / np.asarray(vmax, dtype=np.float64).reshape(-1, 1) * max(float(intensity), 0.0)
    f = np.where(np.isfinite(v) & ~np.isnan(f), f, 0.0)
    if not signed:
        f = np.abs(f)
    f = np.clip(f, -1.0, 1.0)

    def ramp(stops: Sequence[RGB], t: Any) -> Any:
        s = np.asarray(stops, dtype=np.float64)
        pos = np.clip(t, 0.0, 1.0) * (len(stops) - 1)
        i = np.minimum(pos.astype(np.int64), len(stops) - 2)
        frac = (pos - i)[..., None]
        return np.rint(s[i] + (s[i + 1] - s[i]) * frac).astype(np.int64)

    rgb = ramp(pal.positive, np.abs(f))
    if pal.diverging:
        rgb = np.where((f < 0)[..., None], ramp(pal.negative, -f), rgb)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _luminance(rgb: RGB) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@lru_cache(maxsize=4096)
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
