"""Integrated Gradients' path on the embedded Gemma 3 270M: the gradient at points between the
pad baseline and the input is the derivative of the loss along the path (docs/benchmarks.md:
why IG's completeness gap stays large there even so)."""

from __future__ import annotations

import numpy as np
import pytest

from lib import pipeline

pytestmark = pytest.mark.slow
PROMPT = ("Taste-dislikes: Don't like onions or garlic\nSuggestion: Onion soup\n"
          "Analysis: it has cooked onions in it, which you don't like.\nRecommendation:")


def test_path_gradient_is_the_derivative_of_the_path_loss_in_float32():
    model = pipeline.get_model("embedded")
    fns, pad = model.functions, model.tokenizer.pad_id
    seq = pipeline.sequence_for_target(model, PROMPT, " Avoid.")
    target = list(range(seq.prompt_length, len(seq.tokens)))
    keep = [t.special or t.index in target for t in seq.tokens]
    table = np.asarray(fns.weights[fns.embedding_index])
    x = table[np.asarray(seq.ids)].astype(np.float64)
    baseline = np.where(np.asarray(keep)[:, None], x, table[pad].astype(np.float64)[None])
    delta = x - baseline
    # Points inside the path (not the lookup itself): where the path's inputs, built from
    # unscaled embeddings, meet the model's sqrt(d) scaling. A gradient taken at the scaled
    # embeddings would be off by sqrt(640) ~ 25x here.
    h, alphas = 1e-3, (0.2, 0.8)
    points = np.array([a + s * h for a in alphas for s in (-1, 0, 1)])
    inputs = (baseline[None] + points[:, None, None] * delta[None]).astype(table.dtype)
    grads, loss = fns.embedding_gradients(seq.ids, [target], inputs, pad_id=pad,
                                          precision="float32")
    for k, a in enumerate(alphas):
        lo, mid, hi = 3 * k, 3 * k + 1, 3 * k + 2
        along = float(np.sum(grads[mid, 0] * delta))  # df/dalpha from the gradient
        central = (loss[hi, 0] - loss[lo, 0]) / (2 * h)
        print(f"alpha {a}: gradient . delta {along:.4f}, central difference {central:.4f}")
        # Measured 0.01% and 0.24% apart (the forward is float32); 2% leaves room.
        assert abs(along) > 1.0 and along == pytest.approx(central, rel=2e-2)
