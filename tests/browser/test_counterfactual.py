"""The counterfactual check in a real browser (tiny model): drop the most salient prompt
segment, see the numbers and the controls; the share link shows them again."""

from __future__ import annotations

import re

import pytest

from tests.browser import pageops as ops

pytestmark = pytest.mark.browser

EXPANDER = "Check it: drop or replace a prompt segment and re-score the target"


def _metrics(page) -> dict[str, str]:  # noqa: ANN001
    labels = page.locator("[data-testid='stMetricLabel']").all_inner_texts()
    values = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    return {a.strip(): b.strip() for a, b in zip(labels, values, strict=False)}


def test_dropping_a_segment_shows_the_numbers_and_the_link_keeps_them(
        tiny_server, new_context) -> None:  # noqa: ANN001
    page = new_context().new_page()
    _, index = ops.open_generate_and_select_first(page, tiny_server.url)
    ops.open_expander(page, EXPANDER)
    ops.click_button(page, "Run the check")
    shown = ops.poll(lambda: _metrics(page), lambda m: "change" in m, "the check's numbers",
                     timeout_s=120)
    before = float(shown["log p(target), before"])
    after = float(shown["after the edit"])
    assert float(shown["change"]) == pytest.approx(after - before, abs=2e-3)
    text = ops.app_text(page)
    assert re.search(r"Controls \(the same edit on \d+ random spans", text), text[-800:]
    assert "greedy answer" in text
    ops.assert_no_traceback(page)

    ops.click_button(page, "Share")
    run_id = ops.poll(lambda: ops.run_id_on_page(page), bool, "a ?run= link")
    other = new_context().new_page()
    ops.open_app(other, tiny_server.url, params=f"run={run_id}")
    ops.poll(lambda: _metrics(other), lambda m: m == shown, "the check on the shared link",
             timeout_s=120)
    ops.assert_no_traceback(other)
