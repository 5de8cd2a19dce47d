"""The limits the UI states are the ones the engine enforces."""

from __future__ import annotations

import pytest

from tests.app.conftest import make_app, no_crash


def test_ui_max_new_tokens_matches_the_engine():
    from lib.generation import MAX_NEW_TOKENS
    from lib.ui import common

    assert common.MAX_NEW_TOKENS == MAX_NEW_TOKENS


@pytest.mark.usefixtures("studio_env")
def test_limits_panel_shows_the_models_token_limits():
    from lib import pipeline
    from lib.ui.model_service import get_service

    model = pipeline.get_model("tiny")
    at = make_app()
    at.run()
    no_crash(at)
    # The server's model service loads in the background (instantly here: the model is in this
    # process already); once it is ready the panel shows its limits, not a placeholder.
    get_service("tiny").wait_loaded(120)
    at.run()
    text = " ".join(m.value for m in at.sidebar.markdown)
    assert f"{model.max_prompt_tokens:,}" in text and f"{model.max_salience_tokens:,}" in text
    assert "1–512" in text and "5 MB" in text and "16 MB" in text  # .jsonl file, one run
    assert "100,000" in text  # characters of a document or a typed prompt
    assert at.number_input(key="dbg_max_new").max == 512


@pytest.mark.usefixtures("studio_env")
def test_limits_panel_shows_the_saved_run_limits_and_usage(monkeypatch):
    from lib.runs import default_store

    monkeypatch.setenv("STUDIO_MAX_RUN_BYTES", "250000")
    monkeypatch.setenv("STUDIO_MAX_STORE_BYTES", "3000000")
    store = default_store()
    store.save({"model": {"name": "tiny"}}, owner="anon:" + "l" * 24, title="limits")
    count, used = store.usage()
    assert count >= 1 and used > 0
    at = make_app()
    at.run()
    no_crash(at)
    text = " ".join(m.value for m in at.sidebar.markdown)
    assert "One saved run: **250 kB**" in text, text
    assert "All saved runs on this server: **3 MB**" in text, text
    assert f"used by {count:,} run" in text, text


@pytest.mark.usefixtures("studio_env")
def test_limits_panel_survives_a_bad_store_setting(monkeypatch):
    monkeypatch.setenv("STUDIO_MAX_RUN_BYTES", "lots")
    at = make_app()
    at.run()
    no_crash(at)
    text = " ".join(m.value for m in at.sidebar.markdown)
    assert "Saved runs: the store cannot be read" in text and "One saved run" not in text
