"""Prompt parts: detection, template structure, part markers (lib/parts.py, lib/part_markers.py)."""

from __future__ import annotations

import hashlib
import re

import pytest

from lib.errors import InputError
from lib.parts import PART_KINDS, Part, detect_parts, template_parts
from lib.templates import (
    BUILTIN_TEMPLATES,
    get_template,
    parse_template,
    render_template,
    template_variables,
)

MENU_IDS = ["fewshot-mistake", "fewshot-fixed", "fewshot-constitution"]
EXAMPLE_LABELS = ["Example 1: Onion soup", "Example 2: Baguette maison au levain",
                  "Example 3: Macaron in france"]
# sha256 (first 16 hex digits) of each built-in's default render before part markers existed:
# the markers must leave what the model sees byte-identical.
RENDERS_BEFORE_MARKERS = {
    "fewshot-mistake": "a37942c9cb75de29", "fewshot-fixed": "f6ed743ec5c9d44e",
    "fewshot-constitution": "61d4b4e0e0e6f59c", "summary": "0cfd41d2126487ab",
    "brainstorm-principles": "f0b1c3b8f2c631da", "word-problem-steps": "1d09b3110eae6b31",
    "policy-compliance": "c213183174171fb0", "contract-question": "12ef30e426bfeb8f",
}


def text_of(prompt: str, part: Part) -> str:
    return "".join(prompt[s:e] for s, e in part.spans)


def assert_partition(prompt: str, parts: list[Part]) -> None:
    """Every character of the prompt in exactly one part; ids unique; kinds known."""
    owner = [0] * len(prompt)
    for p in parts:
        assert p.kind in PART_KINDS and p.spans, p
        assert (p.start, p.end) == (p.spans[0][0], p.spans[-1][1])
        for s, e in p.spans:
            for pos in range(s, e):
                owner[pos] += 1
        assert text_of(prompt, p).strip(), p  # no part of whitespace alone
    assert owner == [1] * len(prompt)
    assert len({p.id for p in parts}) == len(parts)


@pytest.mark.parametrize("template_id", MENU_IDS)
def test_menu_templates_give_the_parts_a_person_would_name(template_id):
    t = get_template(template_id)
    prompt, parts = template_parts(t.text, t.default_values())
    assert prompt == t.render()
    assert_partition(prompt, parts)
    by_id = {p.id: p for p in parts}
    examples = [p for p in parts if p.kind == "example"]
    assert [p.label for p in examples] == EXAMPLE_LABELS
    assert [p.id for p in examples] == ["example-1", "example-2", "example-3"]
    first = text_of(prompt, by_id["example-1"])
    assert first.startswith("Taste-likes: I've a sweet-tooth") and "Onion soup" in first
    for name, value in t.default_values().items():
        assert by_id[name].kind == "variable" and by_id[name].label == "{" + name + "}"
        assert text_of(prompt, by_id[name]) == value
    # The input is the last block minus the variables' values, which it surrounds.
    assert text_of(prompt, by_id["input"]) == \
        "Taste-likes: \nTaste-dislikes: \nSuggestion: \nAnalysis:"
    assert by_id["input"].start < by_id["food_likes"].start < by_id["input"].end
    assert text_of(prompt, by_id["instruction"]).strip() == "Analyze a menu item in a restaurant."
    principles = [p for p in parts if p.kind == "principle"]
    if template_id == "fewshot-constitution":
        assert [p.id for p in principles] == ["principle-1", "principle-2"]
        assert principles[0].label == "Principle 1: The analysis should be brief and to the point."
        assert text_of(prompt, principles[1]).startswith("* The analysis and recommendation")
    else:
        assert principles == []


def test_principles_template_with_a_variable_inside_a_principle():
    t = get_template("brainstorm-principles")
    prompt, parts = template_parts(t.text, {"audience": "teenagers", "item": "a spoon"})
    assert_partition(prompt, parts)
    principles = [p for p in parts if p.kind == "principle"]
    assert len(principles) == 3
    assert principles[0].label == "Principle 1: Each idea should be safe for {audience}."
    assert text_of(prompt, principles[0]) == "* Each idea should be safe for .\n"
    audience = next(p for p in parts if p.id == "audience")
    assert text_of(prompt, audience) == "teenagers"
    assert principles[0].start < audience.start < principles[0].end


@pytest.mark.parametrize("template", BUILTIN_TEMPLATES, ids=lambda t: t.id)
def test_every_builtin_partitions_its_prompt_and_renders_as_before(template):
    prompt, parts = template_parts(template.text, template.default_values())
    assert hashlib.sha256(prompt.encode()).hexdigest()[:16] == \
        RENDERS_BEFORE_MARKERS[template.id]
    stripped = re.sub(r"^\{#[^}\n]*\}[ \t\r]*\n", "", template.text, flags=re.M)
    assert render_template(stripped, template.default_values()) == prompt
    assert_partition(prompt, parts)
    kinds = {p.kind for p in parts}
    assert "instruction" in kinds and "input" in kinds, template.id
    for name in template_variables(template.text):
        assert any(p.id == name and p.kind == "variable" for p in parts)


def test_single_input_builtins_mark_their_input():
    t = get_template("summary")
    prompt, parts = template_parts(t.text, {"text": "Cats sleep a lot."})
    assert [(p.id, p.kind) for p in parts] == [
        ("instruction", "instruction"), ("input", "input"), ("text", "variable")]
    assert text_of(prompt, parts[1]) == "Text: \n\nSummary:"


