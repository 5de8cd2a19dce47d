"""Memory bounds of salience: token limit, batch chunking by targets x tokens, prefetch skipping
segments past the limit."""

from __future__ import annotations

import pytest

from lib import pipeline
from lib.errors import LimitError
from lib.worker import ModelService, prefetch_salience

PROMPT = "Analyze a menu item. Taste-likes: cheese. Suggestion: quiche. Recommendation:"
TARGET = " Avoid. It has eggs, which you do not like, and cream."


@pytest.fixture
def tiny():
    model = pipeline.get_model("tiny")
    pipeline.clear_cache()
    yield model
    pipeline.clear_cache()


def test_batches_are_cut_by_targets_times_tokens(tiny, monkeypatch):
    seq = pipeline.sequence_for_target(tiny, PROMPT, TARGET)
    targets = [[i] for i in range(seq.prompt_length, len(seq.tokens))]
    calls = []
    real = type(tiny.functions).salience_scores

    def counting(self, ids, chunk, **kw):
        calls.append(len(chunk))
        return real(self, ids, chunk, **kw)

    monkeypatch.setattr(type(tiny.functions), "salience_scores", counting)
    # tiny Gemma 3 runs the layered path, whose batches are cut by a cotangent byte budget.
    per_target = pipeline.COTANGENT_COPIES * len(seq.tokens) * tiny.functions.hidden_dim * 4
    monkeypatch.setattr(pipeline, "BATCH_BYTES", 3 * per_target)
    batched = pipeline.salience_batch(tiny, seq, targets)
    assert calls and max(calls) == 3 and sum(calls) == len(targets)
    pipeline.clear_cache()
    monkeypatch.setattr(pipeline, "BATCH_BYTES", 1)  # never fewer than one target per call
    calls.clear()
    one_by_one = pipeline.salience_batch(tiny, seq, targets)
    assert calls == [1] * len(targets)
    # Equal up to the mixed mode's bfloat16 rounding, which depends on the batch.
    for a, b in zip(batched, one_by_one, strict=True):
        assert a.scores == pytest.approx(b.scores, rel=1e-2, abs=1e-4)


def test_prefetch_skips_segments_past_the_limit_and_keeps_the_others(tiny, monkeypatch):
    seq = pipeline.sequence_for_target(tiny, PROMPT, TARGET)
    limit = seq.prompt_length + 3
    monkeypatch.setattr(tiny, "max_salience_tokens", limit)
    with pytest.raises(LimitError, match=f"first {limit} tokens"):
        pipeline.salience(tiny, seq, [len(seq.tokens) - 1])
    svc = ModelService("tiny", lambda spec, progress=None: tiny)
    svc.wait_loaded(60)
    targets = [[i] for i in range(seq.prompt_length, len(seq.tokens))]
    for f in prefetch_salience(svc, seq, targets, "grad_l2", pipeline.salience_batch,
                               owner="t", batch_size=4):
        f.result(120)  # no batch fails because of a segment past the limit
    for t in targets:
        cached = pipeline.cached_salience(tiny, seq, t)
        assert (cached is not None) == (t[0] <= limit), t

