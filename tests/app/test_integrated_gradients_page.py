"""Integrated Gradients on the Debug page: choosing it computes it (on click, never
prefetched) and the overlay shows its scores."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import (
    component_data,
    generate_and_select_first_word,
    make_app,
    no_crash,
    overlay,
)

pytestmark = pytest.mark.usefixtures("studio_env")


def test_choosing_integrated_gradients_paints_its_scores():
    from lib import pipeline
    from lib.segments import segment_scores

    at = make_app()
    at.run()
    view, segments, first = generate_and_select_first_word(at)
    at.radio(key="dbg_m").set_value("integrated_gradients").run()
    no_crash(at)
    assert not at.error, [e.value for e in at.error]
    shown = dict(overlay(at))
    assert shown, "no overlay for the selected segment"
    # An independent call of the engine (the same model, target and default steps).
    model = pipeline.get_model("tiny")
    ig = pipeline.salience(model, view.seq, sorted(first.token_indices), "integrated_gradients")
    grad = pipeline.salience(model, view.seq, sorted(first.token_indices), "grad_l2")
    expected = segment_scores(segments, ig.scores)
    for index, value in shown.items():
        assert value == pytest.approx(expected[index], rel=1e-3, abs=1e-6)
    # The completeness gap of exactly this result is shown.
    result = pipeline.cached_integrated_gradients(model, view.seq, sorted(first.token_indices))
    notes = [c.value for c in at.caption] + [w.value for w in at.warning]
    assert any(f"Completeness gap {result.completeness_gap:.1%}" in n for n in notes), notes
    # Not the one-gradient scores relabelled.
    other = segment_scores(segments, grad.scores)
    assert any(abs(shown[i] - other[i]) > 1e-6 for i in shown)
    # The JSON export (asked for as the browser asks) reports the same steps and gap.
    at.session_state["dbg_export_json_asked"] = "r1"
    at.run()
    no_crash(at)
    sent = [d for d in component_data(at) if d.get("file_name") == "salience-scores.json"]
    exported = json.loads(sent[0]["content"])
    assert exported["method"] == "integrated_gradients"
    assert exported["steps"] == result.steps
    assert exported["completeness_gap"] == pytest.approx(result.completeness_gap)
