"""Whole-document benchmark: one segment's salience at T = 256 ... 8,192 tokens, per precision.

Each (length, precision) runs in a fresh process, so its peak RSS (load and compile included)
is its own. The prompt is the GNU GPL v3 text (tests/fixtures/documents), cut to T - 4 tokens,
and the target " Yes." (the done-when shape). Prints a Markdown table:

- first call (compiles, unless the on-disk compile cache has the shapes) and the median of the
  warm calls;
- the FLOP floor: the FLOPs strictly needed (forward over T tokens, backward to the input
  embeddings; attention pairs counted exactly under the causal and window masks; no recompute),
  divided by the matmul rate of float32 and of bfloat16 (float32 sums) measured in that process;
- mixed vs float32: max |difference| of the Grad-L2 scores as % of the largest score;
- prefill of a T-token prompt (generation's first step, chunked).

    .venv/bin/python bench/long_document.py [--lengths 256,1024,2048,4096,8192] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOCUMENT = ROOT / "tests" / "fixtures" / "documents" / "gpl-3.0.txt"

from bench.floor import cpu_name, matmul_rate, salience_flops  # noqa: E402


def child(n: int, precision: str, runs: int, scores_out: str, prefill: bool) -> None:
    os.environ["STUDIO_SALIENCE_PRECISION"] = precision
    from lib import pipeline
    from lib.records import GenerationSettings

    t = time.perf_counter()
    model = pipeline.get_model("embedded")
    load = time.perf_counter() - t
    tok = model.tokenizer
    prompt = tok.decode(tok.encode(DOCUMENT.read_text())[: n - 4])
    seq = pipeline.sequence_for_target(model, prompt, " Yes.")
    target = list(range(seq.prompt_length, len(seq.tokens)))
    fns = model.functions
    times = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        l2, dot, _ = fns.salience(seq.ids, [target], pad_id=tok.pad_id)
        times.append(time.perf_counter() - t)
    import numpy as np

    np.save(scores_out, np.stack([l2[0], dot[0]]))
    out = {
        "tokens": len(seq.tokens), "load_s": load, "first_s": times[0],
        "warm_s": statistics.median(times[1:]), "flops": salience_flops(model.backbone,
                                                                     len(seq.tokens), 1),
        "rate_f32": matmul_rate("float32"), "rate_bf16": matmul_rate("bfloat16"),
    }
    if prefill:
        settings = GenerationSettings(max_new_tokens=1)
        first = time.perf_counter()
        pipeline.generate(model, prompt, settings)
        out["prefill_first_s"] = time.perf_counter() - first
        t = time.perf_counter()
        pipeline.generate(model, prompt, settings)
        out["prefill_s"] = time.perf_counter() - t
    # VmHWM: this process's own high-water mark (ru_maxrss carries the parent's over exec).
    status = Path("/proc/self/status").read_text()
    out["peak_rss_gb"] = int(status.split("VmHWM:")[1].split()[0]) / 1e6
    print("RESULT " + json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="256,1024,2048,4096,8192")
    parser.add_argument("--precisions", default="mixed,float32")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=4, metavar=("N", "PRECISION", "SCORES", "PREFILL"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        n, precision, scores, prefill = args.child
        child(int(n), precision, args.runs, scores, prefill == "1")
        return
    lengths = [int(x) for x in args.lengths.split(",")]
    precisions = args.precisions.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="long-doc-bench-"))
    results: dict[tuple[int, str], dict] = {}
    for n in lengths:
        for precision in precisions:
            scores = tmp / f"{n}-{precision}.npy"
            prefill = "1" if precision == precisions[0] else "0"
            proc = subprocess.run(
                [sys.executable, __file__, "--runs", str(args.runs), "--child", str(n), precision,
                 str(scores), prefill], capture_output=True, text=True, cwd=ROOT)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode or not line:
                print(proc.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"benchmark child failed at T={n} ({precision})")
            results[n, precision] = json.loads(line[0][7:])
            results[n, precision]["scores"] = scores
            print(f"done T={n} {precision}: {results[n, precision]['warm_s']:.2f} s",
                  file=sys.stderr, flush=True)
    import numpy as np

    cpu = cpu_name()
    print(f"\nMachine: {cpu}, {os.cpu_count()} cores; model: embedded Gemma 3 270M; "
          f"prompt: GPL-3.0 text cut to T tokens, target ' Yes.'; median of {args.runs} warm "
          "runs after one first call; each row a fresh process.\n")
    print("| T | precision | first call | warm / segment | per 1k tokens | floor (f32 rate) | "
          "ratio | floor (bf16 rate) | ratio | peak RSS | mixed vs f32 | prefill |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in lengths:
        for precision in precisions:
            r = results[n, precision]
            f32 = r["flops"] / r["rate_f32"]
            bf16 = r["flops"] / r["rate_bf16"]
            deviation = ""
            if precision == "mixed" and (n, "float32") in results:
                a = np.load(results[n, "float32"]["scores"])[0]
                b = np.load(r["scores"])[0]
                deviation = f"{np.abs(a - b).max() / np.abs(a).max():.1%}"
            prefill = f"{r['prefill_s']:.1f} s" if "prefill_s" in r else ""
            print(f"| {r['tokens']:,} | {precision} | {r['first_s']:.1f} s | {r['warm_s']:.2f} s | "
                  f"{r['warm_s'] / r['tokens'] * 1000:.2f} s | {f32:.2f} s | "
                  f"{r['warm_s'] / f32:.2f}x | {bf16:.2f} s | {r['warm_s'] / bf16:.2f}x | "
                  f"{r['peak_rss_gb']:.2f} GB | {deviation} | {prefill} |")
    rates = results[lengths[0], precisions[0]]
    print(f"\nMatmul rates (1024^3, this process): float32 {rates['rate_f32'] / 1e9:.0f} GFLOP/s, "
          f"bfloat16 {rates['rate_bf16'] / 1e9:.0f} GFLOP/s.")


if __name__ == "__main__":
    main()
