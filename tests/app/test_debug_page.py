"""The Debug page through AppTest on the tiny model."""

from __future__ import annotations

import pytest

from tests.app.conftest import LIT_SAMPLE, errors, make_app, no_crash, overlay

pytestmark = pytest.mark.usefixtures("studio_env")


def _generate(at, max_new: int = 4):
    at.number_input(key="dbg_max_new").set_value(max_new)
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    return at.session_state["dbg_view"]


def test_template_variables_become_inputs_and_render():
    at = make_app()
    at.run()
    no_crash(at)
    labels = [t.label for t in at.text_input]
    for name in ("food_likes", "food_dislikes", "menu_item"):
        assert name in labels
    assert at.text_input(key="dbg_var_menu_item").value == "Quiche Lorraine"
    at.text_input(key="dbg_var_menu_item").set_value("Tarte Tatin").run()
    preview = [c.value for c in at.code]
    assert any("Suggestion: Tarte Tatin\nAnalysis:" in p for p in preview)
    # Editing the template text adds a variable input.
    text = at.text_area(key="dbg_template_text").value
    at.text_area(key="dbg_template_text").set_value(text + "\nMood: {mood}").run()
    assert "mood" in [t.label for t in at.text_input]


def test_generate_shows_output_and_max_new_tokens_changes_it():
    at = make_app()
    at.run()
    short = _generate(at, max_new=2)
    n_short = len(short.seq.tokens) - short.seq.prompt_length
    assert 1 <= n_short <= 2
    assert at.get("bidi_component") or any(
        type(e).__name__ == "UnknownElement" for e in at.main)  # the segment picker
    longer = _generate(at, max_new=8)
    n_long = len(longer.seq.tokens) - longer.seq.prompt_length
    assert n_long > n_short or longer.stop_reason != "max_new_tokens"
    assert longer.seq.input_text == short.seq.input_text
    assert len(longer.probs) == n_long and all(0 < p <= 1 for p in longer.probs)
    assert at.query_params["g"] == "words"


def test_typed_target_is_what_gets_explained():
    at = make_app()
    at.run()
    at.radio(key="dbg_target_mode").set_value("typed").run()
    at.text_input(key="dbg_typed_target").set_value(" Avoid.").run()
    view = _generate(at, max_new=2)
    assert view.target_mode == "typed"
    assert view.seq.target == " Avoid."
    assert view.seq.input_text.endswith("Analysis:")


def test_selection_from_session_state_colours_the_prompt_with_engine_scores():
    from lib import pipeline
    from lib.segments import segment_scores, segment_sequence

    at = make_app()
    at.run()
    view = _generate(at, max_new=4)
    segs = segment_sequence(view.seq, "words")
    out = [s for s in segs if not s.in_prompt]
    assert overlay(at) == []  # nothing selected, nothing coloured
    at.session_state["dbg_sel"] = (out[0].index, out[0].index)
    at.run()
    no_crash(at)
    shown = dict(overlay(at))
    model = pipeline.get_model("tiny")
    ref = pipeline.salience(model, view.seq, list(out[0].token_indices), "grad_l2")
    expected = segment_scores(segs, ref.scores)
    prompt_idx = [s.index for s in segs if s.in_prompt]
    assert prompt_idx and all(i in shown for i in prompt_idx)
    for s, v in zip(segs, expected, strict=True):
        if s.in_prompt:
            assert shown[s.index] == pytest.approx(v, rel=1e-4, abs=1e-6)
    assert at.query_params["sel"] == str(out[0].index)
    assert len(at.get("plotly_chart")) == 2  # the top segments and the prompt parts


def test_empty_prompt_error_keeps_text_and_no_traceback():
    at = make_app()
    at.run()
    at.radio(key="dbg_source").set_value("Raw prompt").run()
    at.text_area(key="dbg_raw").set_value("   \n ").run()
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    assert any("prompt is empty" in e for e in errors(at))
    assert at.text_area(key="dbg_raw").value == "   \n "


def test_missing_variable_names_the_variable():
    at = make_app()
    at.run()
    at.text_input(key="dbg_var_food_dislikes").set_value("").run()
    assert any("food_dislikes" in e for e in errors(at)), errors(at)
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    assert "dbg_view" not in at.session_state
    assert at.text_input(key="dbg_var_menu_item").value == "Quiche Lorraine"


def test_bad_jsonl_line_is_reported_with_its_number():
    at = make_app()
    at.run()
    at.radio(key="dbg_source").set_value("Upload .jsonl").run()
    pasted = '{"prompt": "ok"}\n{"prompt": oops}\n'
    at.text_area(key="dbg_jsonl_text").set_value(pasted).run()
    no_crash(at)
    assert any("line 2" in e.lower() for e in errors(at)), errors(at)
    assert at.text_area(key="dbg_jsonl_text").value == pasted


