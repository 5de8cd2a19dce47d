"""Engine benchmark: load, generation, salience vs the compute floor. Prints a Markdown table.

    .venv/bin/python bench/engine.py [--runs 5] [--model embedded] [--skip-cold]

Medians of several runs; "first" is the first call in a fresh process (includes compilation).
The floor = FLOPs strictly needed for one segment's salience (forward over the tokens up to the
last target, logits at the target positions only, backward to the activations without weight
gradients) / the rate of a 1024^3 matmul measured in this process, in float32 and in bfloat16
(float32 sums): mixed precision is reported against both.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lib  # noqa: E402,F401  (sets the JAX backend)
from bench.floor import cpu_name, matmul_rate, salience_flops  # noqa: E402

LIT_ROWS = ROOT / "tests" / "fixtures" / "peers" / "lit_prompt_examples.jsonl"


def timed(fn, runs: int) -> tuple[float, float, object]:
    """(first call seconds, median of the following `runs` calls, last result)."""
    t = time.perf_counter()
    result = fn()
    first = time.perf_counter() - t
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return first, statistics.median(times), result


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def reset_peak_rss() -> None:
    """Linux: restart the VmHWM (peak RSS) counter, to measure one phase's peak."""
    Path("/proc/self/clear_refs").write_text("5")


def phase_peak_gb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1e6


