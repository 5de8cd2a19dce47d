"""The Compare story on the embedded Gemma 3 270M, in a real browser (slow: real weights).

Three menu variants (mistake / fixed / constitution) generated with one click; clicking the
`Recommendation` line in one column selects the same line in all three, on one colour scale.
Also refreshes the README's screenshot, docs/screenshot-compare.png.
"""

from __future__ import annotations

import pytest

from tests.browser import pageops as ops
from tests.browser.harness import ARTIFACTS, REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Hang guard for the first model load (GGUF conversion on a cold cache) plus three generations.
FIRST_LOAD_S = 900


def _is_recommendation(segment: dict) -> bool:
    return segment["text"].strip().startswith("Recommendation")


def test_compare_story_selects_the_same_line_in_all_columns(embedded_server, new_context) -> None:  # noqa: ANN001
    page = new_context(viewport={"width": 1600, "height": 1100}).new_page()
    ops.open_app(page, embedded_server.url, path="compare", params="g=lines")
    ops.click_button(page, "Generate all", FIRST_LOAD_S)
    columns = ops.poll(
        lambda: ops.by_column(ops.segments(page)),
        lambda cols: len(cols) == 3 and all(cols.values()),
        "output segments in three columns",
        FIRST_LOAD_S,
    )
    ops.assert_no_traceback(page)
    first_col, segs = next(iter(columns.items()))
    recs = [s for s in segs if _is_recommendation(s)]
    assert recs, (
        f"no Recommendation line in the first variant's output: {[s['text'] for s in segs]}"
    )

    ops.click_nth_segment(page, recs[0]["order"])

    def selected_by_column() -> dict[int, list[str]]:
        return {
            col: [s["text"] for s in items if s["selected"]]
            for col, items in ops.by_column(ops.segments(page)).items()
        }

    chosen = ops.poll(
        selected_by_column,
        lambda sel: (
            len(sel) == 3
            and all(len(t) == 1 and t[0].strip().startswith("Recommendation") for t in sel.values())
        ),
        "the Recommendation line selected in all three columns",
        # The selection shows once all three columns' scores are in; the first salience call
        # compiles the gradient for each length bucket.
        FIRST_LOAD_S,
    )
    assert first_col in chosen
    picked = {
        col: {str(s["index"]) for s in items if s["selected"]}
        for col, items in ops.by_column(ops.segments(page)).items()
    }
    # Each column's overlay outlines its own Recommendation line once its scores are in.
    ops.poll(
        lambda: {c: ops.overlay_marks(v) for c, v in ops.by_column(ops.overlay(page)).items()},
        lambda marks: marks == picked,
        "each column's overlay for its Recommendation line",
        300,
    )
    spans = ops.stable(lambda: ops.overlay(page), "the three overlays", timeout_s=300)
    # One shared colour scale (the default): the same number gets the same colour in every column.
    ops.check_overlay_contract(spans)
    ops.assert_no_traceback(page)
    # The sidebar is the app's own navigation (st.navigation), not Streamlit's pages/ listing.
    nav = ops.stable(
        lambda: page.locator("[data-testid='stSidebarNav'] a").all_inner_texts(), "the sidebar"
    )
    # (each link's text is its icon, then its title)
    assert [t.strip().split("\n")[-1] for t in nav] == ["Debug", "Compare", "Saved runs"], nav

    ops.screenshot(page, ARTIFACTS / "embedded-compare.png", near=".selected")
    # The README shows the three columns with the selection, not the input form above them.
    # (from the column headers down: outputs with the selection, then the prompts' overlays)
    ops.screenshot(
        page,
        REPO / "docs" / "screenshot-compare.png",
        near="[data-testid='stMarkdownContainer']:has-text('Variant 1 ·')",
        block="start",
    )
