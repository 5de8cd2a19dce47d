"""Widgets whose value code sets carry that value as their own default in every run.

A browser that draws such a widget for the first time from a later run than the one that set it
(its component code was still downloading) starts it from the element's default and sends that
back; tests/browser/test_url_state.py shows that in Chromium. Here: the elements themselves.
"""

from __future__ import annotations

import logging

import pytest

from tests.app.conftest import make_app, no_crash

pytestmark = pytest.mark.usefixtures("studio_env")


def test_debug_inputs_carry_the_session_values_as_defaults():
    at = make_app()
    at.run()
    at.run()  # the second run's elements are the ones a late browser would draw from
    no_crash(at)
    template = at.text_area(key="dbg_template_text")
    assert template.proto.default == at.session_state["dbg_template_text"]
    assert template.proto.default.startswith("Analyze a menu item")
    assert at.text_input(key="dbg_var_food_dislikes").proto.default == "Can't eat eggs"
    assert at.text_input(key="dbg_stop").proto.default == "\\n\\n"
    assert at.number_input(key="dbg_max_new").proto.default == 32

    # Values code sets later (a restored run, a link) likewise.
    at.session_state["dbg_source"] = "Raw prompt"
    at.session_state["dbg_raw"] = "Why is the sky blue?"
    at.run()
    at.run()
    no_crash(at)
    assert at.radio(key="dbg_source").proto.default == 2
    assert at.text_area(key="dbg_raw").proto.default == "Why is the sky blue?"


def test_compare_inputs_carry_the_session_values_as_defaults():
    at = make_app("app_pages/compare.py")
    at.run()
    at.run()
    no_crash(at)
    assert at.radio(key="cmp_n").proto.default == 1  # 3 variants, the second option
    for i, tid in enumerate(("fewshot-mistake", "fewshot-fixed", "fewshot-constitution")):
        text = at.text_area(key=f"cmp_text_{i}")
        assert text.proto.default == at.session_state[f"cmp_text_{i}"] != ""
        assert at.selectbox(key=f"cmp_tpl_{i}").value == tid
    assert at.selectbox(key="cmp_tpl_2").proto.default == 2
    assert at.number_input(key="cmp_max_new").proto.default == 32


def test_only_the_deliberate_default_warning_is_dropped(caplog):
    import lib.ui.common  # noqa: F401  (installs the filter)

    log = logging.getLogger("streamlit.elements.lib.policies")
    with caplog.at_level(logging.WARNING, logger=log.name):
        log.warning('The widget with key "%s" was created with a default value but also had '
                    "its value set via the Session State API.", "dbg_template_text")
        log.warning("Some other policy warning.")
    assert [r.getMessage() for r in caplog.records] == ["Some other policy warning."]