def test_document_value_with_blank_lines_stays_one_part():
    t = get_template("policy-compliance")
    doc = "1. Scope.\n\nThis policy applies.\n\n2. Rules.\n\n* a\n* b"
    prompt, parts = template_parts(t.text, {"policy_document": doc, "case": "A case."})
    assert_partition(prompt, parts)
    assert text_of(prompt, next(p for p in parts if p.id == "policy_document")) == doc
    assert not [p for p in parts if p.kind == "principle"]  # the rules inside the value


def test_detect_parts_on_the_raw_menu_prompt():
    prompt = get_template("fewshot-constitution").render()
    parts = detect_parts(prompt)
    assert_partition(prompt, parts)
    assert [p.id for p in parts] == [
        "instruction", "principle-1", "principle-2", "text-for-example", "example-1",
        "example-2", "example-3", "text-now-analyze-one-more-example", "input"]
    assert [p.label for p in parts if p.kind == "example"] == EXAMPLE_LABELS
    assert text_of(prompt, parts[-1]).startswith("Taste-likes: Cheese\n")


def test_raw_prompt_splits_by_paragraphs():
    prompt = "Read this.\n\nFirst paragraph\nstill first.\n\n\nSecond one.\nx"
    parts = detect_parts(prompt)
    assert_partition(prompt, parts)
    assert [(p.kind, p.label) for p in parts] == [
        ("instruction", "Instruction"), ("other", "First paragraph"), ("other", "Second one.")]
    assert text_of(prompt, parts[1]) == "First paragraph\nstill first.\n\n\n"
    single = detect_parts("Why is the sky blue?")
    assert [(p.kind, p.id) for p in single] == [("other", "text-why-is-the-sky-blue")]


def test_qa_examples_without_a_bare_last_field_are_all_examples():
    prompt = "Q: 1+1\nA: 2\n\nQ: 2+2\nA: 4\n\nThanks."
    assert [p.kind for p in detect_parts(prompt)] == ["example", "example", "other"]
    prompt = "Answer.\n\nQ: 1+1\nA: 2\n\nQ: 2+2\nA: 4\n\nQ: 3+3\nA:"
    parts = detect_parts(prompt)
    assert [p.kind for p in parts] == ["instruction", "example", "example", "input"]
    assert [p.label for p in parts[1:3]] == ["Example 1: 1+1", "Example 2: 2+2"]


def test_markers_name_parts_and_are_not_rendered():
    text = ("{#instruction Task}\nRate the dish.\n\n"
            "{#principles}\nRules:\n* Be brief.\n* Be kind.\n\n"
            "{#example Soup}\nDish: soup\nVerdict: good\n\n"
            "{#example}\nDish: cake\nVerdict: sweet\n\n"
            "{#end}\nNow yours.\n\n"
            "{#input}\nDish: {dish}\nVerdict:")
    prompt, parts = template_parts(text, {"dish": "tart"})
    assert "{#" not in prompt and prompt.startswith("Rate the dish.\n\nRules:\n* Be brief.")
    assert prompt == render_template(text, {"dish": "tart"})
    assert_partition(prompt, parts)
    assert [(p.id, p.kind, p.label) for p in parts] == [
        ("instruction", "instruction", "Task"),
        ("text-rules", "other", "Rules:"),
        ("principle-1", "principle", "Principle 1: Be brief."),
        ("principle-2", "principle", "Principle 2: Be kind."),
        ("example-1", "example", "Example 1: Soup"),
        ("example-2", "example", "Example 2"),
        ("text-now-yours", "other", "Now yours."),
        ("input", "input", "Input"),
        ("dish", "variable", "{dish}"),
    ]
    assert [k for k, _ in parse_template(text, markers=True)].count("mark") == 6
    assert all(k != "mark" for k, _ in parse_template(text))


@pytest.mark.parametrize(("text", "line", "words"), [
    ("Intro\n{#exmple Soup}\nDish: soup", 2, "unknown kind 'exmple'"),
    ("Intro {#example}\nDish: soup", 1, "must stand alone on its line"),
    ("Intro\n\n{#example} Dish: soup", 3, "must stand alone on its line"),
    ("Intro\n{#example Soup\nDish: soup", 2, "no closing '}'"),
    ("Intro\n{#end}\nDish: soup", 2, "closes no part"),
    ("{#example}\n\n{#input}\nDish: x", 1, "marks no text"),
    ("Intro\n{#input}\n", 2, "marks no text"),
    ("Intro\n{#end soon}\n", 2, "takes no label"),
    ("Intro\n{#}\nx", 2, "names no kind"),
    ("Intro\n{#other {x}}\nx", 2, "variables cannot be used"),
])
def test_marker_errors_name_the_line(text, line, words):
    with pytest.raises(InputError) as err:
        template_variables(text)
    msg = str(err.value)
    assert err.value.field == "template" and f"on line {line}" in msg and words in msg
    with pytest.raises(InputError):
        template_parts(text, {"x": "1"})


def test_marked_other_and_principle_labels():
    text = "{#other}\nNote: be nice.\nMore.\n{#other Aside}\nBy the way.\n{#principle Safety}\nStay safe."
    prompt, parts = template_parts(text, {})
    assert prompt == "Note: be nice.\nMore.\nBy the way.\nStay safe."
    assert [(p.id, p.label) for p in parts] == [
        ("text-note-be-nice", "Note: be nice."), ("text-aside", "Aside"),
        ("principle-1", "Principle 1: Safety")]


def test_literal_hash_brace_is_still_text():
    prompt, parts = template_parts("Use {{#tag}} here.\n\n{v}", {"v": "x"})
    assert prompt == "Use {#tag} here.\n\nx"
    assert_partition(prompt, parts)


def test_template_parts_keeps_render_errors():
    with pytest.raises(InputError) as err:
        template_parts("Q: {q}", {})
    assert err.value.field == "q"
