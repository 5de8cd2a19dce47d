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

    ops.click_button(page, "Share")
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


def test_click_after_generating_again_selects_that_segment(tiny_server, page) -> None:  # noqa: ANN001
    # A reviewer selects a segment, moves the intensity slider, generates again, and clicks
    # another segment as soon as the new output shows: that click must win (not the previous
    # selection, e.g. from the URL).
    segs = _open_and_generate(page, tiny_server.url)
    first, last = segs[0]["index"], segs[-1]["index"]
    _select(page, first)
    # Then the last one, going on as soon as its overlay shows (as a person would).
    ops.click_segment(page, last)
    spans = ops.poll(
        lambda: ops.overlay(page),
        lambda v: ops.overlay_marks(v) == {str(last)},
        f"the overlay for segment {last}",
    )
    page.get_by_role("slider", name="Intensity").focus()
    page.keyboard.press("ArrowRight")
    ops.poll(
        lambda: [s["background"] for s in ops.overlay(page)],
        lambda c: c != [s["background"] for s in spans],
        "the overlay recoloured by the intensity slider",
    )

    ops.click_button(page, "Generate")
    ops.poll(
        lambda: ops.segments(page),
        lambda s: len(s) >= 2 and not any(x["selected"] for x in s),
        "the new output (a new generation clears the selection)",
        every_s=0.02,  # click as soon as a reviewer could
    )
    ops.click_segment(page, first)
    ops.poll(
        lambda: ops.overlay_marks(ops.overlay(page)),
        lambda m: m == {str(first)},
        f"the overlay for segment {first}",
    )
    # And it stays that way: the URL and the page agree on the selection.
    assert ops.stable(lambda: ops.selected_segments(page), "the selection", settle_s=3) == [first]
    ops.wait_for_url_param(page, "sel", str(first))
    ops.assert_no_traceback(page)
