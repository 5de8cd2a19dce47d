"""Analysis benchmark: Integrated Gradients per segment vs one gradient, and the output x prompt
matrix for a whole output, on the embedded Gemma 3 270M and the menu-item prompt.

One process: the model loads, generates the continuation of `fewshot-fixed` (greedy, its stop
text), then for the output's first sentence times one gradient (Grad-L2/Grad·Input) and IG at the
default steps, and for every output sentence the matrix (shared forward passes). "first" is
the first call in the process (it compiles, unless the on-disk compile cache has the shapes);
"warm" the median of `--runs` later calls, the score cache cleared before each.
Also prints IG's completeness gap at a few step counts (mixed precision, the default).

    .venv/bin/python bench/analysis.py [--model embedded] [--runs 3] [--gap-steps 16,32,64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.floor import cpu_name  # noqa: E402


def timed(fn, runs: int, before=None) -> tuple[float, float, object]:
    """(first call s, median warm s, last result)."""
    times, result = [], None
    for _ in range(runs + 1):
        if before:
            before()
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times[0], statistics.median(times[1:]), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gap-steps", default="16,32,64")
    args = parser.parse_args()

    from lib import pipeline
    from lib.records import GenerationSettings
    from lib.salience.integrated import DEFAULT_STEPS
    from lib.segments import segment_sequence
    from lib.templates import get_template

    t = time.perf_counter()
    model = pipeline.get_model(args.model)
    load_s = time.perf_counter() - t
    template = get_template("fewshot-fixed")
    prompt = template.render()
    gen = pipeline.generate(model, prompt, GenerationSettings(max_new_tokens=64,
                                                              stop=template.stop))
    seq = gen.sequence
    rows = [s for s in segment_sequence(seq, "sentences") if not s.in_prompt and s.token_indices]
    first = list(rows[0].token_indices)
    clear = pipeline.clear_cache
    g_first, g_warm, _ = timed(lambda: pipeline.salience(model, seq, first, "grad_l2"),
                               args.runs, clear)
    ig_first, ig_warm, ig = timed(lambda: pipeline.integrated_gradients(model, seq, first),
                                  args.runs, clear)
    m_first, m_warm, _ = timed(lambda: pipeline.salience_matrix(model, seq, "sentences",
                                                                "grad_l2"), args.runs, clear)
    gaps = []
    for steps in [int(s) for s in args.gap_steps.split(",") if s]:
        t = time.perf_counter()
        r = pipeline.integrated_gradients(model, seq, first, steps)
        gaps.append((steps, r.completeness_gap, time.perf_counter() - t))

    cpu = cpu_name()
    print(f"\nMachine: {cpu}, {os.cpu_count()} cores; model: {model.name} ({args.model}, "
          f"precision {model.functions.precision}, load {load_s:.1f} s); prompt: fewshot-fixed "
          f"({seq.prompt_length} tokens), greedy output {len(seq.tokens) - seq.prompt_length} "
          f"tokens in {len(rows)} sentences; first segment {rows[0].text.strip()[:40]!r} "
          f"(tokens {first[0]}-{first[-1]}); warm = median of {args.runs}.\n")
    print("| what | first call | warm | warm vs one gradient |")
    print("|---|---|---|---|")
    print(f"| one gradient (Grad-L2 + Grad·Input), one segment | {g_first:.2f} s | "
          f"{g_warm:.2f} s | 1x |")
    print(f"| Integrated Gradients, {DEFAULT_STEPS} steps, one segment | {ig_first:.2f} s | "
          f"{ig_warm:.2f} s | {ig_warm / g_warm:.1f}x |")
    print(f"| matrix, {len(rows)} output sentences x prompt sentences | {m_first:.2f} s | "
          f"{m_warm:.2f} s | {m_warm / g_warm:.1f}x |")
    print(f"\nIG completeness gap (first segment, {model.functions.precision}): "
          f"{DEFAULT_STEPS} steps {ig.completeness_gap:.2%}"
          + "".join(f"; {s} steps {g:.2%} ({t:.1f} s)" for s, g, t in gaps)
          + f". f(x) - f(baseline) = {ig.loss - ig.baseline_loss:.3f}.")


if __name__ == "__main__":
    main()
