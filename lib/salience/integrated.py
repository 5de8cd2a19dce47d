"""Integrated Gradients (Sundararajan et al. 2017) on the token embeddings.

The path runs from a baseline to the input in the looked-up embedding space: at every
interpolated position the baseline is the pad token's embedding; special tokens (<bos>, chat
markers) and the target's own tokens are kept as they are on the whole path, so they score 0.
The integral is the midpoint rule over `steps` points (error O(1/steps^2)); the steps run in
batches (one batched engine call each), with `lib.cancel.checkpoint()` and progress between.

Completeness: the scores sum to f(input) - f(baseline), f the target's summed loss, up to the
quadrature error; `completeness_gap` reports that error relatively. Scores keep Grad·Input's
sign (gradient of the loss: negative = the token made the target more likely).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lib.cancel import checkpoint
from lib.salience.methods import INTEGRATED_GRADIENTS, Gradients

ProgressFn = Callable[[float, str], None]
# The registry's default (128): the smallest power of two whose gap is < 1% for every target
# tests/test_integrated.py measures on tiny Gemma 3 in float64 (64 steps left 12% on one:
# the random model's path wiggles). docs/benchmarks.md has the embedded model's gaps.
DEFAULT_STEPS = INTEGRATED_GRADIENTS.needs.interpolation_steps
MAX_STEPS = 512


@dataclass(frozen=True)
class IGResult:
    scores: np.ndarray  # [N] per token (0 where the path keeps the token)
    loss: float  # f(input): the target's summed loss
    baseline_loss: float  # f(baseline)
    steps: int

    @property
    def completeness_gap(self) -> float | None:
        """|sum(scores) - (f(x) - f(baseline))| / |f(x) - f(baseline)| (None when the path is
        empty: nothing was interpolated)."""
        delta = self.loss - self.baseline_loss
        if delta == 0.0:
            return None
        return abs(float(self.scores.sum()) - delta) / abs(delta)


def path_alphas(steps: int) -> np.ndarray:
    """The midpoints of `steps` equal intervals of [0, 1]. (Gauss-Legendre points did no
    better on tiny Gemma 3: the integrand along the path is not smooth enough.)"""
    return (np.arange(steps) + 0.5) / steps


def integrated_gradients(fns: Any, ids: Sequence[int], target: Sequence[int],
                         interpolate: Sequence[bool], baseline_id: int, steps: int, *,
                         batch: int, pad_id: int = 0, progress: ProgressFn | None = None,
                         **options: Any) -> IGResult:
    """IG scores of one target (token indices) over `ids`, interpolating where `interpolate`
    is true; `fns` is a `ModelFunctions`, `batch` the inputs per engine call, `options` go to
    `fns.embedding_gradients` (precision, layered, block)."""
    if steps < 1:
        raise ValueError("steps must be >= 1")
    table = np.asarray(fns.weights[fns.embedding_index])
    x = table[np.asarray(ids)].astype(np.float64)
    mask = np.asarray(interpolate, bool)[:, None]
    baseline = np.where(mask, table[baseline_id].astype(np.float64)[None], x)
    # The path's points, then x and the baseline themselves (for f(x) and f(baseline)).
    alphas = np.concatenate([path_alphas(steps), [1.0, 0.0]])
    weights = np.concatenate([np.full(steps, 1.0 / steps), [0.0, 0.0]])  # x, baseline: 0
    total = np.zeros_like(x)
    losses = np.zeros(len(alphas))
    batch = max(1, int(batch))
    for start in range(0, len(alphas), batch):
        chunk = alphas[start:start + batch]
        inputs = baseline[None] + chunk[:, None, None] * (x - baseline)[None]
        size = len(chunk)

        def piece(fraction: float, message: str, start=start, size=size) -> None:
            if progress:
                progress((start + fraction * size) / len(alphas),
                         f"Integrated Gradients, steps {start + 1}-{start + size} of "
                         f"{len(alphas)}: {message.lower()}")

        grads, loss = fns.embedding_gradients(ids, [target], inputs.astype(table.dtype),
                                              pad_id=pad_id, progress=piece, **options)
        total += np.einsum("b,btd->td", weights[start:start + size], grads[:, 0])
        losses[start:start + len(chunk)] = loss[:, 0]
        checkpoint()
    # The registry's formula, given the path's mean gradient as a one-point path.
    g = Gradients(grads=None, embeddings=x, path_grads=total[None, None],
                  baseline=baseline)
    scores = np.asarray(INTEGRATED_GRADIENTS.scores_from(g))[0]
    return IGResult(scores=scores, loss=float(losses[steps]),
                    baseline_loss=float(losses[steps + 1]), steps=steps)
