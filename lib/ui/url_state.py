"""The one owner of a page's URL: adopt `g`, `m`, `sel`, `run` (and Debug's `foil`) from it,
write them back once.

A page makes one `UrlState(prefix, parse, format)`. At the top of every run `adopt(...)` takes
the URL's view into `<prefix>_g/_m/_sel` session state when the URL changed outside the page
(first load, a pasted link, back/forward); after the page has settled its selection, `write(...)`
puts the state into the address bar, once per run.

The browser's URL can lag the session: a rerun may arrive carrying the address from before the
reviewer's last click (the click's own rerun, or a rerun the app starts itself, such as the one
when the model finishes loading, which reuses the query string of the fragment that started it).
Such a rerun is marked with `hold()` (widget callbacks pass it as `on_change`; the sidebar calls
`hold_all()` before its rerun) and then keeps the session's state and rewrites the URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from lib.errors import InputError

KEYS = ("g", "m", "sel", "run", "foil")
_HOLD_ALL = "url_hold_all"


def hold_all() -> None:
    """The next rerun is the app's own: every page keeps its state over the URL it carries."""
    st.session_state[_HOLD_ALL] = True


class UrlState:
    """URL <-> session state of one page (`prefix` 'dbg' or 'cmp')."""

    def __init__(self, prefix: str, parse_sel: Callable[[str | None], Any],
                 format_sel: Callable[[Any], str | None],
                 adopt_foil: Callable[[str | None], None] | None = None) -> None:
        self.prefix = prefix
        self.parse_sel = parse_sel
        self.format_sel = format_sel
        self.adopt_foil = adopt_foil  # pages with a contrastive view (`foil=`): its setter

    def key(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    @staticmethod
    def snapshot() -> dict[str, str | None]:
        return {k: st.query_params.get(k) for k in KEYS}

    def hold(self) -> None:
        """Widget callback: this rerun is the reviewer's own action; the session wins."""
        st.session_state[self.key("interacted")] = True

    def adopt(self, errors: list[str], restore: Callable[[str, list[str]], None], *,
              name_current_g: bool = False) -> None:
        """On first load, or when the URL changed outside the page, adopt its view."""
        snap = self.snapshot()
        held = st.session_state.pop(self.key("interacted"), False)
        held = st.session_state.pop(_HOLD_ALL, False) or held
        if held:
            st.session_state[self.key("url_last")] = snap
            return
        if st.session_state.get(self.key("url_last")) == snap:
            return
        if snap["run"]:
            restore(snap["run"], errors)
        self._adopt_view(snap, errors, name_current_g)
        st.session_state[self.key("url_last")] = snap

    def _adopt_view(self, snap: dict[str, str | None], errors: list[str],
                    name_current_g: bool) -> None:
        """g, m and sel into session state; unknown or malformed values become specific
        messages in `errors`, never state."""
        from lib.ui.common import granularities, methods

        g, m = snap.get("g"), snap.get("m")
        if g:
            if g in granularities():
                st.session_state[self.key("g")] = g
            else:
                shown = (f" Showing {st.session_state.get(self.key('g'), 'words')}."
                         if name_current_g else "")
                errors.append(f"The link's granularity 'g={g[:30]}' is unknown; use one of "
                              f"{', '.join(granularities())}.{shown}")
        if m:
            if m in methods():
                st.session_state[self.key("m")] = m
            else:
                errors.append(f"The link's method 'm={m[:30]}' is unknown; use one of "
                              f"{', '.join(methods())}.")
        if self.adopt_foil is not None and (snap.get("foil") is not None or not snap.get("run")):
            # The URL's foil; a saved run without one in the URL keeps the run's own.
            self.adopt_foil(snap.get("foil"))
        if snap.get("sel") is not None:
            try:
                st.session_state[self.key("sel")] = self.parse_sel(snap["sel"])
            except InputError as e:
                errors.append(str(e))
                st.session_state[self.key("sel")] = None

    def write(self, run_id: str | None) -> None:
        """The session's g, m, sel and `run_id` into the address bar (unchanged keys untouched)."""
        want = {"g": st.session_state.get(self.key("g")),
                "m": st.session_state.get(self.key("m")),
                "sel": self.format_sel(st.session_state.get(self.key("sel"))),
                "run": run_id, "foil": st.session_state.get(self.key("foil"))}
        for k, v in want.items():
            if v is None:
                if k in st.query_params:
                    del st.query_params[k]
            elif st.query_params.get(k) != v:
                st.query_params[k] = v
        st.session_state[self.key("url_last")] = self.snapshot()