@pytest.mark.parametrize("params, fragment", [
    ({"run": "A" * 30}, "No saved run"),
    ({"run": "'; DROP TABLE runs;--"}, "malformed"),
    ({"g": "<script>"}, "granularity"),
    ({"m": "integrated"}, "method"),
    ({"sel": "1-2-3"}, "sel="),
])
def test_hostile_url_parameters_give_specific_errors(params, fragment):
    at = make_app()
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    no_crash(at)
    assert any(fragment in e for e in errors(at)), errors(at)


def test_out_of_range_selection_is_an_error_not_a_crash():
    at = make_app()
    at.query_params["sel"] = "99999"
    at.run()
    _generate(at, max_new=2)
    at.session_state["dbg_sel"] = (99999, 99999)
    at.run()
    no_crash(at)
    assert any("not a segment of the output" in e for e in errors(at)), errors(at)


def test_share_then_open_link_restores_view_without_model_work(monkeypatch):
    at = make_app()
    at.run()
    view = _generate(at, max_new=4)
    from lib.segments import segment_sequence

    out = [s for s in segment_sequence(view.seq, "words") if not s.in_prompt]
    at.session_state["dbg_sel"] = (out[0].index, out[-1].index)
    at.run()
    before = overlay(at)
    assert before
    at.button(key="dbg_share").click().run()
    no_crash(at)
    run_id = at.session_state["dbg_shared"]
    # Without a browser URL (AppTest) the link is relative; test_debug_restore covers the
    # absolute form.
    assert at.session_state["dbg_share_url"] == f"?run={run_id}"

    # Opening the link must not generate or compute anything.
    from lib import pipeline

    def boom(*a, **k):
        raise AssertionError("model work while restoring a shared run")

    monkeypatch.setattr(pipeline, "generate", boom)
    monkeypatch.setattr(pipeline, "salience", boom)
    fresh = make_app()
    fresh.query_params["run"] = run_id
    fresh.run()
    no_crash(fresh)
    assert not errors(fresh)
    restored = fresh.session_state["dbg_view"]
    assert restored.seq == view.seq and restored.run_id == run_id
    assert fresh.session_state["dbg_sel"] == (out[0].index, out[-1].index)
    assert overlay(fresh) == before
    assert fresh.query_params["run"] == run_id


def test_every_row_of_lits_sample_file_can_be_picked_and_generated():
    data = LIT_SAMPLE.read_bytes()
    at = make_app()
    at.run()
    at.radio(key="dbg_source").set_value("Upload .jsonl").run()
    at.file_uploader(key="dbg_upload").set_value(
        ("lit_prompt_examples.jsonl", data, "application/json")).run()
    no_crash(at)
    rows = at.selectbox(key="dbg_row").options
    assert len(rows) == 12
    at.number_input(key="dbg_max_new").set_value(1)
    import json

    prompts = [json.loads(line)["prompt"] for line in data.decode().splitlines() if line.strip()]
    for i in range(12):
        at.selectbox(key="dbg_row").set_value(i)
        at.button(key="dbg_generate").click().run()
        no_crash(at)
        assert not errors(at), (i, errors(at))
        assert at.session_state["dbg_view"].prompt == prompts[i]


def test_template_with_part_marker_renders_without_it():
    # The summary template carries an {#input} part marker: the page accepts it and the
    # prompt preview (what the model sees) has no trace of it.
    at = make_app()
    at.run()
    at.selectbox(key="dbg_template_id").set_value("summary").run()
    no_crash(at)
    assert "{#input}" in at.text_area(key="dbg_template_text").value
    assert not errors(at)
    preview = [c.value for c in at.code]
    assert any(p.startswith("Summarize the following text") and "\nText: The city" in p
               for p in preview)
    assert not any("{#" in p for p in preview)


def test_a_generate_request_outlives_a_run_that_was_interrupted_before_it_answered():
    """Generate's callback keeps the request in session state: the run after an interrupted
    one (another rerun came first) still generates, once; an error ends the request."""
    from lib.ui.debug import GENERATE_ASKED

    at = make_app()
    at.run()
    at.number_input(key="dbg_max_new").set_value(4).run()
    at.session_state[GENERATE_ASKED] = True  # as the callback left it before the interruption
    at.run()
    no_crash(at)
    first = at.session_state["dbg_view"]
    assert GENERATE_ASKED not in at.session_state
    at.run()  # answered: a later run does not generate again
    assert at.session_state["dbg_view"] is first

    at.radio(key="dbg_source").set_value("Raw prompt").run()
    at.text_area(key="dbg_raw").set_value("   ").run()
    at.button(key="dbg_generate").click().run()
    assert any("The prompt is empty" in e for e in errors(at)), errors(at)
    assert GENERATE_ASKED not in at.session_state
    at.run()
    assert not any("The prompt is empty" in e for e in errors(at))  # not asked again
