"""Salience by part on the pages (AppTest, tiny model): Debug's part chart, table and highlight,
Compare's parts side by side, and the parts in the exports.

Expected values are computed here from the lib functions (`template_parts`,
`parts_in_sequence`, `part_scores`), not through the page's own helper.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.conftest import component_data, errors, make_app, no_crash

pytestmark = pytest.mark.usefixtures("studio_env")

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "saved_run_debug_v1.json"
PARTS_TITLE = "Prompt parts by salience"


def _expected(view, tok_scores, signed=False):  # noqa: ANN001, ANN202
    from lib.part_scores import part_scores, parts_in_sequence
    from lib.parts import detect_parts, template_parts

    if view.template_text:
        prompt, parts = template_parts(view.template_text, view.variables)
        assert prompt == view.prompt
    else:
        parts = detect_parts(view.prompt)
    return part_scores(parts_in_sequence(parts, view.seq, view.prompt), tok_scores, signed)


def _parts_figure(at) -> dict:  # noqa: ANN001
    figs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    found = [f for f in figs if PARTS_TITLE in str(f["layout"].get("title", ""))]
    assert len(found) == 1, [f["layout"].get("title") for f in figs]
    return found[0]


def _overlay_part(at) -> dict | None:  # noqa: ANN001
    for data in component_data(at):
        if data.get("overlay"):
            return data["overlay"].get("part")
    raise AssertionError("no overlay component on the page")


def _debug_with_selection():  # noqa: ANN202
    from lib.segments import segment_sequence
    from lib.selection import target_tokens

    at = make_app()
    at.context = {"url": "http://127.0.0.1:8501/"}
    at.run()
    at.number_input(key="dbg_max_new").set_value(4)
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    view = at.session_state["dbg_view"]
    out = [s for s in segment_sequence(view.seq, "words") if not s.in_prompt]
    sel = (out[0].index, out[0].index)
    at.session_state["dbg_sel"] = sel
    at.run()
    no_crash(at)
    tok = view.score_for("grad_l2", target_tokens(out, sel))
    assert tok is not None
    return at, view, tok


def test_debug_part_chart_table_highlight_and_share_link():
    at, view, tok = _debug_with_selection()
    expected = sorted(_expected(view, tok), key=lambda s: -abs(s.score))
    fig = _parts_figure(at)
    (bar,) = fig["data"]  # unsigned method: one trace
    # Bars bottom-up in plotly, so the largest |score| is last.
    ids, xs = bar["customdata"][::-1], bar["x"][::-1]
    assert ids == [s.part.id for s in expected][:len(ids)]
    assert xs == pytest.approx([s.score for s in expected][:len(xs)], rel=1e-6, abs=1e-9)
    assert bar["text"][::-1] == [f"{s.share:.1%}" for s in expected][:len(ids)]
    assert sum(s.score for s in expected) == pytest.approx(sum(tok[:view.seq.prompt_length]),
                                                          rel=1e-5)
    # The table (accessibility) holds every part.
    table = at.dataframe[0].value
    assert list(table["Score"]) == pytest.approx([s.score for s in expected], rel=1e-6)
    assert "menu_item" in {s.part.id for s in expected}
    assert _overlay_part(at) is None

    # A click on a bar (its callback sets the highlight): the overlay outlines that part.
    menu = next(s.part for s in expected if s.part.id == "menu_item")
    at.session_state["dbg_part"] = "menu_item"
    at.run()
    no_crash(at)
    assert _overlay_part(at) == {"id": "menu_item", "tokens": list(menu.token_indices)}
    focus = [h.proto.body for h in at.get("html") if 'class="part-focus"' in h.proto.body]
    assert len(focus) == 1 and 'data-part-id="menu_item"' in focus[0]
    assert "Quiche Lorraine" in focus[0]
    # Another target keeps the highlight (part ids do not depend on the scores).
    from lib.segments import segment_sequence

    out = [s for s in segment_sequence(view.seq, "words") if not s.in_prompt]
    if len(out) > 1:
        at.session_state["dbg_sel"] = (out[1].index, out[1].index)
        at.run()
        no_crash(at)
        assert _overlay_part(at) == {"id": "menu_item", "tokens": list(menu.token_indices)}

    # The share link keeps the highlight; the restored view's parts are the same.
    bar = _parts_figure(at)["data"][0]
    at.button(key="dbg_share").click().run()
    no_crash(at)
    run_id = at.session_state["dbg_shared"]
    fresh = make_app()
    fresh.query_params["run"] = run_id
    fresh.run()
    no_crash(fresh)
    assert not errors(fresh)
    assert fresh.session_state["dbg_part"] == "menu_item"
    assert _overlay_part(fresh) == {"id": "menu_item", "tokens": list(menu.token_indices)}
    again = _parts_figure(fresh)["data"][0]
    assert again["customdata"] == bar["customdata"]
    assert again["x"] == pytest.approx(bar["x"], rel=1e-9)


def test_debug_signed_method_shows_positive_and_negative_mass():
    at, view, _ = _debug_with_selection()
    at.radio(key="dbg_m").set_value("grad_dot_input").run()
    no_crash(at)
    from lib.segments import segment_sequence
    from lib.selection import target_tokens

    out = [s for s in segment_sequence(view.seq, "words") if not s.in_prompt]
    tok = view.score_for("grad_dot_input", target_tokens(out, at.session_state["dbg_sel"]))
    expected = {s.part.id: s for s in _expected(view, tok, signed=True)}
    pos, neg = _parts_figure(at)["data"]
    assert pos["name"] == "Positive" and neg["name"] == "Negative"
    for ident, p, n in zip(pos["customdata"], pos["x"], neg["x"], strict=True):
        assert p == pytest.approx(expected[ident].positive, rel=1e-6, abs=1e-12)
        assert n == pytest.approx(expected[ident].negative, rel=1e-6, abs=1e-12)


def test_compare_parts_table_marks_the_constitution_principles_new():
    from lib.segments import segment_sequence

    at = make_app("app_pages/compare.py")
    at.run()
    at.number_input(key="cmp_max_new").set_value(3)
    at.button(key="cmp_generate").click().run()
    no_crash(at)
    views = at.session_state["cmp_views"]
    out0 = [s for s in segment_sequence(views[0].seq, "lines") if not s.in_prompt]
    at.session_state["cmp_sel"] = (0, out0[0].index, out0[0].index)
    at.run()
    no_crash(at)
    tables = [d.value for d in at.dataframe]
    assert len(tables) == 1
    table = tables[0]
    assert "Variant 1" in table.columns and "Variant 3" in table.columns, table.columns
    principles = table[table["Kind"] == "principle"]
    assert len(principles) == 2
    assert all(str(v).startswith("new · ") for v in principles["Variant 3"])
    assert all(v == "—" for v in principles["Variant 1"])
    examples = table[table["Kind"] == "example"]
    assert len(examples) >= 2 and all("pp)" in str(v) for v in examples["Variant 3"])


def test_exports_have_the_parts_and_the_report_no_script():
    from lib.cli_parts import parts_json
    from lib.parts import detect_parts
    from lib.render import colour_scale
    from lib.segments import segment_scores, segment_sequence
    from lib.ui.share import report_builder, scores_json_builder
    from lib.view import view_from_record

    rec = json.loads(FIXTURE.read_text(encoding="utf-8"))
    view = view_from_record(rec)
    segs = segment_sequence(view.seq, "words")
    lo, hi = rec["ui"]["selection"]
    targets = sorted(t for s in segs if lo <= s.index <= hi for t in s.token_indices)
    tok = view.score_for("grad_l2", targets)
    vals = segment_scores(segs, tok)
    ui = dict(rec["ui"])
    html = report_builder(view, segs, vals, colour_scale(vals, False), "Grad L2", [lo], ui,
                          token_scores=tok)()
    assert 'class="parts-table"' in html and "<script" not in html.lower()
    for s in _expected(view, tok):
        assert f'data-part-id="{s.part.id}"' in html
    assert 'class="parts-table"' not in report_builder(view, segs, vals, colour_scale(vals, False),
                                               "Grad L2", [lo], ui)()
    data = json.loads(scores_json_builder(view, segs, vals, ui, token_scores=tok)())
    assert data["parts"] == parts_json(view.seq, view.prompt, detect_parts(view.prompt), tok,
                                       False)
    for row in data["parts"]:
        assert {"id", "kind", "label", "start", "end", "score", "share"} <= set(row)
        assert "positive" not in row
    signed = json.loads(scores_json_builder(view, segs, vals, ui, token_scores=tok,
                                            signed=True)())
    assert all({"positive", "negative"} <= set(r) for r in signed["parts"])
    assert "parts" not in json.loads(scores_json_builder(view, segs, vals, ui)())


def test_parts_table_escapes_labels():
    from lib.part_scores import PartScore
    from lib.parts import Part
    from lib.render_parts import parts_table_html

    part = Part(id="text-x", kind="other", label="<script>alert(1)</script>", start=0, end=5)
    html = parts_table_html([PartScore(part, 1.0, 1.0, 1.0, 0.0)], signed=True)
    assert "<script" not in html and "&lt;script&gt;" in html
