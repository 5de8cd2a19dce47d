"""Matching segments across variants, and the word-level prompt diff."""

from __future__ import annotations

import html
import re

import pytest

from lib.compare import match_segment, prompt_diff, render_diff_html
from lib.segments import segment_sequence
from lib.templates import get_template
from tests.test_segments import make_seq


def lines_of(prompt_pieces, target_pieces):
    return segment_sequence(make_seq(prompt_pieces, target_pieces), "lines")


A = lines_of(
    ["Intro", "\n", "Recommendation", ":", " Try", ".", "\n", "Analysis", ":"],
    [" cheesy", ".", "\n", "Recommendation", ":", " You", " have", " to", " try", " it", "."],
)
B = lines_of(
    ["Intro", "\n", "Rules", "\n", "Recommendation", ":", " Avoid", ".", "\n", "Analysis", ":"],
    [" has", " eggs", ".", "\n", "Recommendation", ":", " Avoid", "."],
)


def find(segs, text):
    return next(k for k, s in enumerate(segs) if s.text.strip() == text)


def test_recommendation_line_matches_target_first():
    src = find(A, "Recommendation: You have to try it.")
    got = match_segment(A, src, B, "lines")
    assert B[got].text == "Recommendation: Avoid." and not B[got].in_prompt


def test_prompt_label_line_matches_by_rank_in_target_first():
    # A prompt "Recommendation:" line: target segments are searched first (the story's need).
    src = find(A, "Recommendation: Try.")
    got = match_segment(A, src, B, "lines")
    assert B[got].text == "Recommendation: Avoid." and not B[got].in_prompt


def test_same_stripped_text_same_side_first():
    src = find(A, "Intro")
    assert match_segment(A, src, B, "lines") == find(B, "Intro")


def test_falls_back_to_position_among_target_segments():
    src = find(A, "cheesy.")  # no label, no equal text: first target segment
    got = match_segment(A, src, B, "lines")
    assert B[got].text == " has eggs.\n"


def test_none_when_nothing_matches():
    a = lines_of(["Only"], ["x", "\n", "y", "\n", "z"])
    b = lines_of(["Other"], ["q"])
    last = len(a) - 1
    assert a[last].text == "z"
    assert match_segment(a, last, b, "lines") is None
    assert match_segment(a, 0, b, "lines") is None  # prompt line, different text
    assert match_segment(a, 99, b, "lines") is None
    assert match_segment(a, -1, b, "lines") is None


def test_words_match_by_text_with_rank():
    a = segment_sequence(make_seq(["x"], [" a", " b", " a"]), "words")
    b = segment_sequence(make_seq(["y"], [" c", " a", " d", " a"]), "words")
    second_a = [k for k, s in enumerate(a) if s.text == " a"][1]
    got = match_segment(a, second_a, b, "words")
    assert got == [k for k, s in enumerate(b) if s.text == " a"][1]


def test_menu_story_recommendation_lines_align():
    # Same prompts as the app's Compare page, with a hand-written "output" per variant.
    variants = ["fewshot-mistake", "fewshot-fixed", "fewshot-constitution"]
    outputs = [
        [" it", " has", " eggs", ".", "\n", "Recommendation", ":", " You", " have", " to", " try",
         " it", "."],
        [" eggs", ".", "\n", "Recommendation", ":", " Avoid", "."],
        [" Quiche", " has", " eggs", ".", "\n", "Recommendation", ":", " Avoid", "."],
    ]
    segs = []
    for vid, out in zip(variants, outputs, strict=True):
        prompt = get_template(vid).render()
        segs.append(segment_sequence(make_seq([prompt], out), "lines"))
    src = find(segs[0], "Recommendation: You have to try it.")
    for other in segs[1:]:
        got = match_segment(segs[0], src, other, "lines")
        assert other[got].text.strip() == "Recommendation: Avoid." and not other[got].in_prompt


def join(ops, keep):
    return "".join(text for op, text in ops if op in keep)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Recommendation: You have to try it.", "Recommendation: Avoid."),
        ("", "new text"),
        ("old text", ""),
        ("same", "same"),
        ("a b c d", "a x c y d z"),
        (get_template("fewshot-fixed").render(), get_template("fewshot-constitution").render()),
    ],
)
def test_diff_reconstructs_both_sides(a, b):
    ops = prompt_diff(a, b)
    assert join(ops, {"equal", "delete"}) == a
    assert join(ops, {"equal", "insert"}) == b
    assert all(op in {"equal", "insert", "delete"} and text for op, text in ops)
    assert all(ops[i][0] != ops[i + 1][0] for i in range(len(ops) - 1))


def test_diff_is_word_level():
    ops = prompt_diff("Recommendation: You have to try it.", "Recommendation: Avoid.")
    assert ops[0] == ("equal", "Recommendation: ")
    assert ("delete", "You have to try it") in ops and ("insert", "Avoid") in ops
    assert ops[-1] == ("equal", ".")
    assert prompt_diff("cat", "cart") == [("delete", "cat"), ("insert", "cart")]


def test_menu_variant_diff_shows_only_the_principles():
    a = get_template("fewshot-fixed").render()
    b = get_template("fewshot-constitution").render()
    ops = prompt_diff(a, b)
    inserted = join(ops, {"insert"})
    assert "The analysis should be brief and to the point." in inserted
    assert join(ops, {"delete"}) == ""


def test_render_diff_html_escapes_and_marks():
    a = "Keep <b>this</b> \u202e"
    b = "Keep <script>alert(1)</script> \u202e"
    out = render_diff_html(a, b)
    assert "<script" not in out and "<b>" not in out and "\u202e" not in out
    assert "⟨U+202E⟩" in out
    assert "<del>" in out and "<ins>" in out
    # Text outside <del> is b, text outside <ins> is a (markers in place of invisibles).
    def visible(skip: str) -> str:
        return html.unescape(re.sub(rf"<{skip}>.*?</{skip}>|<[^>]+>", "", out, flags=re.S))

    assert visible("del") == b.replace("\u202e", "⟨U+202E⟩")
    assert visible("ins") == a.replace("\u202e", "⟨U+202E⟩")
