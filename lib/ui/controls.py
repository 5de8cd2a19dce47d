"""The view controls of both pages: granularity (+ pattern), method, palette, intensity, numbers,
and Compare's shared scale, read into one `ViewControls`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from lib.ui import common


@dataclass(frozen=True)
class ViewControls:
    granularity: str
    pattern: str | None
    method: str
    method_label: str
    signed: bool
    palette: str
    intensity: float
    show_numbers: bool | None = None  # None: the page has no such control (Compare)
    shared_scale: bool | None = None  # None: the page has one column (Debug)

    def ui_record(self, selection: Any) -> dict[str, Any]:
        """The `ui` part of a saved run (the names saved runs have always used)."""
        out: dict[str, Any] = {"granularity": self.granularity, "pattern": self.pattern or "",
                               "method": self.method}
        if self.shared_scale is not None:
            out["shared_scale"] = self.shared_scale
        out.update(intensity=self.intensity, palette=self.palette)
        if self.show_numbers is not None:
            out["show_numbers"] = self.show_numbers
        out["selection"] = list(selection) if selection is not None else None
        return out


def palette_key(prefix: str, signed: bool) -> str:
    """Debug keeps one palette per kind of method (signed ones need a diverging palette)."""
    if prefix == "dbg":
        return "dbg_palette_s" if signed else "dbg_palette_u"
    return f"{prefix}_palette"


def view_controls(prefix: str, on_change: Callable[[], None], *, default_g: str,
                  numbers: bool, shared: bool) -> ViewControls:
    """Draw the controls (keys `<prefix>_g`, `_pattern`, `_m`, palette, `_intensity`,
    `_numbers`, `_shared`) and return their values. `on_change` marks the reviewer's own rerun
    for the URL owner."""
    from lib.render import PALETTES, default_palette

    meths = common.methods()
    grans = common.granularities()
    labels = common.granularity_labels()
    st.session_state.setdefault(f"{prefix}_g", default_g)
    st.session_state.setdefault(f"{prefix}_m", "grad_l2")
    if shared:  # Compare: one row across the page
        c1, c2, c3, c4, c5 = st.columns([1.2, 1.4, 1.4, 1.2, 1.4])
    else:  # Debug: two rows in the result column
        c1, c2, c4 = st.columns([1.2, 1.2, 1])
        c3, c5 = st.columns([1.2, 2])
    g = c1.selectbox("Segments", list(grans), key=f"{prefix}_g", on_change=on_change,
                     index=common.held_index(f"{prefix}_g", grans),
                     format_func=lambda x: labels.get(x, x))
    pattern = None
    if common.needs_pattern(g):
        st.session_state.setdefault(f"{prefix}_pattern", r"\S+")
        pattern = c1.text_input("Pattern (each match is a segment)", key=f"{prefix}_pattern",
                                value=common.held(f"{prefix}_pattern", r"\S+"))
    method = c2.radio("Method", list(meths), key=f"{prefix}_m", horizontal=True,
                      on_change=on_change, index=common.held_index(f"{prefix}_m", meths),
                      format_func=lambda x: meths[x][0])
    signed = meths[method][1]
    names = [n for n, p in PALETTES.items() if p.diverging == signed] or list(PALETTES)
    pal_key = palette_key(prefix, signed)
    if st.session_state.get(pal_key) not in names:
        st.session_state[pal_key] = (default_palette(signed)
                                     if default_palette(signed) in names else names[0])
    palette = c3.selectbox("Palette (colour-blind safe)", names, key=pal_key,
                           index=common.held_index(pal_key, names),
                           format_func=lambda n: PALETTES[n].label)
    # The session's value as the default, never the slider's minimum (common.held).
    intensity = c4.slider("Intensity", 0.2, 3.0,
                          value=float(common.held(f"{prefix}_intensity", 1.0)), step=0.1,
                          key=f"{prefix}_intensity")
    show_numbers: bool | None = None
    shared_scale: bool | None = None
    if numbers:
        show_numbers = c5.toggle("Show numbers", key=f"{prefix}_numbers",
                                 value=bool(common.held(f"{prefix}_numbers", False)))
    if shared:
        st.session_state.setdefault(f"{prefix}_shared", True)
        shared_scale = c5.toggle(
            "One shared colour scale", key=f"{prefix}_shared",
            value=bool(common.held(f"{prefix}_shared", True)),
            help="On: the same colour means the same score in every column. Off: each column "
                 "is scaled to its own largest score.")
    return ViewControls(granularity=g, pattern=pattern, method=method,
                        method_label=meths[method][0], signed=signed, palette=palette,
                        intensity=float(intensity), show_numbers=show_numbers,
                        shared_scale=shared_scale)
