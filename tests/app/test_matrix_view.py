"""Debug's output x prompt matrix (AppTest, tiny model): the heatmap's rows are each output
segment's own salience over the prompt's segments, and the state a cell click leaves (its
output segment selected) outlines the cell's prompt segment in the overlay.

Expected rows come from separate, uncached `pipeline.salience` calls aggregated with
`segment_scores` here, not from the page's helpers.
"""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import component_data, make_app, no_crash

pytestmark = pytest.mark.usefixtures("studio_env")

PROMPT = "Is this <b>dish</b> vegetarian? Quiche with ham and eggs."


def _settled(at):  # noqa: ANN001, ANN202
    """Wait for the page's background prefetch, then redraw (the matrix is then complete)."""
    for fut in at.session_state["dbg_prefetched_jobs"]:
        fut.result(timeout=180)
    at.run()
    no_crash(at)
    return at


def _matrix(at):  # noqa: ANN001, ANN202
    """(the matrix chart's element, its figure)."""
    found = [(el, json.loads(el.proto.spec)) for el in at.get("plotly_chart")]
    found = [(el, f) for el, f in found if any(t.get("type") == "heatmap" for t in f["data"])]
    assert len(found) == 1, [f["layout"].get("title") for _, f in found]
    return found[0]


def _overlay(at):  # noqa: ANN001, ANN202
    for data in component_data(at):
        if data.get("overlay"):
            return data
    raise AssertionError("no overlay component on the page")


def _as_after_a_cell_click(at, row_index: int, col_index: int):  # noqa: ANN001, ANN202
    """The state a click on a cell leaves (the chart's `on_select` callback sets the cell and
    selects its output segment), then the rerun that follows. AppTest has no plotly element to
    click: the click itself, through plotly and the callback, is tests/browser/test_matrix_view.py's
    and the point-to-cell rule is `lib.matrix.clicked_cell`'s (tests/test_matrix.py)."""
    from lib.ui.matrix_view import CELL_KEY

    at.session_state[CELL_KEY] = (row_index, col_index)
    at.session_state["dbg_sel"] = (row_index, row_index)
    at.run()
    no_crash(at)


def _generate(method: str | None = None):  # noqa: ANN202
    at = make_app()
    at.context = {"url": "http://127.0.0.1:8501/"}
    at.run()
    # A short raw prompt: a word per column stays under the matrix's column cap.
    at.radio(key="dbg_source").set_value("Raw prompt").run()
    at.text_area(key="dbg_raw").set_value(PROMPT).run()
    at.number_input(key="dbg_max_new").set_value(4)
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    at.session_state["dbg_matrix_open"] = True  # as a click on the expander does
    if method is not None:
        at.radio(key="dbg_m").set_value(method).run()
        no_crash(at)
    return _settled(at)


def test_matrix_rows_equal_separate_salience_calls_and_a_cell_outlines_its_segment():
    from lib import pipeline
    from lib.segments import segment_scores, segment_sequence

    at = _generate()
    view = at.session_state["dbg_view"]
    segments = segment_sequence(view.seq, "words")
    rows = [s for s in segments if not s.in_prompt and s.token_indices]
    cols = [s for s in segments if s.in_prompt]
    _, fig = _matrix(at)
    heat, cells = fig["data"]
    assert len(heat["z"]) == len(rows) and all(len(r) == len(cols) for r in heat["z"])
    assert heat["colorscale"] and heat.get("zmin") == 0  # unsigned: sequential from 0
    assert f"{len(rows)} of {len(rows)} rows computed" in " ".join(c.value for c in at.caption)
    model = pipeline.get_model("tiny")
    for row, z in zip(rows, heat["z"], strict=True):
        pipeline.clear_cache()  # the reference is its own engine call
        sal = pipeline.salience(model, view.seq, list(row.token_indices), "grad_l2")
        # The page's rows come from the prefetch's batched calls; the app's default mixed
        # precision rounds products to bfloat16, which a batch's shapes round differently.
        assert z == pytest.approx(segment_scores(cols, sal.scores), rel=5e-3, abs=1e-5)
    # Hover labels name both segments (escaped: no raw '<' from model text reaches plotly).
    assert len(cells["customdata"]) == len(rows) * len(cols)
    assert all("Output #" in t and "Prompt #" in t for t in cells["text"])
    assert not any("<b>" in t for t in cells["text"] + fig["layout"]["xaxis"]["ticktext"])
    assert any("&lt;b&gt;dish" in t for t in fig["layout"]["xaxis"]["ticktext"])
    assert _overlay(at)["overlay"].get("column") is None

    r, c = len(rows) - 1, len(cols) // 2
    _as_after_a_cell_click(at, rows[r].index, cols[c].index)
    data = _overlay(at)
    assert data["selected"] == [rows[r].index, rows[r].index]
    assert data["overlay"]["column"] == {"id": str(cols[c].index),
                                         "tokens": list(cols[c].token_indices)}
    # The clicked cell is outlined; a click on the output elsewhere drops the highlight.
    assert len(_matrix(at)[1]["layout"].get("shapes", [])) == 1
    at.session_state["dbg_sel"] = (rows[0].index, rows[0].index)
    at.run()
    no_crash(at)
    if r != 0:
        assert _overlay(at)["overlay"].get("column") is None


def test_signed_method_uses_a_diverging_scale_centred_on_zero():
    at = _generate("grad_dot_input")
    _, fig = _matrix(at)
    heat = fig["data"][0]
    assert heat.get("zmid") == 0 and heat.get("zmin") is None
    assert any(v < 0 for row in heat["z"] for v in row if v is not None)
