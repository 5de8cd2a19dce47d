"""Salience by part in a real browser (tiny model): clicking a bar of the parts chart outlines
that part in the prompt overlay, and a share link keeps the highlight."""

from __future__ import annotations

import pytest

from tests.browser import pageops as ops
from tests.browser.harness import ARTIFACTS

pytestmark = pytest.mark.browser


def test_clicking_a_part_bar_highlights_the_part_in_the_prompt(tiny_server, new_context) -> None:  # noqa: ANN001
    page = new_context().new_page()
    _, index = ops.open_generate_and_select_first(page, tiny_server.url)
    assert ops.highlighted_parts(page) == set()

    ops.click_part_bar(page)  # the top bar: the part with the largest |score|
    focus = ops.poll(lambda: ops.part_focus(page), lambda f: len(f) == 1,
                     "the highlighted part's box under the chart")
    part = focus[0]
    ops.poll(lambda: ops.highlighted_parts(page), lambda h: h == {part},
             f"overlay spans of part {part} outlined")
    marked = page.locator(f"[data-highlight-part='{part}']")
    assert marked.count() >= 1
    assert all("in-part" in (c or "") for c in marked.evaluate_all(
        "els => els.map(e => e.className)"))
    # The outlined spans are overlay spans (token bounds), not output segments.
    assert all(s is not None for s in marked.evaluate_all(
        "els => els.map(e => e.getAttribute('data-token-start'))"))
    ops.screenshot(page, ARTIFACTS / "tiny-part-highlight.png", near="[data-highlight-part]")
    ops.assert_no_traceback(page)

    # Shared, the highlight comes back with the link.
    ops.click_button(page, "Share")
    run_id = ops.poll(lambda: ops.run_id_on_page(page), bool, "a ?run= link on the page")
    other = new_context().new_page()
    ops.open_app(other, tiny_server.url, params=f"run={run_id}")
    ops.poll(lambda: ops.highlighted_parts(other), lambda h: h == {part},
             "the shared view's highlighted part")
    ops.assert_no_traceback(other)
