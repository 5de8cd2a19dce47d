"""Template syntax, its errors, and the built-in library (checked against LIT's own file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib.errors import InputError
from lib.templates import (
    BUILTIN_TEMPLATES,
    PromptTemplate,
    get_template,
    parse_template,
    render_template,
    template_variables,
)

LIT_FILE = Path(__file__).resolve().parent / "fixtures" / "peers" / "lit_prompt_examples.jsonl"


def lit_prompts() -> dict[str, str]:
    rows = [json.loads(line) for line in LIT_FILE.read_text("utf-8").splitlines() if line.strip()]
    out: dict[str, str] = {}
    for row in rows:
        out.setdefault(row["source"], row["prompt"])
    return out


@pytest.mark.parametrize("template_id", ["fewshot-mistake", "fewshot-fixed", "fewshot-constitution"])
def test_menu_variants_equal_lit_rows_exactly(template_id):
    assert LIT_FILE.exists(), f"LIT sample file missing at {LIT_FILE}"
    t = get_template(template_id)
    assert template_variables(t.text) == ["food_likes", "food_dislikes", "menu_item"]
    assert t.default_values() == {
        "food_likes": "Cheese", "food_dislikes": "Can't eat eggs", "menu_item": "Quiche Lorraine",
    }
    assert t.stop == ("\n\n",)
    assert render_template(t.text, t.default_values()) == lit_prompts()[template_id]


def test_menu_variants_differ_where_the_story_says():
    mistake, fixed, const = (get_template(i).render() for i in
                             ("fewshot-mistake", "fewshot-fixed", "fewshot-constitution"))
    assert "Onion soup\nAnalysis: it has cooked onions in it, which you don't like.\n" \
           "Recommendation: You have to try it." in mistake
    assert "which you don't like.\nRecommendation: Avoid." in fixed
    assert "The analysis should be brief and to the point." in const
    assert "The analysis should be brief" not in fixed


def test_all_builtins_render_with_defaults_and_ids_unique():
    ids = [t.id for t in BUILTIN_TEMPLATES]
    assert len(ids) == len(set(ids)) and len(ids) >= 6
    for t in BUILTIN_TEMPLATES:
        assert isinstance(t, PromptTemplate)
        assert set(template_variables(t.text)) == set(t.default_values()), t.id
        rendered = render_template(t.text, t.default_values())
        assert "{" not in rendered and rendered.strip(), t.id
        assert t.title and t.description
    assert template_variables(get_template("summary").text) == ["text"]


def test_get_template_unknown():
    with pytest.raises(InputError) as err:
        get_template("nope")
    assert err.value.field == "template" and "fewshot-mistake" in str(err.value)


def test_variables_in_order_of_first_appearance():
    assert template_variables("{b} {a} {b} {_c1}") == ["b", "a", "_c1"]
    assert template_variables("no variables here") == []


def test_literal_braces():
    text = "JSON: {{\"k\": {value}}} and }}{{"
    assert template_variables(text) == ["value"]
    assert render_template(text, {"value": "1"}) == 'JSON: {"k": 1} and }{'


def test_values_inserted_verbatim_not_reparsed():
    out = render_template("Hi {name}!", {"name": "{0.__class__} {{x}} {other}"})
    assert out == "Hi {0.__class__} {{x}} {other}!"


@pytest.mark.parametrize(
    ("text", "piece", "position", "words"),
    [
        ("Hello {name", "{", 7, "no closing"),
        ("Hello name}", "}", 11, "no opening"),
        ("a {x{y}}", "{", 3, "Variables cannot be nested"),
        ("a {x {", "{", 3, "Variables cannot be nested"),
        ("Item {0} here", "{0}", 6, "positional"),
        ("Item {} here", "{}", 6, "positional"),
        ("{a.b}", "{a.b}", 1, "attribute or index"),
        ("xx {a[0]}", "{a[0]}", 4, "attribute or index"),
        ("{a:>3}", "{a:>3}", 1, "format spec"),
        ("{a!r}", "{a!r}", 1, "conversion"),
        ("{my name}", "{my name}", 1, "not a plain variable name"),
        ("{1abc}", "{1abc}", 1, "not a plain variable name"),
        ("{é}", "{é}", 1, "not a plain variable name"),
    ],
)
def test_template_errors_quote_piece_and_position(text, piece, position, words):
    with pytest.raises(InputError) as err:
        template_variables(text)
    msg = str(err.value)
    assert err.value.field == "template"
    assert piece in msg and f"character {position}" in msg and words in msg
    with pytest.raises(InputError):
        render_template(text, {"a": "1", "name": "x"})


@pytest.mark.parametrize("value", [None, "", "   \n\t"])
def test_missing_or_empty_variable_names_field(value):
    values = {"a": "ok"} if value is None else {"a": "ok", "b": value}
    with pytest.raises(InputError) as err:
        render_template("{a} and {b}", values)
    assert err.value.field == "b" and "{b}" in str(err.value)


def test_parse_parts():
    assert parse_template("x{a}y{{") == [("text", "x"), ("var", "a"), ("text", "y{")]


def test_template_render_merges_defaults():
    t = get_template("fewshot-mistake")
    assert "Suggestion: Omelette\n" in t.render({"menu_item": "Omelette"})
    assert "Taste-likes: Cheese\n" in t.render({"menu_item": "Omelette"})


def test_template_and_variable_character_limits_apply_before_rendering():
    from lib.errors import LimitError
    from lib.input_limits import MAX_TEMPLATE_CHARS, MAX_VARIABLE_VALUE_CHARS, MAX_VARIABLES

    with pytest.raises(LimitError) as err:
        template_variables("x" * (MAX_TEMPLATE_CHARS + 1))
    assert err.value.field == "template" and f"{MAX_TEMPLATE_CHARS:,}" in str(err.value)
    assert render_template("x" * (MAX_TEMPLATE_CHARS - 3) + "{a}", {"a": "y"}).endswith("xy")
    with pytest.raises(LimitError) as err:
        render_template("Q: {q}", {"q": "v" * (MAX_VARIABLE_VALUE_CHARS + 1)})
    assert err.value.field == "q" and "{q}" in str(err.value)
    many = " ".join(f"{{v{i}}}" for i in range(MAX_VARIABLES + 1))
    with pytest.raises(LimitError, match=f"limit is {MAX_VARIABLES}"):
        render_template(many, {f"v{i}": "x" for i in range(MAX_VARIABLES + 1)})
