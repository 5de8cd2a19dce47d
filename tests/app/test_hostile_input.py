"""Hostile and bad input through AppTest on the tiny model: specific errors, nothing lost,
hostile URL parameters never crash the page or load anything (fills gaps left by
test_debug_page.py / test_compare_runs_pages.py, which cover the first cases)."""

from __future__ import annotations

import json
import re

import pytest

from tests.app.conftest import errors, make_app, no_crash, raw_errors
from tests.hostile_corpus import (
    ACTIVE,
    INVISIBLE,
    MORE_INVISIBLE,
    SELECTORS_AND_BLANKS,
    UNMARKED_BEFORE,
)

pytestmark = pytest.mark.usefixtures("studio_env")


def _raw(at, text: str):
    at.radio(key="dbg_source").set_value("Raw prompt").run()
    at.text_area(key="dbg_raw").set_value(text).run()
    return at


# ---- templates -----------------------------------------------------------------------------
@pytest.mark.parametrize(("template", "fragments"), [
    ("Hello {name", ["opening brace", "character 7", "no closing"]),
    ("Hello name}", ["closing brace", "character 11", "no opening"]),
    ("Item {0}", ["'{0}'", "positional"]),
    ("Item {}", ["'{}'", "positional"]),
    ("Item {a.b}", ["'{a.b}'", "attribute or index"]),
    ("Item {a[0]}", ["'{a[0]}'", "attribute or index"]),
    ("Item {a:>3}", ["'{a:>3}'", "format spec"]),
    ("Item {a!r}", ["'{a!r}'", "conversion"]),
    ("Item {a {b}}", ["another '{'", "nested"]),
])
def test_bad_template_names_piece_and_position_and_keeps_text(template, fragments):
    at = make_app()
    at.run()
    at.text_area(key="dbg_template_text").set_value(template).run()
    no_crash(at)
    msgs = [e for e in errors(at) if "template" in e.lower()]
    assert msgs, errors(at)
    for fragment in fragments:
        assert fragment in msgs[0], msgs[0]
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    assert "dbg_view" not in at.session_state
    assert at.text_area(key="dbg_template_text").value == template


def test_whitespace_only_variable_is_named_and_kept():
    at = make_app()
    at.run()
    at.text_input(key="dbg_var_menu_item").set_value("  \t ").run()
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    assert any("{menu_item}" in e and "empty" in e for e in errors(at)), errors(at)
    assert at.text_input(key="dbg_var_menu_item").value == "  \t "


def test_hostile_variable_values_are_inserted_verbatim():
    # A value holding {braces} or markup is text, never re-parsed as a template.
    value = "{menu_item} {0} " + ACTIVE[0].text + INVISIBLE[2]
    at = make_app()
    at.run()
    at.text_input(key="dbg_var_menu_item").set_value(value).run()
    no_crash(at)
    assert not errors(at), errors(at)
    assert any(f"Suggestion: {value}\nAnalysis:" in c.value for c in at.code)


# ---- .jsonl uploads ------------------------------------------------------------------------
def _upload(at, data: bytes):
    at.radio(key="dbg_source").set_value("Upload .jsonl").run()
    at.file_uploader(key="dbg_upload").set_value(("rows.jsonl", data, "application/json")).run()
    no_crash(at)
    return errors(at)


