"""Integrated Gradients' path on a short prompt: the completeness gap per precision and steps,
and the loss f(alpha) along the pad -> input path with where the quadrature misses it.

For each precision: IG's gap at each step count; then f and df/dalpha (gradient . delta) on an
evenly spaced grid of the path, and the intervals where the change of f differs from the
trapezoid of df/dalpha by more than --tolerance (cliffs narrower than the grid's spacing).

    .venv/bin/python bench/ig_path.py [--model embedded] [--precisions mixed,float32]
        [--steps 32,64,128] [--grid 64]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# ~40 tokens: the first menu-item example, so that one IG run takes seconds to minutes on CPU.
PROMPT = ("Taste-dislikes: Don't like onions or garlic\nSuggestion: Onion soup\n"
          "Analysis: it has cooked onions in it, which you don't like.\nRecommendation:")
TARGET = " Avoid."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--precisions", default="mixed,float32")
    parser.add_argument("--steps", default="32,64,128")
    parser.add_argument("--grid", type=int, default=64, help="intervals of the f(alpha) grid; "
                        "0 skips the profile")
    parser.add_argument("--tolerance", type=float, default=1.0)
    args = parser.parse_args()

    from lib import pipeline
    from lib.salience import integrated

    model = pipeline.get_model(args.model)
    fns, pad = model.functions, model.tokenizer.pad_id
    seq = pipeline.sequence_for_target(model, PROMPT, TARGET)
    ids = seq.ids
    target = list(range(seq.prompt_length, len(ids)))
    interpolate = [not t.special and t.index not in target for t in seq.tokens]
    table = np.asarray(fns.weights[fns.embedding_index])
    x = table[np.asarray(ids)].astype(np.float64)
    baseline = np.where(np.asarray(interpolate)[:, None], table[pad].astype(np.float64)[None], x)
    delta = x - baseline
    print(f"{model.name}: {len(ids)} tokens, target {TARGET!r} (tokens {target})")
    for precision in args.precisions.split(","):
        for steps in [int(s) for s in args.steps.split(",") if s]:
            t = time.perf_counter()
            r = integrated.integrated_gradients(fns, ids, target, interpolate, pad, steps,
                                                batch=pipeline.STEPS_CHUNK, pad_id=pad,
                                                precision=precision)
            print(f"[{precision}] {steps} steps: sum of scores {r.scores.sum():.4f}, "
                  f"f(x) - f(baseline) {r.loss - r.baseline_loss:.4f}, gap "
                  f"{r.completeness_gap:.2%} ({time.perf_counter() - t:.1f} s)", flush=True)
        if args.grid <= 0:
            continue
        n = args.grid
        alphas = np.linspace(0.0, 1.0, n + 1)
        inputs = (baseline[None] + alphas[:, None, None] * delta[None]).astype(table.dtype)
        f, d = [], []
        chunk = pipeline.STEPS_CHUNK
        for start in range(0, n + 1, chunk):
            g, loss = fns.embedding_gradients(ids, [target], inputs[start:start + chunk],
                                              pad_id=pad, precision=precision)
            f.extend(loss[:, 0])
            d.extend(np.einsum("btd,td->b", g[:, 0], delta))
        f, d = np.array(f), np.array(d)
        trap = (d[:-1] + d[1:]) / (2 * n)
        print(f"[{precision}] grid of {n}: trapezoid {trap.sum():.4f} vs f(1) - f(0) "
              f"{f[-1] - f[0]:.4f}; max |df/dalpha| {np.abs(d).max():.1f} at alpha "
              f"{alphas[np.argmax(np.abs(d))]:.3f}; f from {f.min():.2f} to {f.max():.2f}")
        for k in np.flatnonzero(np.abs(np.diff(f) - trap) > args.tolerance):
            print(f"   alpha {alphas[k]:.4f}-{alphas[k + 1]:.4f}: f {f[k]:.3f} -> "
                  f"{f[k + 1]:.3f} (change {f[k + 1] - f[k]:+.3f}, trapezoid {trap[k]:+.3f})")


if __name__ == "__main__":
    main()
