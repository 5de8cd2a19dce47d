"""Counterfactual checks (lib/counterfactual.py) and their command line (`counterfactual`,
`deletion-curve`), on the tiny model: identities, an independent forward pass, the controls'
rules, the deletion curve against separate edits, the JSON contract and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lib import counterfactual as cf
from lib import pipeline
from lib.cli import main
from lib.parts import template_parts
from lib.records import GenerationSettings
from lib.segments import segment_scores, segment_sequence
from lib.templates import get_template

PROMPT = "Analyze a menu item.\nSuggestion: Quiche Lorraine\nAnalysis:"
TARGET = " Avoid. It has eggs."
# A long prompt (the menu-item story), so that controls have room to be drawn.
LONG, _ = template_parts(get_template("fewshot-mistake").text,
                         get_template("fewshot-mistake").default_values())
LINE = "Recommendation: You have to try it."


@pytest.fixture(scope="module")
def model():
    return pipeline.get_model("tiny")


def run(capsys, *args: str) -> tuple[int, dict | None, str]:
    try:
        code = main(list(args))
    except SystemExit as stop:  # argparse's own errors (unknown choice ...)
        code = stop.code
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def cli(capsys, command: str, *extra: str, prompt: str = PROMPT, target: str = TARGET):
    return run(capsys, command, "--model", "tiny", "--prompt", prompt, "--target", target,
               "--quiet", "--json", *extra)


def keras_logprob(model, ids: list[int], positions: list[int]) -> float:
    """Sum of log p(ids[p] | ids[:p]) from keras-hub's own backbone call and output layer,
    log-softmax in float64 NumPy: a forward pass independent of lib/salience."""
    bb = model.backbone
    hidden = bb({"token_ids": np.asarray([ids], "int32"),
                 "padding_mask": np.ones((1, len(ids)), "int32")})
    logits = np.asarray(bb.token_embedding(hidden, reverse=True), np.float64)[0]
    top = logits.max(-1, keepdims=True)
    logp = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
    return float(sum(logp[p - 1, ids[p]] for p in positions))


def tokens_touched(seq, offset: int, *spans: tuple[int, int]) -> int:
    """Prompt tokens with characters that overlap any of the spans (from the tokens alone)."""
    return sum(1 for t in seq.tokens[: seq.prompt_length]
               if not t.special and t.end > t.start
               and any(t.start < e + offset and t.end > s + offset for s, e in spans))


@pytest.mark.parametrize("edit", [("drop", (10, 10)), ("replace", (21, 31))])
def test_an_identity_edit_changes_nothing(model, edit):
    kind, span = edit
    seq = pipeline.sequence_for_target(model, PROMPT, TARGET)
    settings = GenerationSettings(max_new_tokens=8)
    text = PROMPT[span[0]:span[1]] if kind == "replace" else None
    r = cf.counterfactual(model, PROMPT, seq, seq.target_indices, [span], text, controls=2,
                          settings=settings)
    assert r.edited_prompt == PROMPT
    assert abs(r.delta) <= 1e-5
    assert r.greedy_after == r.greedy_before and not r.answer_changed


def test_before_is_the_sum_of_independent_token_logprobs(capsys, model):
    code, data, _ = cli(capsys, "counterfactual", "--drop", "0:8", "--segment", "7:20",
                        "--controls", "0", "--max-new-tokens", "2")
    assert code == 0
    seq = pipeline.sequence_for_target(model, PROMPT, TARGET)
    scored = [t.index for t in seq.tokens[seq.prompt_length:]
              if t.end > t.start and t.end - len(PROMPT) > 7]  # " It has eggs." and on
    assert data["target_logprob_before"] == pytest.approx(
        keras_logprob(model, seq.ids, scored), abs=1e-4)
    # After: the edited prompt, tokenised afresh, with the same target tokens.
    edited = pipeline.sequence_for_target(model, PROMPT[8:], TARGET)
    assert data["edited_prompt"] == PROMPT[8:]
    shift = edited.prompt_length - seq.prompt_length
    assert data["target_logprob_after"] == pytest.approx(
        keras_logprob(model, edited.ids, [i + shift for i in scored]), abs=1e-4)
    assert data["delta"] == pytest.approx(
        data["target_logprob_after"] - data["target_logprob_before"])


def test_controls_keep_clear_of_the_edit_and_match_its_token_length(model):
    at = LONG.index(LINE)
    spans = [(at, at + len(LINE)), (at + len(LINE) + 2, at + len(LINE) + 30)]
    seq = pipeline.sequence_for_target(model, LONG, " it has cheese")
    offset = cf.prompt_offset(model, LONG, False)
    tokens = cf.prompt_tokens(seq, offset, LONG)
    n = tokens_touched(seq, offset, *spans)
    drawn = cf.control_spans(tokens, spans, cf.token_length(tokens, spans), 8, seed=3)
    assert len(drawn) == 8 and len(set(drawn)) == 8
    for c in drawn:
        assert all(c[1] <= s or c[0] >= e for s, e in spans)  # no shared character
        assert abs(tokens_touched(seq, offset, c) - n) <= 1
        assert 0 <= c[0] < c[1] <= len(LONG)
    assert cf.control_spans(tokens, spans, n, 8, seed=3) == drawn  # the seed decides
    assert cf.control_spans(tokens, spans, n, 8, seed=4) != drawn


def test_controls_of_the_command_line_and_with_the_chat_template(capsys, model):
    at = LONG.index(LINE)
    base = ("counterfactual", "--replace", f"{at}:{at + len(LINE)}", "--with",
            "Recommendation: Avoid.", "--controls", "6", "--max-new-tokens", "2")
    code, data, _ = cli(capsys, *base, "--chat-template", "on", prompt=LONG,
                        target=" it has cheese")
    assert code == 0 and len(data["controls"]) == 6
    assert data["edited_prompt"] == LONG.replace(LINE, "Recommendation: Avoid.", 1)
    seq = pipeline.sequence_for_target(model, LONG, " it has cheese", chat_template=True)
    offset = cf.prompt_offset(model, LONG, True)
    assert seq.input_text[offset:offset + len(LONG)] == LONG
    n = tokens_touched(seq, offset, (at, at + len(LINE)))
    for c in data["controls"]:
        assert c["end"] <= at or c["start"] >= at + len(LINE)
        assert 0 <= c["start"] < c["end"] <= len(LONG)  # inside the prompt: no turn markers
        assert abs(tokens_touched(seq, offset, (c["start"], c["end"])) - n) <= 1
    again = cli(capsys, *base, "--chat-template", "on", prompt=LONG, target=" it has cheese")
    assert again[1]["controls"] == data["controls"]
    other = cli(capsys, *base, "--chat-template", "on", "--seed", "7", prompt=LONG,
                target=" it has cheese")
    assert [(c["start"], c["end"]) for c in other[1]["controls"]] != \
        [(c["start"], c["end"]) for c in data["controls"]]


def test_an_empty_edit_gets_empty_controls_elsewhere(model):
    seq = pipeline.sequence_for_target(model, PROMPT, TARGET)
    tokens = cf.prompt_tokens(seq, 0, PROMPT)
    drawn = cf.control_spans(tokens, [(21, 21)], 0, 5, seed=0)
    assert len(drawn) == 5 and all(s == e != 21 for s, e in drawn)
    assert {s for s, _ in drawn} <= {s for s, _ in tokens} | {len(PROMPT)}


@pytest.mark.parametrize("method", ["grad_l2", "grad_dot_input"])
def test_deletion_curve_points_are_separate_counterfactual_drops(capsys, model, method):
    prompt = PROMPT + " Cheese and eggs, baked in a crust."
    code, data, _ = cli(capsys, "deletion-curve", "--granularity", "words", "--method", method,
                        "--k", "3", "--segment", "7:20", "--seed", "1", prompt=prompt)
    assert code == 0 and set(data) == {"k", "salience_order", "random_order", "area"}
    assert data["k"] == [0, 1, 2, 3]
    assert data["area"] == pytest.approx(
        np.mean(np.subtract(data["random_order"], data["salience_order"])))
    seq = pipeline.sequence_for_target(model, prompt, TARGET)
    scored = [t.index for t in seq.tokens[seq.prompt_length:]
              if t.end > t.start and t.end - len(prompt) > 7]
    curve = cf.deletion_curve(model, prompt, seq, scored, "words", method, k=3, seed=1)
    assert list(curve.salience_order) == pytest.approx(data["salience_order"], rel=1e-6)
    # Top: from a separate salience run, largest Grad-L2 or most negative Grad·Input first.
    sal = pipeline.salience(model, seq, scored, method)
    words = [s for s in segment_sequence(seq, "words") if s.in_prompt]
    scores = segment_scores(words, sal.scores)
    ranked = sorted(zip(scores, [(s.start, s.end) for s in words], strict=True),
                    reverse=method == "grad_l2")
    assert list(curve.salience_spans) == [span for _, span in ranked[:3]]
    assert len(set(curve.random_spans)) == 3
    code, before, _ = cli(capsys, "counterfactual", "--drop", "0:0", "--segment", "7:20",
                          "--controls", "0", "--max-new-tokens", "1", prompt=prompt)
    assert data["salience_order"][0] == data["random_order"][0] == pytest.approx(
        before["target_logprob_before"], rel=1e-5)
    for order, spans in ((data["salience_order"], curve.salience_spans),
                         (data["random_order"], curve.random_spans)):
        for k in (1, 2, 3):
            drops = [a for s, e in spans[:k] for a in ("--drop", f"{s}:{e}")]
            code, one, _ = cli(capsys, "counterfactual", *drops, "--segment", "7:20",
                               "--controls", "0", "--max-new-tokens", "1", prompt=prompt)
            assert code == 0
            assert order[k] == pytest.approx(one["target_logprob_after"], rel=1e-5)


def test_deletion_curve_k_stops_at_the_prompts_segments(capsys):
    code, data, _ = cli(capsys, "deletion-curve", "--granularity", "lines", "--method",
                        "grad_l2")
    assert code == 0 and data["k"] == [0, 1, 2, 3]  # three lines; every one dropped at k = 3


def test_counterfactual_json_contract(capsys):
    code, data, _ = cli(capsys, "counterfactual", "--drop", "21:49", "--drop", "0:8",
                        "--controls", "3", "--stop", r"\n")
    assert code == 0
    assert set(data) == {"target_logprob_before", "target_logprob_after", "delta",
                         "greedy_before", "greedy_after", "answer_changed", "edited_prompt",
                         "controls"}
    assert data["edited_prompt"] == PROMPT[8:21] + PROMPT[49:]
    assert isinstance(data["answer_changed"], bool)
    assert data["answer_changed"] == (data["greedy_before"] != data["greedy_after"])
    assert "\n" not in data["greedy_before"] + data["greedy_after"]
    for c in data["controls"]:
        assert set(c) == {"start", "end", "delta"}
        assert c["start"] >= 8 and (c["end"] <= 21 or c["start"] >= 49)


@pytest.mark.parametrize(("command", "extra", "fragment"), [
    ("counterfactual", ["--drop", "0:999"], "--drop 0:999"),
    ("counterfactual", ["--drop", "9:3"], "--drop 9:3"),
    ("counterfactual", ["--drop", "0:5", "--drop", "3:8"], "--drop 0:5 and 3:8"),
    ("counterfactual", ["--drop", "a-b"], "--drop"),
    ("counterfactual", ["--replace", "0:5"], "--with"),
    ("counterfactual", ["--with", "x"], "--replace"),
    ("counterfactual", ["--drop", "0:5", "--replace", "6:8", "--with", "x"], "--replace"),
    ("counterfactual", [], "--drop"),
    ("counterfactual", ["--drop", "0:3", "--controls", "-1"], "--controls"),
    ("counterfactual", ["--drop", "0:3", "--controls", "51"], "--controls"),
    ("counterfactual", ["--drop", f"0:{len(PROMPT)}"], "--drop"),
    ("deletion-curve", ["--granularity", "words", "--method", "grad_l2", "--k", "0"], "--k"),
    ("deletion-curve", ["--granularity", "nope", "--method", "grad_l2"], "--granularity"),
    ("deletion-curve", ["--granularity", "words", "--method", "nope"], "--method"),
])
def test_bad_input_exits_2_with_one_line(capsys, command, extra, fragment):
    code, _, err = cli(capsys, command, *extra)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert fragment in lines[0]