@pytest.mark.parametrize(("data", "fragment"), [
    (b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n', "not UTF-8 text: line 2"),
    (b'{"prompt": "ok"}\n{"target": "x"}\n', 'Line 2 has no "prompt" field'),
    (b'{"prompt": "ok"}\n\n{"prompt": 7}\n', 'Line 3: the "prompt" field must be a string'),
    (b'{"prompt": "p", "target": ["a"]}\n', '"target" field must be a string, not array'),
    (b'{"prompt": "a\\ud800"}\n', "invalid escape \\ud800"),
    (b"", None),  # an empty upload: asked to upload or paste rows
    ("\ufeff\n".encode(), "no rows"),  # only a byte-order mark
    (b'{"prompt": "x"}\n' * 320_000, "upload limit"),
])
def test_bad_upload_is_a_specific_error(data, fragment):
    at = make_app()
    at.run()
    msgs = _upload(at, data)
    if fragment is None:
        assert any("Upload a .jsonl file" in e for e in msgs), msgs
    else:
        assert any(fragment in e for e in msgs), msgs
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    assert "dbg_view" not in at.session_state


def test_hostile_upload_fields_are_kept_exactly_and_labelled_as_text():
    prompt = "\n".join(p.text for p in ACTIVE) + "".join(INVISIBLE)
    row = {"prompt": prompt, "target": " <eos>" + INVISIBLE[2], "source": "<b>x</b>\u202e"}
    at = make_app()
    at.run()
    assert _upload(at, (json.dumps(row) + "\n").encode()) == []
    at.number_input(key="dbg_max_new").set_value(1)
    at.radio(key="dbg_target_mode").set_value("row").run()
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    view = at.session_state["dbg_view"]
    assert view.prompt == prompt
    assert view.seq.target == row["target"]


# ---- prompt length, settings, regex --------------------------------------------------------
def test_prompt_over_the_limit_is_a_specific_error_and_kept():
    text = "a " * 9000
    at = _raw(make_app().run(), text)
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    assert any("over this model's limit of 8192" in e for e in errors(at)), errors(at)
    assert at.text_area(key="dbg_raw").value == text


@pytest.mark.parametrize(("pattern", "fragment"), [
    ("(a|aa)+$", "took longer than"),
    ("[", "not a valid regular expression"),
    ("a*", "matches the empty string"),
    ("x" * 501, "limit is 500"),
])
def test_custom_regex_invalid_or_catastrophic_is_an_error_and_kept(pattern, fragment):
    at = _raw(make_app().run(), "a" * 60 + "!")
    at.number_input(key="dbg_max_new").set_value(1)
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    at.selectbox(key="dbg_g").set_value("regex").run()
    at.text_input(key="dbg_pattern").set_value(pattern).run()
    no_crash(at)
    assert any(fragment in e for e in errors(at)), errors(at)
    assert at.text_input(key="dbg_pattern").value == pattern
    assert at.text_area(key="dbg_raw").value == "a" * 60 + "!"


# ---- hostile URL parameters ----------------------------------------------------------------
HUGE = "A" * 100_000


@pytest.mark.parametrize(("params", "fragment"), [
    ({"run": "' OR 1=1 --"}, "malformed"),
    ({"run": HUGE}, "malformed"),
    ({"run": "Z" * 22}, "No saved run"),
    ({"run": "../../etc/passwd"}, "malformed"),
    ({"sel": "-1"}, "sel="),
    ({"sel": "3-"}, "sel="),
    ({"sel": "1e9"}, "sel="),
    ({"sel": "9" * 40}, "sel="),
    ({"sel": HUGE}, "sel="),
    ({"g": HUGE}, "granularity"),
    ({"m": "../../etc/passwd"}, "method"),
])
@pytest.mark.parametrize("page", ["app.py", "app_pages/compare.py"])
def test_hostile_url_parameter_gives_a_short_specific_error(page, params, fragment):
    at = make_app(page)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    no_crash(at)
    msgs = [e for e in errors(at) if fragment in e]
    assert msgs, errors(at)
    assert all(len(e) < 600 for e in errors(at)), "an error echoes the whole parameter"


@pytest.mark.parametrize("params", [
    {"model": "../../etc/passwd"},
    {"model": "/etc/passwd"},
    {"model": "kaggle://keras/gemma/keras/gemma_2b_en/2"},
    {"spec": "embedded"},
    {"path": "/etc/shadow"},
    {"STUDIO_MODEL": "embedded"},
    {"owner": "anon:" + "x" * 24},
])
def test_model_or_path_in_the_url_is_ignored_and_loads_nothing(params):
    from lib.models import registry

    before = registry.loaded_specs()
    at = make_app()
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    no_crash(at)
    at.number_input(key="dbg_max_new").set_value(1)
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    assert at.session_state["dbg_view"].model_spec == "tiny"
    assert registry.loaded_specs() == before


@pytest.mark.parametrize("params", [{"g": "[Sign in](https://ev.il/x)"},
                                    {"m": "[Sign in](https://ev.il/x)"}])
def test_url_value_in_an_error_is_not_markdown(params):
    at = make_app()
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    no_crash(at)
    assert errors(at)
    for e in raw_errors(at):
        assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", e), e


# ---- the browser picker marks what the server marks ----------------------------------------
def _picker_class() -> re.Pattern[str]:
    from lib.ui import segment_picker

    source = re.search(r"const HIDDEN = /(\[.*?\])/", segment_picker.PICKER_JS).group(1)
    # JS \uXXXX / \u{X} -> Python escapes: the same character class.
    source = re.sub(r"\\u\{([0-9A-Fa-f]+)\}", lambda m: f"\\U{int(m.group(1), 16):08X}", source)
    return re.compile(source)


def test_picker_marks_the_basic_invisible_characters():
    picker = _picker_class()
    assert [ch for ch in INVISIBLE if not picker.fullmatch(ch)] == []


def test_picker_marks_everything_the_overlay_marks():
    from lib.text_safety import is_invisible

    picker = _picker_class()
    chars = MORE_INVISIBLE + UNMARKED_BEFORE + SELECTORS_AND_BLANKS
    assert all(is_invisible(ch) for ch in chars)
    assert [f"U+{ord(ch):04X}" for ch in chars if not picker.fullmatch(ch)] == []
