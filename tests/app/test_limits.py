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

    model = pipeline.get_model("tiny")
    at = make_app()
    at.run()
    no_crash(at)
    text = " ".join(m.value for m in at.sidebar.markdown)
    # The model is loaded in this process already, so its limits are shown, not a placeholder.
    assert f"{model.max_prompt_tokens:,}" in text and f"{model.max_salience_tokens:,}" in text
    assert "1–512" in text and "5 MB" in text
    assert at.number_input(key="dbg_max_new").max == 512
