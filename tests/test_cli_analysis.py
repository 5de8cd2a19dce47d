"""`python -m lib salience --foil | --method integrated_gradients --steps` and `matrix`: the
JSON contract and exit codes, on the tiny model (in-process `main`, as tests/test_cli.py)."""

from __future__ import annotations

import json

import pytest

from lib import pipeline
from lib.cli import main

PROMPT = "Analyze a menu item.\nSuggestion: Quiche Lorraine\nAnalysis:"
TARGET = " Avoid. It has eggs."


def run(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def salience(capsys, *extra: str):
    return run(capsys, "salience", "--model", "tiny", "--prompt", PROMPT, "--target", TARGET,
               "--quiet", *extra)


def test_foil_makes_the_run_contrastive(capsys):
    code, data, _ = salience(capsys, "--segment-text", "eggs", "--foil", " ham",
                             "--method", "grad_dot_input", "--granularity", "words")
    assert code == 0
    idx = data["target_token_indices"]
    assert data["foil"]["text"] == " ham" and data["foil"]["ids"]
    contrast = data["contrast"]
    assert contrast["difference"] == pytest.approx(
        contrast["target_logprob"] - contrast["foil_logprob"])
    assert len(data["scores"]) == len(data["tokens"])
    assert all(s == 0.0 for s in data["scores"][idx[0]:])  # the segment and after: excluded
    # The library's numbers, unchanged.
    model = pipeline.get_model("tiny")
    seq = pipeline.sequence_for_target(model, PROMPT, TARGET)
    ref = pipeline.contrastive_salience(model, seq, idx, pipeline.foil_ids(model, " ham"))
    assert data["scores"][:idx[0]] == pytest.approx(list(ref.scores))
    assert contrast["foil_logprob"] == pytest.approx(ref.foil_logprob)


def test_integrated_gradients_reports_steps_and_the_completeness_gap(capsys):
    code, data, _ = salience(capsys, "--segment-text", "eggs", "--method",
                             "integrated_gradients", "--steps", "8")
    assert code == 0 and data["method"] == "integrated_gradients" and data["steps"] == 8
    total = sum(data["scores"])
    delta = data["target_loss"] - data["baseline_loss"]
    assert data["completeness_gap"] == pytest.approx(abs(total - delta) / abs(delta))


def test_matrix_json_contract(capsys):
    code, data, _ = run(capsys, "matrix", "--model", "tiny", "--prompt", PROMPT, "--target",
                        TARGET, "--granularity", "sentences", "--method", "grad_l2", "--json",
                        "--quiet")
    assert code == 0
    assert data["input_text"] == PROMPT and data["target"] == TARGET
    text = data["input_text"] + data["target"]
    assert [r["text"].strip() for r in data["rows"]] == ["Avoid.", "It has eggs."]
    for seg in data["rows"] + data["columns"]:
        assert set(seg) == {"index", "text", "start", "end"}
        assert text[seg["start"]:seg["end"]] == seg["text"]
    assert all(c["end"] <= len(PROMPT) for c in data["columns"])
    assert all(r["start"] >= len(PROMPT) for r in data["rows"])
    assert len(data["scores"]) == len(data["rows"])
    assert all(len(row) == len(data["columns"]) for row in data["scores"])
    # Row 1 against a separate `salience` run for that sentence, summed per prompt sentence.
    code, one, _ = salience(capsys, "--segment-text", "It has eggs.", "--granularity",
                            "sentences")
    prompt_segments = [s["score"] for s in one["segments"] if s["in_prompt"] and s["text"]]
    assert sum(data["scores"][1]) == pytest.approx(sum(prompt_segments), rel=1e-4)


@pytest.mark.parametrize(("extra", "field"), [
    (["--foil", ""], "foil"),
    (["--foil", " ham", "--method", "integrated_gradients"], "--foil"),
    (["--method", "integrated_gradients", "--steps", "0"], "--steps"),
    (["--method", "integrated_gradients", "--steps", "100000"], "--steps"),
    (["--steps", "8"], "--steps"),
])
def test_bad_analysis_input_exits_2_with_one_line(capsys, extra, field):
    code, _, err = salience(capsys, *extra)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    assert field.lstrip("-") in lines[0] or field in lines[0]


def test_matrix_needs_a_target_or_generate(capsys):
    code, _, err = run(capsys, "matrix", "--model", "tiny", "--prompt", PROMPT, "--quiet")
    assert code == 2 and err.startswith("error: ")
