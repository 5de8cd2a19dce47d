"""The HTML report and the JSON export are built when a reviewer asks for them, not on every
rerun; what the builders make is the full export of the view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.conftest import make_app, no_crash

pytestmark = pytest.mark.usefixtures("studio_env")
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "saved_run_debug_v1.json"


def test_reruns_build_no_report(monkeypatch):
    from lib import report
    from lib.segments import segment_sequence

    built: list[str] = []
    real = report.render_report_html
    monkeypatch.setattr(report, "render_report_html",
                        lambda **kw: built.append(kw["title"]) or real(**kw))
    at = make_app()
    at.run()
    at.number_input(key="dbg_max_new").set_value(4)
    at.button(key="dbg_generate").click().run()
    view = at.session_state["dbg_view"]
    out = [s for s in segment_sequence(view.seq, "words") if not s.in_prompt]
    at.session_state["dbg_sel"] = (out[0].index, out[0].index)
    at.run()
    at.toggle(key="dbg_numbers").set_value(True).run()
    no_crash(at)
    assert [b.label for b in at.get("download_button")] == ["Export HTML report",
                                                            "Export scores (JSON)"]
    assert built == []


def test_builders_make_the_report_and_the_scores_of_the_view():
    from lib.render import colour_scale
    from lib.segments import segment_scores, segment_sequence
    from lib.ui.share import report_builder, scores_json_builder
    from lib.view import view_from_record

    rec = json.loads(FIXTURE.read_text(encoding="utf-8"))
    view = view_from_record(rec)
    segs = segment_sequence(view.seq, "words")
    lo, hi = rec["ui"]["selection"]
    targets = sorted(t for s in segs if lo <= s.index <= hi for t in s.token_indices)
    vals = segment_scores(segs, view.score_for("grad_l2", targets))
    ui = dict(rec["ui"])
    html = report_builder(view, segs, vals, colour_scale(vals, False), "Grad L2", [lo], ui)()
    assert html.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in html
    assert html.count("data-salience=") == len(segs)
    data = json.loads(scores_json_builder(view, segs, vals, ui)())
    assert data["selection"] == [lo, hi] and data["method"] == "grad_l2"
    assert [s["score"] for s in data["segments"]] == pytest.approx(vals)
