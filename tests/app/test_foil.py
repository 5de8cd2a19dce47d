"""Contrastive salience on the Debug page: picking a foil paints the contrast (signed), shows
both log-probabilities, and goes into share links and exports."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import (
    errors,
    generate_and_select_first_word,
    make_app,
    no_crash,
    overlay,
)

pytestmark = pytest.mark.usefixtures("studio_env")


def _expected(view, segments, first, foil_text):
    from lib import pipeline
    from lib.segments import segment_scores

    model = pipeline.get_model("tiny")
    c = pipeline.contrastive_salience(model, view.seq, sorted(first.token_indices),
                                      pipeline.foil_ids(model, foil_text), "grad_dot_input")
    return c, segment_scores(segments, c.token_scores(len(view.seq.tokens)))


def _assert_overlay(at, expected) -> None:
    shown = dict(overlay(at))
    assert shown, "no overlay"
    for index, value in shown.items():
        assert value == pytest.approx(expected[index], rel=1e-4, abs=1e-7), index


def test_picking_an_alternative_paints_the_contrast_and_a_link_restores_it():
    at = make_app()
    at.run()
    view, segments, first = generate_and_select_first_word(at)
    assert at.session_state["dbg_m"] == "grad_l2"
    box = at.selectbox(key="dbg_foil_choice")
    assert box.options[0] == "No contrast" and box.options[-1] == "Type a foil…"
    assert len(box.options) > 2, "no alternatives offered"
    box.set_value(box.options[1]).run()
    no_crash(at)
    assert not errors(at)
    foil = at.session_state["dbg_foil"]
    assert foil and at.session_state["dbg_m"] == "grad_dot_input"  # the contrast is signed
    contrast, expected = _expected(view, segments, first, foil)
    _assert_overlay(at, expected)
    from lib import pipeline
    from lib.segments import segment_scores

    plain = segment_scores(segments, pipeline.salience(
        pipeline.get_model("tiny"), view.seq, sorted(first.token_indices), "grad_dot_input").scores)
    assert any(abs(v - plain[i]) > 1e-6 for i, v in overlay(at)), "plain scores, not the contrast"
    notes = " ".join(m.value for m in at.markdown)
    assert f"log p(selection) = {contrast.target_logprob:.3f}" in notes
    assert f"log p(foil) = {contrast.foil_logprob:.3f}" in notes
    assert at.query_params["foil"] == [foil] or at.query_params["foil"] == foil

    # The JSON export carries the foil and both log-probabilities.
    at.session_state["dbg_export_json_asked"] = "r1"
    at.run()
    from tests.app.conftest import component_data

    sent = [d for d in component_data(at) if d.get("file_name") == "salience-scores.json"]
    data = json.loads(sent[0]["content"])
    assert data["foil"] == foil
    assert data["contrast"]["target_logprob"] == pytest.approx(contrast.target_logprob)
    assert data["contrast"]["foil_logprob"] == pytest.approx(contrast.foil_logprob)

    # Share: the link (?run= alone) reopens the contrast.
    at.button(key="dbg_share").click().run()
    run_id = at.session_state["dbg_shared"]
    fresh = make_app()
    fresh.query_params["run"] = run_id
    fresh.run()
    no_crash(fresh)
    assert not errors(fresh)
    assert fresh.session_state["dbg_foil"] == foil
    assert fresh.session_state["dbg_m"] == "grad_dot_input"
    _assert_overlay(fresh, expected)


def test_typed_foil_and_back_to_no_contrast():
    at = make_app()
    at.run()
    view, segments, first = generate_and_select_first_word(at)
    at.selectbox(key="dbg_foil_choice").set_value("Type a foil…").run()
    at.text_input(key="dbg_foil_typed").set_value(" Avoid.").run()
    no_crash(at)
    assert at.session_state["dbg_foil"] == " Avoid."
    _, expected = _expected(view, segments, first, " Avoid.")
    _assert_overlay(at, expected)
    at.selectbox(key="dbg_foil_choice").set_value("No contrast").run()
    no_crash(at)
    assert at.session_state["dbg_foil"] is None
    assert "foil" not in at.query_params


def test_a_link_with_a_foil_opens_the_contrast():
    at = make_app()
    at.run()
    view, segments, first = generate_and_select_first_word(at)
    at.button(key="dbg_share").click().run()
    run_id = at.session_state["dbg_shared"]
    fresh = make_app()
    fresh.query_params.update(run=run_id, m="grad_dot_input", sel=str(first.index),
                              foil=" Avoid.")
    fresh.run()
    no_crash(fresh)
    assert not errors(fresh)
    assert fresh.session_state["dbg_foil"] == " Avoid."
    assert fresh.selectbox(key="dbg_foil_choice").value == "Type a foil…"
    _, expected = _expected(view, segments, first, " Avoid.")
    _assert_overlay(fresh, expected)
