"""Our JAX forward and salience against independent references, on tiny Gemma 1/2/3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lib import pipeline
from lib.models.tiny import load_tiny, tiny_backbone

TEXT = ("Analyze a menu item in a restaurant. Taste-likes: Cheese. Suggestion: Quiche Lorraine. "
        "Recommendation: Avoid. The policy applies to all employees.")
FAMILIES = ["tiny-gemma1", "tiny-gemma2", "tiny-gemma3"]


@pytest.fixture(scope="module", params=FAMILIES)
def model(request):
    return pipeline.get_model(request.param)


def _ids(model, text=TEXT):
    return [model.tokenizer.bos_id, *model.tokenizer.encode(text)]


def _keras_logits(model, ids):
    """Logits from keras-hub's own functional backbone (an independent forward pass)."""
    n = len(ids)
    hidden = model.backbone({"token_ids": np.array([ids], dtype="int32"),
                             "padding_mask": np.ones((1, n), dtype="int32")})
    return np.asarray(model.backbone.token_embedding(hidden, reverse=True))[0].astype(np.float64)


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_sequences_are_longer_than_the_sliding_window(model):
    from lib.models.tiny import SLIDING_WINDOW

    assert len(_ids(model)) > 4 * SLIDING_WINDOW


def test_forward_matches_keras_logits(model):
    ids = _ids(model)
    ours = model.functions.logits_at(ids, list(range(len(ids))))
    ref = _keras_logits(model, ids)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=2e-5, rtol=1e-4)


def test_cached_generation_step_matches_full_forward(model):
    """The KV-cache path (prefill then one token at a time) gives the full forward's logits."""
    ids = _ids(model)
    ref = _keras_logits(model, ids)
    fns = model.functions
    cache = fns.empty_cache(128)
    split = 20
    logits, cache = fns.step(cache, ids[:split] + [0] * 12, 0, split - 1)
    np.testing.assert_allclose(logits, ref[split - 1], atol=2e-5, rtol=1e-4)
    for pos in range(split, len(ids)):
        logits, cache = fns.step(cache, [ids[pos]], pos, 0)
        np.testing.assert_allclose(logits, ref[pos], atol=2e-5, rtol=1e-4)


def test_target_loss_is_sum_of_full_forward_log_probs(model):
    ids = _ids(model)
    target = [len(ids) - 7, len(ids) - 4, len(ids) - 3]  # not contiguous on purpose
    _, _, loss = model.functions.salience(ids, [target], precision="float32")
    logp = _log_softmax(_keras_logits(model, ids))
    expected = -sum(logp[p - 1, ids[p]] for p in target)
    assert loss[0] == pytest.approx(expected, rel=1e-4)


def test_grad_dot_input_is_additive_over_targets(model):
    ids = _ids(model)
    a, b = [len(ids) - 6, len(ids) - 5], [len(ids) - 2]
    # float32: the mixed mode rounds each cotangent to bfloat16, so it is additive only to that
    # precision (bounded by test_mixed_precision_salience_stays_close_to_float32).
    _, dot, _ = model.functions.salience(ids, [a, b, a + b], precision="float32")
    np.testing.assert_allclose(dot[0] + dot[1], dot[2], atol=1e-4, rtol=1e-4)


