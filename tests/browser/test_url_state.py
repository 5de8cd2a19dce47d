"""The view in the address bar, and inputs that survive a widget drawn late, in a real browser.

- A click puts `sel=` into the browser's address (read live: see `pageops.live_url`), and a reload
  of a shared view keeps the newer selection, on Debug and on Compare.
- A widget whose code arrives after a later rerun has replaced its element still shows the value
  the session holds (it used to come up empty, and Generate then said the prompt was empty).
"""

from __future__ import annotations

import pytest

from tests.browser import pageops as ops

pytestmark = pytest.mark.browser

# Streamlit 1.67 loads each kind of widget's code on first use, from these files.
LATE_WIDGETS = ("**/TextArea.*.js", "**/TextInput.*.js")


def _idle(page) -> str:  # noqa: ANN001
    """Wait until the app has no run in flight (the frontend marks a click's rerun at once)."""
    return ops.stable(
        lambda: page.locator("[data-testid='stApp']").get_attribute("data-test-script-state"),
        "the script state",
        settle_s=1.0,
    )


def test_inputs_drawn_late_keep_the_session_values(tiny_server, new_context) -> None:  # noqa: ANN001
    context = new_context()
    held: list[object] = []
    released = False

    def hold(route) -> None:  # noqa: ANN001
        if released:
            route.continue_()
        else:
            held.append(route)  # answered after the reruns below

    for pattern in LATE_WIDGETS:
        context.route(pattern, hold)
    page = context.new_page()
    ops.open_app(page, tiny_server.url, params="g=words")
    page.get_by_role("button", name="Generate", exact=True).wait_for()
    assert held, "the text widgets' code was not requested: has Streamlit renamed its files?"
    assert page.locator("textarea").count() == 0
    # Two reruns from the reviewer while the text widgets still wait for their code: their
    # elements now come from a later run than the one that filled them in.
    page.get_by_text("A target I type").click()
    assert _idle(page) == "notRunning"
    page.get_by_text("The model's response").click()
    assert _idle(page) == "notRunning"
    released = True
    for route in held:
        route.continue_()

    # (a widget drawn for the first time shows its value a moment later: wait for it)
    template = page.locator("textarea").first
    text = ops.poll(template.input_value, bool, "the template text", timeout_s=30)
    assert text.startswith("Analyze a menu item"), text[:200]
    food = page.get_by_role("textbox", name="food_dislikes")
    ops.poll(food.input_value, lambda v: v == "Can't eat eggs", "the food_dislikes value",
             timeout_s=30)
    ops.generate(page, min_segments=2)
    ops.assert_no_traceback(page)


def test_debug_selection_in_the_address_survives_reload(tiny_server, new_context) -> None:  # noqa: ANN001
    page = new_context().new_page()
    ops.open_app(page, tiny_server.url, params="g=words")
    segs = ops.generate(page, min_segments=2)
    first, last = segs[0]["index"], segs[-1]["index"]
    ops.click_segment(page, first)
    ops.wait_for_url_param(page, "sel", str(first))
    ops.click_button(page, "Share")
    run_id = ops.poll(lambda: ops.url_params(page).get("run", [None])[0], bool, "run= in the URL")

    ops.click_segment(page, last)
    ops.wait_for_url_param(page, "sel", str(last))
    assert ops.url_params(page)["run"] == [run_id]
    page.reload()
    ops.poll(lambda: ops.selected_segments(page), lambda s: s == [last],
             f"segment {last} selected after the reload")
    ops.poll(lambda: ops.overlay_marks(ops.overlay(page)), lambda m: m == {str(last)},
             "the overlay of the reloaded selection")
    assert ops.url_params(page)["sel"] == [str(last)]
    ops.assert_no_traceback(page)


def test_compare_selection_in_the_address_survives_reload(tiny_server, new_context) -> None:  # noqa: ANN001
    page = new_context(viewport={"width": 1600, "height": 1100}).new_page()
    ops.open_app(page, tiny_server.url, path="compare", params="g=words")
    ops.click_button(page, "Generate all", 180)
    columns = ops.poll(
        lambda: ops.by_column(ops.segments(page)),
        lambda cols: len(cols) == 3 and all(len(v) >= 2 for v in cols.values()),
        "output segments in three columns",
        180,
    )
    segs = next(iter(columns.values()))
    first, last = segs[0], segs[-1]
    ops.click_nth_segment(page, first["order"])
    ops.wait_for_url_param(page, "sel", f"0:{first['index']}")
    ops.click_button(page, "Share")
    run_id = ops.poll(lambda: ops.url_params(page).get("run", [None])[0], bool, "run= in the URL")

    ops.click_nth_segment(page, last["order"])
    ops.wait_for_url_param(page, "sel", f"0:{last['index']}")
    assert ops.url_params(page)["run"] == [run_id]
    page.reload()

    def first_column_selection() -> list[int]:
        cols = ops.by_column(ops.segments(page))
        items = next(iter(cols.values()), [])
        return [s["index"] for s in items if s["selected"]]

    ops.poll(first_column_selection, lambda s: s == [last["index"]],
             f"segment {last['index']} selected in variant 1 after the reload")
    assert ops.url_params(page)["sel"] == [f"0:{last['index']}"]
    ops.assert_no_traceback(page)
