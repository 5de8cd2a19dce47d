"""The URL owner (lib.ui.url_state): a rerun the app starts itself (the sidebar's when the model
finishes loading) may carry an address from before the reviewer's last click; the click wins.
A rerun with an older address and no such mark (back/forward, a pasted link) is adopted."""

from __future__ import annotations

import pytest

from tests.app.conftest import errors, make_app, no_crash

pytestmark = pytest.mark.usefixtures("studio_env")


def _debug_with_two_words():
    from lib.segments import segment_sequence

    at = make_app()
    at.run()
    at.number_input(key="dbg_max_new").set_value(6)
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    view = at.session_state["dbg_view"]
    out = [s for s in segment_sequence(view.seq, "words") if not s.in_prompt]
    assert len(out) >= 2
    return at, out


def test_app_started_rerun_with_a_lagging_address_keeps_the_click():
    at, out = _debug_with_two_words()
    first, second = out[0].index, out[1].index
    at.session_state["dbg_sel"] = (first, first)
    at.run()
    assert at.query_params["sel"] == str(first)
    # The reviewer clicks the second word (the page's click callback marks its rerun) ...
    at.session_state["dbg_sel"] = (second, second)
    at.session_state["dbg_interacted"] = True
    at.run()
    assert at.query_params["sel"] == str(second)
    # ... and the sidebar's rerun arrives with the browser's address from before the click.
    at.query_params["sel"] = str(first)
    at.session_state["url_hold_all"] = True
    at.run()
    no_crash(at)
    assert at.session_state["dbg_sel"] == (second, second)
    assert at.query_params["sel"] == str(second)
    assert not errors(at)


def test_an_unmarked_rerun_with_another_address_is_adopted():
    at, out = _debug_with_two_words()
    first, second = out[0].index, out[1].index
    at.session_state["dbg_sel"] = (second, second)
    at.run()
    at.query_params["sel"] = str(first)  # Back: the browser shows the earlier view's address
    at.run()
    no_crash(at)
    assert at.session_state["dbg_sel"] == (first, first)
    assert at.query_params["sel"] == str(first)