def test_untruncated_path_is_causal_and_matches_fast_path(model):
    ids = _ids(model)
    target = [len(ids) - 12, len(ids) - 11]
    l2_full, dot_full, loss_full = model.functions.salience(ids, [target], truncate=False)
    l2_fast, dot_fast, loss_fast = model.functions.salience(ids, [target])
    last = max(target)
    assert np.all(l2_full[0, last:] == 0.0) and np.all(dot_full[0, last:] == 0.0)
    assert np.all(l2_full[0, :last] > 0.0)
    np.testing.assert_allclose(l2_fast, l2_full, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(dot_fast, dot_full, atol=1e-5, rtol=1e-4)
    assert loss_fast == pytest.approx(loss_full, rel=1e-5)


def test_batched_targets_equal_single_calls(model):
    ids = _ids(model)
    targets = [[p] for p in range(len(ids) - 9, len(ids))]
    l2_b, dot_b, _ = model.functions.salience(ids, targets, precision="float32")
    for j, t in enumerate(targets):
        l2, dot, _ = model.functions.salience(ids, [t], precision="float32")
        np.testing.assert_allclose(l2_b[j], l2[0], atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(dot_b[j], dot[0], atol=1e-5, rtol=1e-4)


def test_gemma3_runs_on_our_stack_and_others_on_keras_blocks(model):
    # The exactness tests above cover whichever path each family takes; this pins which one.
    assert (model.functions.stack is not None) == (model.spec == "tiny-gemma3")


def test_mixed_precision_salience_stays_close_to_float32():
    """The default `mixed` mode (bfloat16 products, float32 accumulation) against float32: same
    ranking of the salient tokens, scores within a few percent of the largest one."""
    model = pipeline.get_model("tiny-gemma3")
    fns = model.functions
    ids = _ids(model)
    target = [len(ids) - 5, len(ids) - 4, len(ids) - 3]
    exact = fns.salience(ids, [target], precision="float32")
    mixed = fns.salience(ids, [target], precision="mixed")
    live = slice(0, max(target))
    for e, m in zip(exact[:2], mixed[:2], strict=True):
        scale = np.abs(e[0, live]).max()
        assert np.abs(e[0, live] - m[0, live]).max() < 0.06 * scale
        assert np.corrcoef(e[0, live], m[0, live])[0, 1] > 0.995
        assert not np.array_equal(e, m)  # the mode really changed the arithmetic
    top = np.argsort(-exact[0][0, live])[:3]
    assert set(top) == set(np.argsort(-mixed[0][0, live])[:3])
    assert mixed[2][0] == pytest.approx(exact[2][0], rel=2e-2)
    logits_e = fns.logits_at(ids, [len(ids) - 2], precision="float32")
    logits_m = fns.logits_at(ids, [len(ids) - 2], precision="mixed")
    assert np.abs(logits_e - logits_m).max() < 0.1 * np.abs(logits_e).max()


def test_precision_setting_is_read_from_the_environment(monkeypatch):
    from lib.errors import InputError
    from lib.salience.precision import default_precision

    monkeypatch.delenv("STUDIO_SALIENCE_PRECISION", raising=False)
    assert default_precision() == "mixed"
    monkeypatch.setenv("STUDIO_SALIENCE_PRECISION", " Float32 ")
    assert default_precision() == "float32"
    monkeypatch.setenv("STUDIO_SALIENCE_PRECISION", "fp16")
    with pytest.raises(InputError, match="STUDIO_SALIENCE_PRECISION is 'fp16'"):
        default_precision()


def test_unknown_precision_is_refused():
    model = pipeline.get_model("tiny-gemma3")
    with pytest.raises(ValueError, match="precision"):
        model.functions.salience(_ids(model), [[3]], precision="float16")


def test_salience_changes_when_weights_are_reinitialised():
    """Adebayo et al.'s sanity check: scores must depend on the learned weights."""
    model = load_tiny("tiny")
    ids = _ids(model)
    target = [len(ids) - 3, len(ids) - 2]
    l2_a = model.functions.salience(ids, [target])[0][0]
    other = tiny_backbone("gemma3", seed=99)
    weights = [np.asarray(v.value) for v in other.variables]
    l2_b = model.functions.salience(ids, [target], weights=weights)[0][0]
    live = slice(0, max(target))
    corr = np.corrcoef(l2_a[live], l2_b[live])[0, 1]
    assert np.abs(l2_a[live] - l2_b[live]).max() > 0.1 * l2_a[live].max()
    assert corr < 0.9


_FD_SCRIPT = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    from lib.models.loaded_model import LoadedModel, weights_fingerprint
    from lib.models.tiny import tiny_backbone
    from lib.models.tiny_vocab import tiny_vocab_proto
    from lib.tokenizer import TextTokenizer

    import keras
    from keras import ops

    # keras-hub computes norms and attention softmax in float32 on purpose; for a float64
    # reference every op must run in float64, so widen those casts and layer policies here.
    _cast = ops.cast
    ops.cast = lambda x, dtype: _cast(x, "float64" if str(dtype) == "float32" else dtype)
    family = sys.argv[1]
    backbone = tiny_backbone(family, dtype="float64")
    for layer in backbone._flatten_layers(include_self=False):
        layer.dtype_policy = keras.DTypePolicy("float64")
    model = LoadedModel(spec="fd", name="fd", backbone=backbone,
                        tokenizer=TextTokenizer(tiny_vocab_proto()),
                        fingerprint=weights_fingerprint(backbone))
    fns = model.functions
    ids = [2, *model.tokenizer.encode(sys.argv[2])]
    target = [len(ids) - 4, len(ids) - 3]
    l2, dot, _ = fns.salience(ids, [target])
    table = np.asarray(fns.weights[fns.embedding_index])
    ref = fns.reference_gradient(ids, target)
    eps = 2e-3
    out = []

    def difference_quotient(k, d, h):
        losses = []
        for sign in (1, -1):
            delta = np.zeros((len(ids), table.shape[1]))
            delta[k, d] = sign * h  # perturb the input at position k only
            losses.append(fns.target_loss(ids, target, delta))
        return (losses[0] - losses[1]) / (2 * h)

    for k in range(1, target[0], 7):
        # Richardson extrapolation of two central differences: error O(h^4), so a step large
        # enough to stay clear of rounding noise is still accurate.
        grad = [(4 * difference_quotient(k, d, eps / 2) - difference_quotient(k, d, eps)) / 3
                for d in range(table.shape[1])]
        grad = np.array(grad)
        out.append({"fd_l2": float(np.linalg.norm(grad)), "l2": float(l2[0, k]),
                    "fd_dot": float(grad @ table[ids[k]]), "dot": float(dot[0, k]),
                    "ref_l2": float(np.linalg.norm(ref[k])),
                    "x_norm": float(np.linalg.norm(table[ids[k]])), "ref_dot": float(ref[k] @ table[ids[k]])})
    print(json.dumps(out))
""")


@pytest.mark.parametrize("family", ["gemma", "gemma2", "gemma3"])
def test_gradients_match_central_finite_differences_in_float64(family):
    # float64 needs jax_enable_x64, a process-wide switch: run it in a fresh interpreter.
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", _FD_SCRIPT, family, TEXT], cwd=root, capture_output=True,
        text=True, env={**os.environ, "PYTHONPATH": str(root)}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(rows) >= 3
    for row in rows:
        assert row["l2"] > 1e-3
        # Against plain jax.grad of keras-hub's unpadded forward. Gemma 1/2 salience runs the
        # same keras-hub blocks: equal to float64 precision. Gemma 3 runs our own stack, exact
        # to a numpy float64 reference per op, while keras-hub's RMSNorm and rotary tables keep
        # float32 rounding even here (measured 2.4e-7 per op): they agree to ~1e-7 relative.
        tol = 1e-6 if family == "gemma3" else 1e-7
        assert row["l2"] == pytest.approx(row["ref_l2"], rel=tol)
        assert row["dot"] == pytest.approx(row["ref_dot"], abs=tol * row["l2"] * row["x_norm"])
        # Against finite differences (forward only, no autodiff). keras-hub keeps a few float32
        # ops inside its layers (norm statistics, soft caps), which bounds how small the step
        # can be; a wrong interception point (sqrt(d) = 4x), position or sign is off by far more.
        # Measured: Gemma 1/3 agree to ~1e-4, Gemma 2 to ~4e-3 (its soft caps run tanh in
        # float32, the noisiest op). A dot product may cancel to near 0, so its error is bounded
        # relative to |grad| * |input|.
        assert row["l2"] == pytest.approx(row["fd_l2"], rel=1e-2)
        assert row["dot"] == pytest.approx(row["fd_dot"], abs=3e-2 * row["l2"] * row["x_norm"])
