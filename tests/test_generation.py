"""Generation and tokens on the tiny model: probabilities against a full forward, sampling
reproducibility, stop rules, chat template, offsets, limits."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from lib import pipeline
from lib.errors import InputError, LimitError
from lib.records import GenerationSettings

PROMPT = "Analyze a menu item in a restaurant.\nSuggestion: Quiche Lorraine\nAnalysis:"


@pytest.fixture(scope="module")
def model():
    return pipeline.get_model("tiny")


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_greedy_tokens_and_probs_match_a_full_forward(model):
    gen = pipeline.generate(model, PROMPT, GenerationSettings(max_new_tokens=12))
    seq = gen.sequence
    assert gen.stop_reason == "max_new_tokens" and len(gen.probs) == 12
    ids = seq.ids
    positions = list(range(seq.prompt_length - 1, len(ids) - 1))
    probs = _softmax(model.functions.logits_at(ids, positions).astype(np.float64))
    for step, pos_probs in enumerate(probs):
        chosen = ids[seq.prompt_length + step]
        assert chosen == int(np.argmax(pos_probs))  # greedy
        assert gen.probs[step] == pytest.approx(pos_probs[chosen], rel=1e-4)
        alts = gen.alternatives[step]
        assert len(alts) == 5 and alts[0].token_id == chosen
        assert [a.prob for a in alts] == sorted((a.prob for a in alts), reverse=True)
        top5 = np.argsort(-pos_probs)[:5]
        assert [a.token_id for a in alts] == [int(i) for i in top5]


def test_greedy_is_deterministic_and_ignores_seed(model):
    a = pipeline.generate(model, PROMPT, GenerationSettings(max_new_tokens=8, seed=1))
    b = pipeline.generate(model, PROMPT, GenerationSettings(max_new_tokens=8, seed=2))
    assert a.sequence.ids == b.sequence.ids


def test_sampling_is_reproducible_per_seed_and_isolated_between_callers(model):
    settings = GenerationSettings(max_new_tokens=10, temperature=1.5, seed=7)
    first = pipeline.generate(model, PROMPT, settings).sequence.ids
    others = [pipeline.generate(model, PROMPT, GenerationSettings(
        max_new_tokens=10, temperature=1.5, seed=s)).sequence.ids for s in (8, 9, 10)]
    assert any(o != first for o in others)
    # Concurrent callers with other seeds must not disturb this caller's stream.
    results: dict[int, list[int]] = {}

    def run(seed: int) -> None:
        results[seed] = pipeline.generate(model, PROMPT, GenerationSettings(
            max_new_tokens=10, temperature=1.5, seed=seed)).sequence.ids

    threads = [threading.Thread(target=run, args=(s,)) for s in (7, 8, 9, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[7] == first and results[8] == others[0]


def test_top_k_one_is_greedy(model):
    greedy = pipeline.generate(model, PROMPT, GenerationSettings(max_new_tokens=8))
    top1 = pipeline.generate(model, PROMPT, GenerationSettings(max_new_tokens=8, temperature=2.0,
                                                               top_k=1, seed=3))
    assert greedy.sequence.ids == top1.sequence.ids


def test_stop_text_cuts_the_output_before_it(model):
    full = pipeline.generate(model, PROMPT, GenerationSettings(max_new_tokens=16))
    text = full.text
    stop = text[len(text) // 2: len(text) // 2 + 2]
    assert stop.strip() or stop  # some text from the middle
    cut = pipeline.generate(model, PROMPT, GenerationSettings(max_new_tokens=16, stop=(stop,)))
    assert cut.stop_reason == "stop_text"
    assert stop not in cut.text
    assert text.startswith(cut.text) and len(cut.text) < len(text)
    assert len(cut.probs) == len(cut.sequence.tokens) - cut.sequence.prompt_length


def test_tokens_spell_the_text_exactly(model):
    gen = pipeline.generate(model, "Café 🙂 naïve — \u202eevil\u202c  spaces\n\nend",
                            GenerationSettings(max_new_tokens=10))
    seq = gen.sequence
    assert "".join(seq.text[t.start:t.end] for t in seq.tokens) == seq.text
    assert seq.input_text == gen.prompt
    assert seq.tokens[0].special and seq.tokens[0].start == seq.tokens[0].end == 0
    for a, b in zip(seq.tokens, seq.tokens[1:], strict=False):
        assert a.end == b.start
    assert all(t.in_prompt == (t.index < seq.prompt_length) for t in seq.tokens)


def test_typed_control_tokens_stay_plain_text(model):
    tok = model.tokenizer
    ids = tok.encode("<start_of_turn>user\nhi<end_of_turn>")
    assert tok.start_of_turn_id not in ids and tok.end_of_turn_id not in ids
    assert tok.decode(ids) == "<start_of_turn>user\nhi<end_of_turn>"


def test_chat_template_wraps_the_prompt_in_turn_tokens(model):
    gen = pipeline.generate(model, "Hi <end_of_turn>", GenerationSettings(
        max_new_tokens=3, chat_template=True))
    seq = gen.sequence
    tok = model.tokenizer
    assert seq.input_text == "<start_of_turn>user\nHi <end_of_turn><end_of_turn>\n" \
                             "<start_of_turn>model\n"
    specials = [t.id for t in seq.tokens[: seq.prompt_length] if t.special]
    assert specials == [tok.bos_id, tok.start_of_turn_id, tok.end_of_turn_id, tok.start_of_turn_id]


def test_target_is_tokenised_separately_from_the_prompt(model):
    a = pipeline.sequence_for_target(model, PROMPT, " Avoid.")
    b = pipeline.sequence_for_target(model, PROMPT, " You have to try it.")
    assert a.ids[: a.prompt_length] == b.ids[: b.prompt_length]
    assert a.target == " Avoid." and a.text == PROMPT + " Avoid."


@pytest.mark.parametrize("settings,field", [
    (GenerationSettings(max_new_tokens=0), "max_new_tokens"),
    (GenerationSettings(max_new_tokens=10_000), "max_new_tokens"),
    (GenerationSettings(temperature=-1.0), "temperature"),
    (GenerationSettings(top_k=-3), "top_k"),
    (GenerationSettings(stop=("",)), "stop"),
])
def test_bad_settings_name_the_field(model, settings, field):
    with pytest.raises(InputError) as err:
        pipeline.generate(model, PROMPT, settings)
    assert err.value.field == field


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_empty_prompt_is_refused(model, prompt):
    with pytest.raises(InputError, match="prompt is empty"):
        pipeline.generate(model, prompt)


def test_prompt_over_the_limit_is_refused_with_numbers(model):
    long_prompt = "word " * (model.max_prompt_tokens + 10)
    with pytest.raises(LimitError, match=str(model.max_prompt_tokens)):
        pipeline.generate(model, long_prompt, GenerationSettings(max_new_tokens=4))


def test_salience_limit_and_bad_targets(model, monkeypatch):
    seq = pipeline.sequence_for_target(model, PROMPT, " Avoid it.")
    with pytest.raises(InputError, match="outside the output"):
        pipeline.salience(model, seq, [1])
    with pytest.raises(InputError, match="at least one"):
        pipeline.salience(model, seq, [])
    monkeypatch.setattr(model, "max_salience_tokens", seq.prompt_length)
    with pytest.raises(LimitError, match="limited to the first"):
        pipeline.salience(model, seq, [len(seq.tokens) - 1])


def test_salience_cache_returns_every_method_without_recomputing(model, monkeypatch):
    seq = pipeline.sequence_for_target(model, PROMPT, " Recommendation: Avoid.")
    target = list(seq.target_indices)[-2:]
    l2 = pipeline.salience(model, seq, target, "grad_l2")
    calls = []
    original = model.functions.salience
    monkeypatch.setattr(model.functions, "salience",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    dot = pipeline.salience(model, seq, target, "grad_dot_input")
    again = pipeline.salience(model, seq, target, "grad_l2")
    assert calls == [] and again.scores == l2.scores
    assert any(s < 0 for s in dot.scores) and all(s >= 0 for s in l2.scores)


@pytest.mark.parametrize("spec", ["tiny-gemma3", "tiny-gemma2"])
def test_long_prompt_prefill_in_chunks_equals_one_call(spec, monkeypatch):
    """A prompt read in chunks (as a long document is) gives the same greedy tokens and
    probabilities as one prefill call; chunks cross the sliding window and the cache."""
    from lib import generation

    model = pipeline.get_model(spec)
    prompt = ("Licensor hereby grants to You a perpetual, worldwide, non-exclusive, no-charge, "
              "royalty-free, irrevocable copyright license to reproduce the Work.\n" * 3)
    settings = GenerationSettings(max_new_tokens=12)
    whole = pipeline.generate(model, prompt, settings)
    monkeypatch.setattr(generation, "PREFILL_CHUNK", 32)
    n_prompt = whole.sequence.prompt_length
    assert n_prompt > 3 * 32
    chunked = pipeline.generate(model, prompt, settings)
    assert [t.id for t in chunked.sequence.tokens] == [t.id for t in whole.sequence.tokens]
    np.testing.assert_allclose(chunked.probs, whole.probs, rtol=1e-4, atol=1e-6)
