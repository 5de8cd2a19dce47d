"""The output x prompt matrix in a real browser (tiny model): clicking a heatmap cell selects
that output segment and outlines that prompt segment in the overlay."""

from __future__ import annotations

import re

import pytest

from tests.browser import pageops as ops
from tests.browser.harness import ARTIFACTS

pytestmark = pytest.mark.browser

PROMPT = "Is this dish vegetarian? Quiche with ham and eggs."
TARGET = " No. It has ham."


def test_clicking_a_matrix_cell_selects_the_row_and_outlines_the_column(tiny_server,  # noqa: ANN001
                                                                        page) -> None:  # noqa: ANN001
    ops.open_app(page, tiny_server.url, params="g=words")
    box = page.get_by_label("Prompt", exact=True)
    ops.choose(page, "Raw prompt", box)
    ops.commit_text(box, PROMPT, textarea=True)
    target = page.get_by_label("Target text (e.g. ' Avoid.')")
    ops.choose(page, "A target I type", target)
    ops.commit_text(target, TARGET, textarea=False)
    segs = ops.generate(page, min_segments=4)  # " No." " It" " has" " ham."
    assert ops.selected_segments(page) == []

    ops.open_matrix(page)
    # Every row computed (the background prefetch): the chart then stops being redrawn.
    done = re.compile(r"(\d+) of \1 rows computed")
    ops.poll(lambda: ops.app_text(page), lambda t: bool(done.search(t)),
             "every row of the matrix computed", timeout_s=180)
    row, col = len(segs) - 1, 2  # the last output word, the prompt's third word
    want = segs[row]["index"]

    def click_once() -> list[int]:
        # The page's last full rerun (all rows in) redraws the chart; a click that lands on
        # the chart while it is being redrawn is lost, as a reviewer's would be: wait for a
        # settled page, click, and look for the selection; click again only if none came.
        ops.stable(lambda: (ops.app_text(page), page.locator("[data-stale='true']").count()),
                   "the page to settle before the click", settle_s=1.5)
        chart = ops.open_matrix(page)  # still open after the page's last full rerun
        ops.click_matrix_cell(page, chart, row, col)
        try:
            return ops.poll(lambda: ops.selected_segments(page), lambda s: s == [want],
                            "the selection", timeout_s=15)
        except AssertionError:
            return ops.selected_segments(page)

    ops.poll(click_once, lambda s: s == [want],
             f"output segment {want} selected by the matrix click", timeout_s=120)
    # Prompt segments are numbered from 0 in order, so column `col` is segment `col`.
    ops.poll(lambda: ops.matrix_columns(page), lambda c: c == {str(col)},
             f"prompt segment {col} outlined")
    marked = page.locator(f"[data-matrix-column='{col}']")
    info = marked.evaluate_all("els => els.map(e => [e.className, "
                               "e.getAttribute('data-segment-index'), "
                               "e.getAttribute('data-token-start')])")
    assert info and all("matrix-column" in c and s == str(col) and t is not None
                        for c, s, t in info), info
    ops.poll(lambda: ops.overlay_marks(ops.overlay(page)), lambda m: m == {str(want)},
             f"the overlay for segment {want}")
    ops.screenshot(page, ARTIFACTS / "tiny-matrix-click.png", near="[data-matrix-column]")
    ops.assert_no_traceback(page)
