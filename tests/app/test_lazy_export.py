"""The HTML report and the JSON export are built when a reviewer asks for them, not on every
rerun; what the builders make is the full export of the view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.conftest import component_data, make_app, no_crash

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
    exports = [d for d in component_data(at) if "file_name" in d]
    assert [d["label"] for d in exports] == ["Export HTML report", "Export scores (JSON)"]
    assert built == [] and not any("content" in d for d in exports)

    # A click (the component's trigger, as the browser sends it) builds that export once,
    # hands it to the component, and the runs after it build nothing again.
    at.session_state["dbg_export_html_asked"] = "r1"
    at.run()
    no_crash(at)
    sent = [d for d in component_data(at) if d.get("file_name") == "salience-report.html"]
    assert len(built) == 1 and sent[0]["ask"] == "r1"
    assert sent[0]["content"].startswith("<!DOCTYPE html>")
    assert not any("content" in d for d in component_data(at)
                   if d.get("file_name") == "salience-scores.json")
    at.run()
    assert len(built) == 1
    assert not any("content" in d for d in component_data(at) if "file_name" in d)


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
