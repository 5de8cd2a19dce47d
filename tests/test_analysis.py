"""Contrastive salience and the output x prompt matrix, on tiny models against references."""

from __future__ import annotations

import os

import numpy as np
import pytest

from lib import pipeline
from lib.errors import InputError
from lib.models.tiny import load_tiny

PROMPT = "Analyze a menu item.\nSuggestion: Quiche Lorraine\nAnalysis:"
TARGET = " Avoid. It has eggs. Try the salad."


@pytest.fixture(scope="module", params=["tiny", "tiny-gemma2"])
def model(request):
    """float32 arithmetic (the default mixed mode rounds products to bfloat16). Gemma 3 runs
    the layered path, Gemma 2 the plain one."""
    old = os.environ.get("STUDIO_SALIENCE_PRECISION")
    os.environ["STUDIO_SALIENCE_PRECISION"] = "float32"
    try:
        model = load_tiny(request.param)
        assert model.functions.precision == "float32"
    finally:
        if old is None:
            del os.environ["STUDIO_SALIENCE_PRECISION"]
        else:
            os.environ["STUDIO_SALIENCE_PRECISION"] = old
    return model


@pytest.fixture(scope="module")
def seq(model):
    return pipeline.sequence_for_target(model, PROMPT, TARGET)


def _segment(model, seq, text):
    """Token indices of the first output word whose text is `text`."""
    from lib.segments import segment_sequence

    words = [s for s in segment_sequence(seq, "words") if not s.in_prompt]
    for s in words:
        if s.text.strip() == text:
            return list(s.token_indices)
    raise AssertionError(f"{text!r} not in {[s.text for s in words]}")


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _keras_logprob(model, context, tokens):
    """log p(tokens | context) from keras-hub's own functional forward (independent)."""
    ids = [*context, *tokens]
    hidden = model.backbone({"token_ids": np.array([ids], dtype="int32"),
                             "padding_mask": np.ones((1, len(ids)), dtype="int32")})
    logits = np.asarray(model.backbone.token_embedding(hidden, reverse=True))[0]
    logp = _log_softmax(logits.astype(np.float64))
    return sum(logp[len(context) + k - 1, t] for k, t in enumerate(tokens))


def test_foil_equal_to_the_target_gives_zero_scores(model, seq):
    target = _segment(model, seq, "eggs.")
    foil = [seq.ids[i] for i in target]
    c = pipeline.contrastive_salience(model, seq, target, foil, "grad_dot_input")
    assert len(c.scores) == target[0] and c.scores == (0.0,) * target[0]
    assert c.logprob_difference == 0.0
    assert pipeline.contrastive_salience(model, seq, target, foil, "grad_l2").scores == c.scores


def test_swapping_target_and_foil_negates_grad_dot_input(model, seq):
    target = _segment(model, seq, "eggs.")
    foil = pipeline.foil_ids(model, " salad")
    a = pipeline.contrastive_salience(model, seq, target, foil, "grad_dot_input")
    # The same context followed by the foil as the output segment, contrasted with S.
    swapped = pipeline.sequence_for_target(
        model, PROMPT, seq.text[len(seq.input_text): seq.tokens[target[0]].start] + " salad")
    f_idx = list(range(target[0], len(swapped.tokens)))
    assert swapped.ids[:target[0]] == seq.ids[:target[0]]
    assert [swapped.ids[i] for i in f_idx] == foil
    b = pipeline.contrastive_salience(model, swapped, f_idx, [seq.ids[i] for i in target],
                                      "grad_dot_input")
    sa, sb = np.array(a.scores), np.array(b.scores)
    assert np.abs(sa).max() > 0
    assert np.abs(sa + sb).max() <= 1e-5 * np.abs(sa).max()
    assert a.logprob_difference == pytest.approx(-b.logprob_difference, abs=1e-9)
    l2a = pipeline.contrastive_salience(model, seq, target, foil, "grad_l2").scores
    l2b = pipeline.contrastive_salience(model, swapped, f_idx, [seq.ids[i] for i in target],
                                        "grad_l2").scores
    assert min(l2a) >= 0 and l2a == pytest.approx(l2b, rel=1e-6)  # unsigned: the same


def test_log_probabilities_match_separate_teacher_forced_scorings(model, seq):
    target = _segment(model, seq, "It")
    foil = pipeline.foil_ids(model, " The salad")
    c = pipeline.contrastive_salience(model, seq, target, foil)
    context = seq.ids[:target[0]]
    want_s = _keras_logprob(model, context, [seq.ids[i] for i in target])
    want_f = _keras_logprob(model, context, foil)
    assert c.target_logprob == pytest.approx(want_s, rel=1e-5)
    assert c.foil_logprob == pytest.approx(want_f, rel=1e-5)
    assert c.logprob_difference == pytest.approx(want_s - want_f, abs=1e-4)
    assert c.foil_ids == tuple(foil) and c.foil_text == " The salad"


def test_contrastive_grad_dot_input_is_the_difference_of_plain_grad_dot_inputs(model, seq):
    """Grad·Input is linear in the gradient: the contrast equals Grad·Input of S minus that of
    F, each from an ordinary salience call on its own sequence (an independent route)."""
    target = _segment(model, seq, "eggs.")
    foil = pipeline.foil_ids(model, " ham")
    c = pipeline.contrastive_salience(model, seq, target, foil)
    start = target[0]
    s_ids, f_ids = seq.ids[: target[-1] + 1], [*seq.ids[:start], *foil]
    _, dot_s, _ = model.functions.salience(s_ids, [target])
    _, dot_f, _ = model.functions.salience(f_ids, [range(start, len(f_ids))])
    want = dot_s[0, :start] - dot_f[0, :start]
    np.testing.assert_allclose(c.scores, want, atol=1e-5 * np.abs(want).max())
    assert c.token_scores(len(seq.tokens))[start:] == (0.0,) * (len(seq.tokens) - start)


def test_bad_foils_and_methods_are_refused(model, seq):
    target = _segment(model, seq, "eggs.")
    for text in ("", None):
        with pytest.raises(InputError) as err:
            pipeline.foil_ids(model, text)
        assert err.value.field == "foil"
    with pytest.raises(InputError) as err:
        pipeline.contrastive_salience(model, seq, target, [])
    assert err.value.field == "foil"
    with pytest.raises(InputError) as err:
        pipeline.contrastive_salience(model, seq, target, [1], "integrated_gradients")
    assert err.value.field == "method"
    with pytest.raises(InputError) as err:
        pipeline.contrastive_salience(model, seq, [target[0], target[0] + 2], [1])
    assert err.value.field == "selection"


def test_each_matrix_row_equals_a_separate_salience_call(model, seq):
    from lib.segments import segment_scores

    pipeline.clear_cache()
    m = pipeline.salience_matrix(model, seq, "sentences", "grad_dot_input")
    assert [r.text.strip() for r in m.rows] == ["Avoid.", "It has eggs.", "Try the salad."]
    assert all(c.in_prompt for c in m.columns) and len(m.columns) >= 2
    assert len(m.scores) == len(m.rows) and all(len(r) == len(m.columns) for r in m.scores)
    pipeline.clear_cache()  # each reference is its own, uncached, engine call
    for row, scores in zip(m.rows, m.scores, strict=True):
        sal = pipeline.salience(model, seq, row.token_indices, "grad_dot_input")
        pipeline.clear_cache()
        want = segment_scores(m.columns, sal.scores)
        assert scores == pytest.approx(want, rel=1e-4, abs=1e-6)
