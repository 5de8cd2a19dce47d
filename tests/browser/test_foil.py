"""Contrastive salience in a real browser (tiny model): picking a foil turns the palette signed,
shows both log-probabilities, and a share link reopens the contrast."""

from __future__ import annotations

import pytest

from tests.browser import pageops as ops

pytestmark = pytest.mark.browser

FOIL_BOX = "Why this and not… (contrast the selection with a foil)"


def _legend(page) -> str:  # noqa: ANN001
    return " ".join(page.locator(".salience-legend").all_inner_texts())


def test_picking_a_foil_turns_the_palette_signed_and_the_link_restores_it(
        tiny_server, new_context) -> None:  # noqa: ANN001
    page = new_context().new_page()
    segs, index = ops.open_generate_and_select_first(page, tiny_server.url)
    assert "unsigned" in ops.poll(lambda: _legend(page), bool, "the legend")

    box = page.get_by_role("combobox", name=FOIL_BOX)
    box.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    assert options.count() >= 3  # no contrast, the model's alternatives, type a foil
    options.nth(1).click()  # the model's top alternative at the selection
    ops.poll(lambda: ops.url_params(page).get("foil"), bool, "foil= in the URL")
    ops.poll(lambda: _legend(page), lambda t: "signed: one colour" in t and "contrast" in t,
             "the signed legend of the contrast")
    ops.poll(lambda: ops.app_text(page), lambda t: "log p(foil)" in t, "the log-probabilities")
    ops.assert_no_traceback(page)
    shown = ops.poll(lambda: ops.overlay(page), lambda o: any(s["salience"] for s in o),
                     "the contrast's overlay")
    assert ops.url_params(page).get("m") == ["grad_dot_input"]

    ops.click_button(page, "Share")
    run_id = ops.poll(lambda: ops.run_id_on_page(page), bool, "a ?run= link")
    other = new_context().new_page()
    ops.open_app(other, tiny_server.url, params=f"run={run_id}")
    ops.poll(lambda: ops.app_text(other), lambda t: "log p(foil)" in t,
             "the contrast on the shared link")
    ops.poll(lambda: _legend(other), lambda t: "signed: one colour" in t,
             "the signed legend on the shared link")
    restored = ops.poll(lambda: ops.overlay(other), lambda o: any(s["salience"] for s in o),
                        "the shared view's overlay")
    assert sorted(map(ops.salience_key, restored)) == sorted(map(ops.salience_key, shown))
    ops.assert_no_traceback(other)

    # A click on another segment drops the foil: plain (unsigned-method-free) scores again.
    if len(segs) > 1:
        ops.click_segment(page, segs[1]["index"])
        ops.poll(lambda: ops.url_params(page).get("foil"), lambda f: not f,
                 "foil= gone from the URL after another click")
