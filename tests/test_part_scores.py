"""Salience by part: parts on a token sequence, their scores, and Compare's alignment
(lib/part_scores.py, lib/part_compare.py)."""

from __future__ import annotations

import pytest

from lib import pipeline
from lib.part_compare import align_parts
from lib.part_scores import PartScore, part_scores, parts_in_sequence, prompt_offset
from lib.parts import Part, detect_parts, template_parts
from lib.records import Token, TokenSequence
from lib.templates import get_template


def tok(i: int, text: str, start: int, end: int, special: bool = False,
        in_prompt: bool = True) -> Token:
    return Token(index=i, id=i, text=text, start=start, end=end, special=special,
                 in_prompt=in_prompt)


def hand_sequence() -> TokenSequence:
    # "ab|cd|ef": a token straddling the a/b boundary, a byte-fallback piece covering nothing.
    tokens = (tok(0, "<bos>", 0, 0, special=True), tok(1, "ab", 0, 2), tok(2, "c d", 2, 5),
              tok(3, "", 5, 5), tok(4, "é", 5, 6), tok(5, " \n", 6, 8),
              tok(6, "!", 8, 9, in_prompt=False))
    return TokenSequence(input_text="abc dé \n", target="!", tokens=tokens, prompt_length=6)


HAND_PARTS = [Part("a", "other", "A", 0, 3, ((0, 3),)),
              Part("b", "variable", "{b}", 3, 8, ((3, 8),))]


def test_tokens_go_to_the_part_of_their_first_visible_character():
    seq = hand_sequence()
    parts = parts_in_sequence(HAND_PARTS, seq, seq.input_text)
    assert [(p.id, p.token_indices) for p in parts] == [
        ("special-bos", (0,)), ("a", (1, 2)), ("b", (3, 4, 5))]
    assert (parts[1].start, parts[1].end) == (0, 5)  # snapped to its tokens
    scores = part_scores(parts, [9.0, 1.0, -2.0, 0.5, 4.0, -0.25, 100.0], signed=True)
    assert [s.score for s in scores] == [9.0, -1.0, 4.25]
    assert [(s.positive, s.negative) for s in scores] == [(9.0, 0.0), (1.0, -2.0), (4.5, -0.25)]
    assert [s.share for s in scores] == pytest.approx([9 / 14.25, 1 / 14.25, 4.25 / 14.25])
    unsigned = part_scores(parts, [1.0] * 7)
    assert unsigned[0].positive is None and unsigned[0].negative is None
    assert [s.share for s in part_scores(parts, [0.0] * 7)] == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        part_scores(parts, [1.0, 2.0])


@pytest.fixture(scope="module")
def tiny():
    return pipeline.get_model("tiny")


@pytest.mark.parametrize("chat", [False, True])
def test_every_prompt_token_in_exactly_one_part(tiny, chat):
    t = get_template("fewshot-constitution")
    prompt, parts = template_parts(t.text, t.default_values())
    seq = pipeline.sequence_for_target(tiny, prompt, " Avoid. It has eggs.", chat)
    mapped = parts_in_sequence(parts, seq, prompt)
    indices = sorted(i for p in mapped for i in p.token_indices)
    assert indices == list(range(seq.prompt_length))
    assert len({p.id for p in mapped}) == len(mapped)
    specials = [p for p in mapped if p.kind == "special"]
    assert all(seq.tokens[i].special for p in specials if p.label.startswith("<")
               for i in p.token_indices)
    offset = prompt_offset(seq, prompt)
    assert offset == (len("<start_of_turn>user\n") if chat else 0)
    by_id = {p.id: p for p in mapped}
    for name, value in t.default_values().items():
        covered = "".join(seq.tokens[i].text for i in by_id[name].token_indices)
        assert covered.strip() == value
        assert seq.input_text[by_id[name].start:by_id[name].end].strip() == value
    if chat:
        assert {"special-start-of-turn", "special-end-of-turn", "chat-text-1"} <= set(by_id)
        assert seq.input_text[by_id["chat-text-1"].start:by_id["chat-text-1"].end] == "user\n"
    else:
        assert [p.id for p in specials] == ["special-bos"]


def test_part_scores_are_sums_of_real_token_scores(tiny):
    prompt = get_template("fewshot-mistake").render()
    seq = pipeline.sequence_for_target(tiny, prompt, " You have to try it.")
    sal = pipeline.salience(tiny, seq, seq.target_indices, "grad_dot_input")
    mapped = parts_in_sequence(detect_parts(prompt), seq, prompt)
    scores = part_scores(mapped, sal.scores, signed=True)
    assert sum(s.score for s in scores) == pytest.approx(sum(sal.scores[:seq.prompt_length]))
    assert sum(s.share for s in scores) == pytest.approx(1.0)
    for s in scores:
        assert s.score == pytest.approx(sum(sal.scores[i] for i in s.part.token_indices))
        assert s.positive + s.negative == pytest.approx(s.score)
        assert s.positive >= 0 >= s.negative


def test_prompt_that_repeats_the_chat_opening_is_placed_right(tiny):
    prompt = "user\nuser\n"
    seq = pipeline.sequence_for_target(tiny, prompt, " ok", chat_template=True)
    assert seq.input_text.find(prompt) < prompt_offset(seq, prompt)
    assert prompt_offset(seq, prompt) == len("<start_of_turn>user\n")
    with pytest.raises(ValueError):
        prompt_offset(seq, "not in it")


def score(ident: str, share: float, kind: str = "example") -> PartScore:
    return PartScore(Part(ident, kind, ident.title(), 0, 1, ((0, 1),)), share, share)


def test_align_parts_by_id_marks_new_and_missing():
    mistake = [score("instruction", 0.1), score("example-1", 0.6), score("input", 0.3)]
    principles = [score("instruction", 0.1), score("principle-1", 0.2, "principle"),
                  score("example-1", 0.3), score("input", 0.4)]
    third = [score("example-1", 0.5), score("extra", 0.5)]
    rows = align_parts([mistake, principles, third])
    # A part only a later variant has follows its predecessor there.
    assert [r.id for r in rows] == ["instruction", "principle-1", "example-1", "extra", "input"]
    by_id = {r.id: r for r in rows}
    assert [c.status for c in by_id["principle-1"].cells] == ["absent", "new", "absent"]
    assert by_id["principle-1"].kind == "principle"
    assert [c.status for c in by_id["input"].cells] == ["present", "present", "missing"]
    assert [c.status for c in by_id["extra"].cells] == ["absent", "absent", "new"]
    shifts = [c.share_shift for c in by_id["example-1"].cells]
    assert shifts[0] is None and shifts[1:] == pytest.approx([-0.3, -0.1])
    assert by_id["input"].cells[2].share_shift == pytest.approx(-0.3)
    assert by_id["input"].cells[2].score is None
    assert align_parts([]) == []


def test_menu_variants_align_on_their_examples():
    def shares(template_id: str) -> list[PartScore]:
        t = get_template(template_id)
        prompt, parts = template_parts(t.text, t.default_values())
        return [PartScore(p, 1.0, 1.0 / len(parts)) for p in parts]

    rows = align_parts([shares("fewshot-mistake"), shares("fewshot-constitution")])
    news = [r.id for r in rows if r.cells[1].status == "new"]
    assert news == ["principle-1", "principle-2"]
    assert all(r.cells[1].status == "present" for r in rows if r.id not in news)
    assert [r.id for r in rows][:3] == ["instruction", "principle-1", "principle-2"]
