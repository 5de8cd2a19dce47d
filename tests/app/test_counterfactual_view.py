"""Debug's counterfactual check (AppTest, tiny model): drop the most salient prompt segment,
see the same numbers an independent engine call gives, the deletion curve, the checks in the
JSON export and the report, and "Open in Compare" filling two variants."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import (
    component_data,
    generate_and_select_first_word,
    make_app,
    no_crash,
)

pytestmark = pytest.mark.usefixtures("studio_env")


def _export(at, name: str) -> str:  # noqa: ANN001
    at.session_state[f"dbg_export_{name}_asked"] = f"ask-{name}"
    at.run()
    no_crash(at)
    file_name = {"json": "salience-scores.json", "html": "salience-report.html"}[name]
    return next(d["content"] for d in component_data(at) if d.get("file_name") == file_name)


def test_dropping_the_top_segment_shows_the_engines_numbers_and_goes_into_the_exports():
    from lib import pipeline
    from lib.counterfactual import counterfactual, prompt_offset
    from lib.records import GenerationSettings

    at = make_app()
    at.run()
    view, segments, first = generate_and_select_first_word(at)
    no_crash(at)
    box = at.selectbox(key="dbg_cf_span")
    label = box.options[0]  # the most salient prompt segment
    chosen = next(s for s in segments if s.in_prompt and label.startswith(f"#{s.index} "))
    at.button(key="dbg_cf_run").click().run()
    no_crash(at)
    assert not at.error, [e.value for e in at.error]

    # The same check, asked of the engine directly.
    model = pipeline.get_model("tiny")
    chat = model.default_chat_template if view.settings.chat_template is None \
        else view.settings.chat_template
    offset = prompt_offset(model, view.prompt, chat)
    want = counterfactual(
        model, view.prompt, view.seq, sorted(first.token_indices),
        [(chosen.start - offset, chosen.end - offset)],
        settings=GenerationSettings(max_new_tokens=view.settings.max_new_tokens,
                                    stop=view.settings.stop,
                                    chat_template=view.settings.chat_template))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["log p(target), before"] == f"{want.target_logprob_before:.3f}"
    assert metrics["after the edit"] == f"{want.target_logprob_after:.3f}"
    assert metrics["change"] == f"{want.delta:+.3f}"
    captions = " ".join(c.value for c in at.caption)
    assert f"the same edit on {len(want.controls)} random spans" in captions

    at.button(key="dbg_cf_curve_run").click().run()
    no_crash(at)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    curve = next(f for f in charts if f["layout"].get("title", {}).get("text") == "Deletion curve")
    assert [t["name"] for t in curve["data"]] == ["most salient first", "random order"]
    assert curve["data"][0]["y"][0] == pytest.approx(want.target_logprob_before, abs=1e-4)

    exported = json.loads(_export(at, "json"))
    assert exported["counterfactual"]["delta"] == pytest.approx(want.delta)
    assert exported["counterfactual"]["edited_prompt"] == want.edited_prompt
    assert exported["deletion_curve"]["k"][0] == 0
    report = _export(at, "html")
    assert "<h2>Counterfactual check</h2>" in report and "<h2>Deletion curve</h2>" in report
    assert "<script" not in report.lower()


def test_open_in_compare_fills_two_variants_with_the_original_and_the_edited_prompt():
    at = make_app()
    at.run()
    view, _, _ = generate_and_select_first_word(at)
    at.radio(key="dbg_cf_action").set_value("Replace it with…").run()
    at.text_input(key="dbg_cf_with").set_value("{not a variable} <b>x</b>").run()
    at.button(key="dbg_cf_run").click().run()
    no_crash(at)
    edited = at.session_state["dbg_cf_result"]["check"]["edited_prompt"]
    assert "{not a variable} <b>x</b>" in edited
    at.button(key="dbg_cf_compare").click().run()
    no_crash(at)
    assert at.session_state["cmp_n"] == 2
    # The prompts as literal templates: their braces are not variables.
    from lib.templates import render_template

    texts = [at.session_state[f"cmp_text_{i}"] for i in (0, 1)]
    assert [render_template(t, {}) for t in texts] == [view.prompt, edited]
    # Compare opened and generated both at once: the usual side-by-side view follows.
    assert "cmp_generate_now" not in at.session_state
    assert [v.prompt for v in at.session_state["cmp_views"]] == [view.prompt, edited]


def test_a_share_link_shows_the_check_again_and_a_damaged_one_shows_nothing():
    from lib.runs import default_store

    at = make_app()
    at.context = {"url": "http://127.0.0.1:8501/"}
    at.run()
    generate_and_select_first_word(at)
    at.button(key="dbg_cf_run").click().run()
    shown = {m.label: m.value for m in at.metric}
    at.button(key="dbg_share").click().run()
    no_crash(at)
    run_id = at.session_state["dbg_shared"]

    fresh = make_app()
    fresh.query_params["run"] = run_id
    fresh.run()
    no_crash(fresh)
    assert {m.label: m.value for m in fresh.metric} == shown

    # The same record with its check damaged (as a hand-edited database could hold it).
    record = default_store().get(run_id).record
    record["ui"]["counterfactual"] = {**record["ui"]["counterfactual"], "delta": "oops",
                                      "controls": "none"}
    damaged = default_store().save(record, owner="someone-else-0123456789", title="damaged",
                                   kind="debug")
    other = make_app()
    other.query_params["run"] = damaged
    other.run()
    no_crash(other)
    assert not other.metric and not other.exception
