"""Reading-view benchmark: scores ready -> HTML (Python) -> painted (Chromium), at ~8k tokens.

    .venv/bin/python bench/reading_view.py [--tokenizer embedded|tiny] [--tokens 8000] [--browser]

The document is real text (the Apache License 2.0 and the MPL 2.0, repeated until the prompt has
at least --tokens tokens) in the "contract-question" template, tokenised by the embedded Gemma 3
vocabulary (read from the GGUF file's metadata; the model itself is not run) or by the tiny
test vocabulary. Scores are synthetic (seeded, heavy-tailed like real salience): only their
count matters for timing. Prints medians of several runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.records import TokenSequence  # noqa: E402
from lib.render import colour_scale, render_segments_html  # noqa: E402
from lib.render_reading import render_reading_view_html  # noqa: E402
from lib.segments import segment_scores, segment_sequence  # noqa: E402
from lib.templates import get_template, sample_document  # noqa: E402
from lib.tokenizer import TextTokenizer  # noqa: E402

MPL = ROOT / "tests" / "fixtures" / "documents" / "mpl-2.0.txt"


def tokenizer(kind: str) -> TextTokenizer:
    if kind == "tiny":
        from lib.models.tiny_vocab import tiny_vocab_proto

        return TextTokenizer(tiny_vocab_proto())
    from gguf import GGUFReader

    from lib.models.gguf_gemma3 import embedded_gguf_path, vocabulary_proto

    return TextTokenizer(vocabulary_proto(GGUFReader(str(embedded_gguf_path()))))


def build(tok: TextTokenizer, n_tokens: int) -> TokenSequence:
    docs = [sample_document(), MPL.read_text("utf-8")]
    template = get_template("contract-question")
    parts: list[str] = []
    while True:
        parts.append(docs[len(parts) % 2])
        prompt = template.render({"document": "\n\n".join(parts)})
        ids = [tok.bos_id, *tok.encode(prompt)]
        if len(ids) >= n_tokens:
            break
    target = " It ends on the date such litigation is filed (section 3)."
    all_ids = ids + tok.encode(target)
    tokens, text = tok.tokens(all_ids, special_texts=False, prompt_length=len(ids))
    assert text == prompt + target
    return TokenSequence(prompt, target, tuple(tokens), len(ids))


def median_ms(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def record_size(seq: TokenSequence, token_scores: list[float]) -> None:
    """Bytes of the saved-run record (share links) with 1, 10 and 30 targets scored."""
    import json

    from lib.records import GenerationSettings
    from lib.runs import DEFAULT_MAX_RUN_BYTES
    from lib.view import View, view_to_record

    view = View(seq=seq, prompt=seq.input_text, model_spec="embedded", model_name="bench",
                fingerprint="0" * 16, settings=GenerationSettings(),
                template_id="contract-question", variables={"document": seq.input_text})
    rng = random.Random(1)
    sizes = []
    for n in range(1, 31):
        view.add_scores("grad_l2", [seq.prompt_length + n], [s * rng.random() for s in token_scores])
        if n in (1, 10, 30):
            record = view_to_record(view, {"granularity": "paragraphs"})
            sizes.append(f"{n} target(s) {len(json.dumps(record).encode()) / 1e6:.2f} MB")
    print(f"| saved-run record | {' | '.join(sizes)} | limit {DEFAULT_MAX_RUN_BYTES / 1e6:.1f} MB |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", choices=["embedded", "tiny"], default="embedded")
    ap.add_argument("--tokens", type=int, default=8000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--browser", action="store_true", help="also time painting in Chromium")
    args = ap.parse_args()

    tok = tokenizer(args.tokenizer)
    seq = build(tok, args.tokens)
    rng = random.Random(0)
    token_scores = [rng.expovariate(1.0) ** 3 if t.in_prompt else 0.0 for t in seq.tokens]
    print(f"{args.tokenizer} tokenizer: {seq.prompt_length:,} prompt tokens, "
          f"{len(seq.input_text):,} characters")
    pages: dict[str, str] = {}
    for g in ("paragraphs", "words"):
        def reading(g: str = g) -> str:
            segs = segment_sequence(seq, g)
            scores = segment_scores(segs, token_scores)
            return render_reading_view_html(
                seq, segs, scores, colour_scale(scores, False), token_scores, palette="blues",
                fold_share=0.1,
            )

        def plain(g: str = g) -> str:
            segs = segment_sequence(seq, g)
            scores = segment_scores(segs, token_scores)
            return render_segments_html(seq, segs, scores, colour_scale(scores, False),
                                        palette="blues")

        ms_r, html = median_ms(reading, args.runs)
        ms_p, _ = median_ms(plain, args.runs)
        pages[g] = str(html)
        print(f"| {g:<10} | segments + reading view (jump list, strip, folds) {ms_r:7.1f} ms "
              f"| plain overlay {ms_p:7.1f} ms | HTML {len(str(html)) / 1e6:.2f} MB |")
    record_size(seq, token_scores)
    if args.browser:
        from playwright.sync_api import sync_playwright

        sys.path.insert(0, str(ROOT))
        from tests.browser.harness import launch_browser

        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for g, html in pages.items():
                doc = f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{html}"
                times = []
                for _ in range(args.runs):
                    page.set_content("<html><body></body></html>")
                    t = time.perf_counter()
                    page.set_content(doc, wait_until="load")
                    # Two animation frames: layout and paint of the new content are done.
                    page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                                  "requestAnimationFrame(r)))")
                    times.append((time.perf_counter() - t) * 1000)
                print(f"| {g:<10} | Chromium load + layout + paint {statistics.median(times):7.1f} "
                      "ms (median) |")
            browser.close()


if __name__ == "__main__":
    main()