def cold_load(model_spec: str) -> dict:
    """Load times in fresh processes: from the GGUF (cache removed) and from the cache."""
    from lib.paths import cache_dir

    out = {}
    code = (
        "import time; t=time.perf_counter(); import lib; from lib import pipeline; "
        f"pipeline.get_model({model_spec!r}); print(time.perf_counter()-t)"
    )
    if model_spec == "embedded":
        from lib.models.gguf_gemma3 import cache_folder

        backup = None
        if cache_folder().exists():
            backup = cache_dir() / "bench-backup"
            shutil.rmtree(backup, ignore_errors=True)
            cache_folder().rename(backup)
        try:
            r = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
            )
            out["cold load from GGUF (convert + write cache)"] = float(r.stdout.split()[-1])
        finally:
            if backup is not None and not cache_folder().exists():
                backup.rename(cache_folder())
            elif backup is not None:
                shutil.rmtree(backup, ignore_errors=True)
    times = []
    for _ in range(3):
        r = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
        )
        times.append(float(r.stdout.split()[-1]))
    out["load from cache (fresh process, import included)"] = statistics.median(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--skip-cold", action="store_true")
    args = ap.parse_args()

    import jax
    import numpy as np

    from lib import pipeline
    from lib.records import GenerationSettings

    rows = {r["source"]: r for r in map(json.loads, LIT_ROWS.read_text().splitlines())}
    prompt = rows["fewshot-mistake"]["prompt"]
    results: list[tuple[str, str, str, str]] = []

    if not args.skip_cold:
        for name, value in cold_load(args.model).items():
            results.append((name, f"{value:.2f} s", "", ""))

    t = time.perf_counter()
    model = pipeline.get_model(args.model)
    results.append(("load (this process)", f"{time.perf_counter() - t:.2f} s", "", ""))
    rate = matmul_rate("float32")
    rate_bf16 = matmul_rate("bfloat16")

    settings = GenerationSettings(max_new_tokens=48)
    first, warm, gen = timed(lambda: pipeline.generate(model, prompt, settings), args.runs)
    n_new = len(gen.probs)
    results.append(
        (
            f"generate {n_new} tokens (greedy, T_prompt={gen.sequence.prompt_length})",
            f"{warm:.2f} s",
            f"{first:.2f} s",
            f"{warm / n_new * 1000:.0f} ms/token",
        )
    )

    # The few-shot prompt + its generated answer; target = the analysis sentence.
    seq = gen.sequence
    answer_end = len(seq.input_text) + gen.text.index(".") + 1
    target = [t.index for t in seq.tokens[seq.prompt_length :] if t.start < answer_end]
    n_upto = max(target) + 1
    flops = salience_flops(model.backbone, max(target), len(target))
    floor = flops / rate
    floor_bf16 = flops / rate_bf16
    fns = model.functions
    ids = seq.ids

    def one_segment():
        pipeline.clear_cache()  # measure the computation, not the cache
        return pipeline.salience(model, seq, target)

    load_peak = rss_gb()
    reset_peak_rss()
    first, warm, _ = timed(one_segment, args.runs)
    salience_peak = phase_peak_gb()
    results.append(
        (
            f"salience, one segment ({len(target)} target tokens, T={n_upto}, "
            f"{fns.precision})",
            f"{warm:.2f} s",
            f"{first:.2f} s",
            f"{warm / floor:.2f}x floor at the float32 rate, {warm / floor_bf16:.2f}x at the "
            "bfloat16 rate",
        )
    )
    precision = fns.precision
    if fns.stack is not None:
        other = "float32" if precision != "float32" else "mixed"
        first_o, warm_o, _ = timed(lambda: fns.salience(ids, [target], precision=other),
                                   args.runs)
        a = fns.salience(ids, [target])[0][0]
        b = fns.salience(ids, [target], precision=other)[0][0]
        deviation = np.abs(a - b).max() / np.abs(b if other == "float32" else a).max()
        results.append(
            (
                f"salience, one segment, {other} instead of {precision}",
                f"{warm_o:.2f} s",
                f"{first_o:.2f} s",
                f"{warm_o / floor:.2f}x floor; scores differ by {deviation:.1%} of the largest",
            )
        )
    _, repeat, _ = timed(lambda: pipeline.salience(model, seq, target), args.runs)
    results.append(("salience, repeated request (cache)", f"{repeat * 1000:.2f} ms", "", ""))

    def naive():
        return fns.salience(ids, [target], truncate=False, full_vocab_logits=True)

    first_n, warm_n, _ = timed(naive, max(2, args.runs // 2))
    results.append(
        (
            "naive: full-vocab logits, no truncation",
            f"{warm_n:.2f} s",
            f"{first_n:.2f} s",
            f"{warm_n / floor:.2f}x floor",
        )
    )

    sentence_targets = []
    start = seq.prompt_length
    for i in range(seq.prompt_length, len(seq.tokens)):
        if seq.tokens[i].text.endswith((".", "\n")) or i == len(seq.tokens) - 1:
            sentence_targets.append(list(range(start, i + 1)))
            start = i + 1
    sentence_targets = [t for t in sentence_targets if t][:8]

    def batch():
        pipeline.clear_cache()
        return pipeline.salience_batch(model, seq, sentence_targets)

    first_b, warm_b, _ = timed(batch, max(2, args.runs // 2))
    results.append(
        (
            f"batched: {len(sentence_targets)} segments in one call",
            f"{warm_b / len(sentence_targets):.2f} s/segment",
            f"{first_b:.2f} s total",
            f"{warm_b:.2f} s total warm",
        )
    )
    results.append(
        (
            "floor for the one-segment case",
            f"{floor:.2f} s",
            "",
            f"{flops / 1e9:.1f} GFLOP at {rate / 1e9:.0f} GFLOP/s (float32 1024^3 matmul); "
            f"{floor_bf16:.2f} s at {rate_bf16 / 1e9:.0f} GFLOP/s (bfloat16)",
        )
    )
    results.append(
        (
            "peak RSS during one-segment salience",
            f"{salience_peak:.2f} GB",
            "",
            "model loaded, first call included",
        )
    )
    results.append(
        (
            "peak RSS while loading",
            f"{load_peak:.2f} GB",
            "",
            "keras builds the model, then reads the cached weights",
        )
    )
    results.append(
        ("peak RSS of the whole run", f"{rss_gb():.2f} GB", "", "naive variant and batch included")
    )

    model_name = cpu_name()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    print(
        f"Model: {model.name} ({args.model}); JAX {jax.__version__} on "
        f"{jax.devices()[0].platform}; {os.cpu_count()} CPUs ({model_name}); commit {commit}; "
        f"load average {os.getloadavg()[0]:.1f}; medians of {args.runs} runs"
    )
    print()
    print(f"Salience precision: {fns.precision} (STUDIO_SALIENCE_PRECISION)")
    print()
    print("| measurement | warm (median) | first call | note |")
    print("| --- | --- | --- | --- |")
    for row in results:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
