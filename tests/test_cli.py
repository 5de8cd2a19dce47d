"""`python -m lib`: JSON contract and exit codes, on the tiny model (in-process `main`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib import pipeline
from lib.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "Analyze a menu item.\nSuggestion: Quiche Lorraine\nAnalysis:"


def run(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["--quiet" if a == "--QUIET" else a for a in args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_generate_json_contract(capsys):
    code, data, _ = run(capsys, "generate", "--model", "tiny", "--prompt", PROMPT,
                        "--max-new-tokens", "6", "--json", "--quiet")
    assert code == 0
    assert data["model"] == "tiny" and data["prompt"] == PROMPT and data["input_text"] == PROMPT
    full = data["input_text"] + data["text"]
    generated = [t for t in data["tokens"] if not t["in_prompt"]]
    assert len(generated) == len(data["steps"]) == 6
    for t in data["tokens"]:
        assert set(t) >= {"id", "text", "start", "end", "special"}
        if not t["special"]:
            assert full[t["start"]:t["end"]] == t["text"]
    for t in generated:
        assert 0 < t["prob"] <= 1 and len(t["top_alternatives"]) == 5


def test_salience_with_given_target_and_segment_text(capsys):
    code, data, _ = run(capsys, "salience", "--model", "tiny", "--prompt", PROMPT, "--target",
                        " Avoid. It has eggs.", "--segment-text", "It has eggs.",
                        "--granularity", "words", "--method", "grad_dot_input", "--quiet")
    assert code == 0
    assert data["target"] == " Avoid. It has eggs." and data["method"] == "grad_dot_input"
    assert data["precision"] == "mixed"  # the default arithmetic, named in the output
    assert len(data["scores"]) == len(data["tokens"])
    targets = data["target_token_indices"]
    covered = "".join(data["tokens"][i]["text"] for i in targets)
    assert covered.strip() == "It has eggs."
    assert all(s == 0.0 for s in data["scores"][max(targets):])  # causality
    # Same numbers as the library call (the CLI adds nothing of its own).
    model = pipeline.get_model("tiny")
    seq = pipeline.sequence_for_target(model, PROMPT, " Avoid. It has eggs.")
    ref = pipeline.salience(model, seq, targets, "grad_dot_input")
    assert data["scores"] == pytest.approx(list(ref.scores))
    seg_total = sum(s["score"] for s in data["segments"])
    assert seg_total == pytest.approx(sum(data["scores"]), abs=1e-6)
    assert {s["in_prompt"] for s in data["segments"]} == {True, False}


def test_salience_generate_with_char_segment(capsys, tmp_path):
    prompt_file = tmp_path / "p.txt"
    prompt_file.write_text(PROMPT + "\n")
    code, data, _ = run(capsys, "salience", "--model", "tiny", "--prompt-file", str(prompt_file),
                        "--generate", "--max-new-tokens", "5", "--segment", "0:3", "--quiet")
    assert code == 0
    assert data["prompt"] == PROMPT + "\n"  # the file exactly, trailing newline included
    assert data["input_text"] == PROMPT + "\n"
    assert data["target_token_indices"][0] >= [t["in_prompt"] for t in data["tokens"]].count(True)


def test_batch_writes_every_row_atomically(capsys, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"prompt": PROMPT, "target": " Avoid. Eggs.", "source": "given"})
                    + "\n\n" + json.dumps({"prompt": "Summarize: cats sleep.", "source": "gen"})
                    + "\n")
    out = tmp_path / "out.jsonl"
    code, data, _ = run(capsys, "batch", "--model", "tiny", "--input", str(rows), "--output",
                        str(out), "--granularity", "sentences", "--max-new-tokens", "4", "--quiet")
    assert code == 0 and data["rows"] == 2
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["source"] for r in lines] == ["given", "gen"]
    assert lines[0]["generated"] is False and lines[1]["generated"] is True
    assert [t["text"].strip() for t in lines[0]["targets"]] == ["Avoid.", "Eggs."]
    for t in lines[0]["targets"]:
        assert len(t["scores"]) == len(lines[0]["tokens"])
    assert not list(tmp_path.glob(".batch-*"))


@pytest.mark.parametrize("args,fragment", [
    (["generate", "--model", "tiny", "--prompt", "  "], "prompt is empty"),
    (["generate", "--model", "tiny", "--prompt", "x", "--max-new-tokens", "0"], "Max new tokens"),
    (["generate", "--model", "no-such-model", "--prompt", "x"], "Unknown model"),
    (["salience", "--model", "tiny", "--prompt", "x", "--target", "abc", "--segment-text",
      "zzz"], "does not occur"),
    (["salience", "--model", "tiny", "--prompt", "x", "--target", "abc", "--segment", "2:99"],
     "outside the target"),
    (["salience", "--model", "tiny", "--prompt", "x", "--target", "abc", "--segment", "a-b"],
     "START:END"),
    (["salience", "--model", "tiny", "--prompt", "x"], "--target TEXT or --generate"),
    (["salience", "--model", "tiny", "--prompt", "x", "--target", "a", "--granularity", "regex",
      "--pattern", "(a*)*b("], "pattern"),
    (["salience", "--model", "tiny", "--prompt-file", "/nonexistent.txt", "--target", "a"],
     "cannot be read"),
])
def test_bad_input_exits_2_with_one_line(capsys, args, fragment):
    code, _, err = run(capsys, *args, "--quiet")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in err


def test_batch_validates_the_whole_file_first(capsys, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"prompt": "ok"}) + "\n{not json\n")
    out = tmp_path / "out.jsonl"
    code, _, err = run(capsys, "batch", "--model", "tiny", "--input", str(rows), "--output",
                       str(out), "--quiet")
    assert code == 2 and "line 2" in err.lower() and not out.exists()


def test_usage_errors_exit_2_with_one_line():
    result = subprocess.run([sys.executable, "-m", "lib", "salience", "--model", "tiny"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--prompt" in result.stderr
