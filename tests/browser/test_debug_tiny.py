"""Debug page in a real browser on the tiny random Gemma: generate, click, overlay, share, keyboard.

Granularity `words` (URL `g=words`) so the random model's output has several segments.
"""

from __future__ import annotations

import pytest

from tests.browser import pageops as ops
from tests.browser.harness import ARTIFACTS

pytestmark = pytest.mark.browser

PARAMS = "g=words"


def _open_and_generate(page, url: str) -> list[dict]:  # noqa: ANN001
    ops.open_app(page, url, params=PARAMS)
    segs = ops.generate(page, min_segments=2)
    ops.assert_no_traceback(page)
    return segs


def _select(page, index: int) -> list[dict]:  # noqa: ANN001
    """Click segment `index`; wait until it alone is selected and the overlay has settled."""
    ops.click_segment(page, index)
    ops.poll(
        lambda: ops.selected_segments(page),
        lambda s: s == [index],
        f"segment {index} to be selected",
    )
    # The overlay outlines its target: wait until that is the new selection (the old overlay
    # stays on screen while the new scores are computed).
    ops.poll(
        lambda: ops.overlay_marks(ops.overlay(page)),
        lambda m: m == {str(index)},
        f"the overlay for segment {index}",
    )
    spans = ops.stable(lambda: ops.overlay(page), "the overlay")
    ops.wait_for_url_param(page, "sel", str(index))
    return spans


def test_overlay_follows_the_selection(tiny_server, page) -> None:  # noqa: ANN001
    segs = _open_and_generate(page, tiny_server.url)
    first, last = segs[0]["index"], segs[-1]["index"]
    assert first != last

    spans_first = _select(page, first)
    ops.check_overlay_contract(spans_first)
    ops.screenshot(page, ARTIFACTS / "tiny-debug-selected-first.png", near=".selected")

    spans_last = _select(page, last)
    ops.check_overlay_contract(spans_last)
    # Same prompt tokens, another target: the numbers and the colours must both change.
    assert [ops.salience_key(s) for s in spans_last] != [ops.salience_key(s) for s in spans_first]
    assert [ops.colour_key(s) for s in spans_last] != [ops.colour_key(s) for s in spans_first]
    # Everything scored before the first segment is scored before the last one too.
    covered_first = {(s["start"], s["end"]) for s in spans_first}
    assert covered_first <= {(s["start"], s["end"]) for s in spans_last}
    ops.assert_no_traceback(page)

    # Clicking the sole selection again clears it.
    ops.click_segment(page, last)
    ops.poll(lambda: ops.selected_segments(page), lambda s: s == [], "the selection to clear")
    ops.assert_no_traceback(page)


def test_share_link_restores_selection_and_colours(tiny_server, new_context) -> None:  # noqa: ANN001
    page = new_context().new_page()
    segs = _open_and_generate(page, tiny_server.url)
    chosen = segs[min(1, len(segs) - 1)]["index"]
    spans = _select(page, chosen)
    texts = [s["text"] for s in ops.segments(page)]

    page.get_by_role("button", name="Share").first.click()
    run_id = ops.poll(lambda: ops.run_id_on_page(page), bool, "a ?run= link on the page")
    ops.assert_no_traceback(page)

    # A colleague: fresh context (no cookies, no session), only the link.
    other = new_context().new_page()
    ops.open_app(other, tiny_server.url, params=f"run={run_id}")
    ops.poll(
        lambda: ops.selected_segments(other),
        lambda s: s == [chosen],
        f"segment {chosen} selected in the shared view",
    )
    ops.poll(
        lambda: ops.overlay_marks(ops.overlay(other)),
        lambda m: m == {str(chosen)},
        "the shared view's overlay for the selected segment",
    )
    shared = ops.stable(lambda: ops.overlay(other), "the shared overlay")
    ops.screenshot(other, ARTIFACTS / "tiny-shared-link.png", near=".selected")
    assert [s["text"] for s in ops.segments(other)] == texts
    assert [ops.salience_key(s) for s in shared] == [ops.salience_key(s) for s in spans]
    assert [ops.colour_key(s) for s in shared] == [ops.colour_key(s) for s in spans]
    ops.assert_no_traceback(other)


def test_keyboard_selects_segments(tiny_server, page) -> None:  # noqa: ANN001
    _open_and_generate(page, tiny_server.url)

    def tab_to_segment(limit: int = 300) -> int:
        for _ in range(limit):
            page.keyboard.press("Tab")
            focused = ops.active_segment(page)
            if focused is not None:
                return focused
        raise AssertionError(f"no output segment took focus within {limit} Tab presses")

    focused = tab_to_segment()
    page.keyboard.press("Enter")
    ops.poll(
        lambda: ops.selected_segments(page),
        lambda s: s == [focused],
        f"Enter to select the focused segment {focused}",
    )
    ops.poll(lambda: ops.overlay(page), bool, "the overlay after keyboard selection")

    # Space works too, on another segment (Tab on from wherever focus is after the rerun).
    for _ in range(300):
        page.keyboard.press("Tab")
        now = ops.active_segment(page)
        if now is not None and now != focused:
            break
    else:
        raise AssertionError("could not Tab to a second output segment")
    page.keyboard.press("Space")
    ops.poll(
        lambda: ops.selected_segments(page), lambda s: s == [now], f"Space to select segment {now}"
    )
    ops.assert_no_traceback(page)
