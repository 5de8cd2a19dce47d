"""Command line: `python -m lib generate | salience | batch | matrix | counterfactual |
deletion-curve` (a contract scripts rely on; contrastive salience, Integrated Gradients' options
and `matrix`: lib/cli_analysis.py; the counterfactual checks: lib/cli_counterfactual.py).

Exit status: 0 success; 2 bad input or a model that can't be loaded (one clear line on stderr);
1 only for bugs. Bad input never prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lib.errors import InputError, StudioError
from lib.records import Generation, GenerationSettings, TokenSequence


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, status 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def print_progress(fraction: float, message: str) -> None:
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> GenerationSettings:
    chat = {"on": True, "off": False, None: None}[args.chat_template]
    return GenerationSettings(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
        stop=tuple(unescape(s, "--stop") for s in (args.stop or [])),
        chat_template=chat,
    )


def unescape(text: str, option: str = "--stop") -> str:
    """Shell users type "\\n\\n" for a blank line: apply Python's backslash escapes."""
    if "\\" not in text:
        return text
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError as err:
        raise InputError(f"{option} {text!r}: bad backslash escape ({err.reason}); write \\\\ "
                         "for a literal backslash.", field=option.lstrip("-")) from None


def read_prompt(args: argparse.Namespace) -> str:
    if args.prompt_file is not None:
        path = Path(args.prompt_file)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise InputError(f"--prompt-file {str(path)!r}: cannot be read ({err.strerror}).",
                             field="prompt_file") from None
        try:
            return data.decode("utf-8")  # exactly as it is: a trailing newline counts
        except UnicodeDecodeError as err:
            raise InputError(f"--prompt-file {str(path)!r}: not UTF-8 text (byte {err.start}); save it "
                             "as UTF-8.", field="prompt_file") from None
    return args.prompt


def _token_json(seq: TokenSequence, gen: Generation | None = None) -> list[dict[str, Any]]:
    out = []
    for t in seq.tokens:
        row: dict[str, Any] = {"id": t.id, "text": t.text, "start": t.start, "end": t.end,
                               "special": t.special, "in_prompt": t.in_prompt}
        if gen is not None and not t.in_prompt:
            step = t.index - seq.prompt_length
            if step < len(gen.probs):
                row["prob"] = gen.probs[step]
                row["top_alternatives"] = [
                    {"id": a.token_id, "text": a.text, "prob": a.prob}
                    for a in gen.alternatives[step]]
        out.append(row)
    return out


def generation_json(gen: Generation) -> dict[str, Any]:
    seq = gen.sequence
    return {
        "model": gen.model,
        "prompt": gen.prompt,
        "input_text": seq.input_text,
        "text": seq.target,
        "stop_reason": gen.stop_reason,
        "settings": {"max_new_tokens": gen.settings.max_new_tokens,
                     "temperature": gen.settings.temperature, "top_k": gen.settings.top_k,
                     "seed": gen.settings.seed, "stop": list(gen.settings.stop),
                     "chat_template": gen.settings.chat_template},
        "tokens": _token_json(seq, gen),
        "steps": [{"token_index": seq.prompt_length + i, "prob": p,
                   "top_alternatives": [{"id": a.token_id, "text": a.text, "prob": a.prob}
                                        for a in alts]}
                  for i, (p, alts) in enumerate(zip(gen.probs, gen.alternatives, strict=True))],
    }


def target_indices_for_span(seq: TokenSequence, start: int, end: int) -> list[int]:
    """Target tokens overlapping characters [start, end) of the target (snapped outward)."""
    if not 0 <= start < end <= len(seq.target):
        raise InputError(f"--segment {start}:{end} is outside the target (0:{len(seq.target)}); "
                         "give START:END character offsets into the target.", field="segment")
    base = len(seq.input_text)
    idx = [t.index for t in seq.tokens[seq.prompt_length:]
           if t.end > t.start and t.start - base < end and t.end - base > start]
    if not idx:
        raise InputError(f"--segment {start}:{end} covers no token of the target.", field="segment")
    return idx


def segment_span(args: argparse.Namespace, seq: TokenSequence) -> tuple[int, int]:
    if args.segment_text is not None:
        text = unescape(args.segment_text, "--segment-text")
        at = seq.target.find(text)
        if not text or at < 0:
            raise InputError(f"--segment-text {args.segment_text!r} does not occur in the target "
                             f"{seq.target[:80]!r}.", field="segment_text")
        return at, at + len(text)
    if args.segment is not None:
        try:
            start_s, end_s = args.segment.split(":")
            return int(start_s), int(end_s)
        except ValueError:
            raise InputError(f"--segment {args.segment!r} must be START:END, two whole numbers.",
                             field="segment") from None
    return 0, len(seq.target)


def salience_json(model, seq: TokenSequence, target_idx: Sequence[int], method: str,
                  granularity: str, pattern: str | None, gen: Generation | None,
                  scores: Sequence[float] | None = None) -> dict:
    """`salience`'s JSON; `scores` (one per token) when computed already (lib.cli_analysis)."""
    from lib import pipeline
    from lib.records import Salience
    from lib.segments import segment_scores, segment_sequence

    sal = pipeline.salience(model, seq, target_idx, method) if scores is None else Salience(
        method, tuple(sorted(set(target_idx))), tuple(scores))
    segments = segment_sequence(seq, granularity, pattern, include_special=True)
    scores = segment_scores(segments, sal.scores)
    return {
        "model": model.spec,
        "prompt": gen.prompt if gen else None,
        "input_text": seq.input_text,
        "target": seq.target,
        "method": method,
        "precision": model.functions.precision,
        "granularity": granularity,
        "tokens": _token_json(seq, gen),
        "target_token_indices": list(sal.target_token_indices),
        "scores": list(sal.scores),
        "segments": [{"start": s.start, "end": s.end, "text": s.text, "in_prompt": s.in_prompt,
                      "token_indices": list(s.token_indices), "score": score}
                     for s, score in zip(segments, scores, strict=True)],
    }


def _cmd_generate(args: argparse.Namespace) -> dict:
    from lib import pipeline

    prompt = read_prompt(args)
    settings = _settings(args)
    model = pipeline.get_model(args.model, progress=None if args.quiet else print_progress)
    return generation_json(pipeline.generate(model, prompt, settings))


def _cmd_salience(args: argparse.Namespace) -> dict:
    from lib import cli_analysis, cli_parts, pipeline
    from lib.salience.methods import get_method
    from lib.segments import GRANULARITY_REGISTRY, compile_pattern

    templated = cli_parts.template_prompt(args)  # --template-file/--var: (prompt, parts)
    prompt = templated[0] if templated else read_prompt(args)
    get_method(args.method)
    cli_analysis.check_salience_args(args)
    if GRANULARITY_REGISTRY[args.granularity].needs_pattern:
        compile_pattern(args.pattern)
    settings = _settings(args)
    if args.target is None and not args.generate:
        raise InputError("Give --target TEXT or --generate.", field="target")
    model = pipeline.get_model(args.model, progress=None if args.quiet else print_progress)
    gen = None
    if args.generate:
        gen = pipeline.generate(model, prompt, settings)
        seq = gen.sequence
        if not seq.target:
            raise InputError("The model generated no text (it stopped at once); nothing to "
                             "explain. Try another prompt or stop text.", field="target")
    else:
        seq = pipeline.sequence_for_target(model, prompt, args.target, settings.chat_template)
    start, end = segment_span(args, seq)
    result = cli_analysis.salience_result(model, seq, target_indices_for_span(seq, start, end),
                                          args, gen, salience_json)
    result["prompt"] = prompt
    if args.by_part:
        result["parts"] = cli_parts.parts_json(seq, prompt, templated[1] if templated else None,
                                               result["scores"], get_method(args.method).signed)
    if gen is not None:
        result["generation"] = {"stop_reason": gen.stop_reason,
                                "settings": generation_json(gen)["settings"]}
    return result


def _cmd_matrix(args: argparse.Namespace) -> dict:
    from lib import cli_analysis

    return cli_analysis.cmd_matrix(args, read_prompt, _settings, print_progress)


def _cmd_batch(args: argparse.Namespace) -> dict:
    from lib import pipeline
    from lib.prompt_file import parse_prompt_file
    from lib.segments import (
        GRANULARITY_REGISTRY,
        compile_pattern,
        segment_scores,
        segment_sequence,
    )

    try:
        data = Path(args.input).read_bytes()
    except OSError as err:
        raise InputError(f"--input {args.input!r}: cannot be read ({err.strerror}).",
                         field="input") from None
    rows = parse_prompt_file(data)  # validates the whole file before any compute
    if GRANULARITY_REGISTRY[args.granularity].needs_pattern:
        compile_pattern(args.pattern)
    out_path = Path(args.output)
    if not out_path.parent.exists():
        raise InputError(f"--output {str(out_path)!r}: folder {str(out_path.parent)!r} does not "
                         "exist.",
                         field="output")
    settings = _settings(args)
    model = pipeline.get_model(args.model, progress=None if args.quiet else print_progress)
    results = []
    for n, row in enumerate(rows, 1):
        if not args.quiet:
            print_progress((n - 1) / len(rows), f"Row {n} of {len(rows)} (line {row.line})")
        gen = None
        if row.target:
            seq = pipeline.sequence_for_target(model, row.prompt, row.target,
                                               settings.chat_template)
        else:
            gen = pipeline.generate(model, row.prompt, settings)
            seq = gen.sequence
        segments = segment_sequence(seq, args.granularity, args.pattern)
        targets = [s for s in segments if not s.in_prompt]
        sals = pipeline.salience_batch(model, seq, [s.token_indices for s in targets],
                                       args.method) if targets else []
        results.append({
            "line": row.line, "source": row.source, "prompt": row.prompt, "target": seq.target,
            "generated": gen is not None,
            "generation": generation_json(gen) if gen else None,
            "input_text": seq.input_text, "tokens": _token_json(seq, gen),
            "method": args.method, "precision": model.functions.precision,
            "granularity": args.granularity,
            "targets": [{"start": s.start, "end": s.end, "text": s.text,
                         "token_indices": list(s.token_indices),
                         "scores": list(sal.scores),
                         "segment_scores": segment_scores(segments, sal.scores)}
                        for s, sal in zip(targets, sals, strict=True)],
            "segments": [{"start": s.start, "end": s.end, "text": s.text,
                          "in_prompt": s.in_prompt, "token_indices": list(s.token_indices)}
                         for s in segments],
        })
    # Atomic: readers never see a half-written file.
    fd, tmp = tempfile.mkstemp(prefix=".batch-", dir=out_path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, out_path)
    if not args.quiet:
        print_progress(1.0, f"Wrote {len(results)} rows to {out_path}")
    return {"rows": len(results), "output": str(out_path)}


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None,
                   help="model spec (default: $STUDIO_MODEL or 'embedded')")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _add_prompt(p: argparse.ArgumentParser) -> Any:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--prompt", help="prompt text")
    g.add_argument("--prompt-file", help="file holding the prompt (read exactly, as UTF-8)")
    return g


def _add_generation(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--stop", action="append",
                   help=r"stop text (repeatable; '\n\n' stops at a blank line)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chat-template", choices=("on", "off"), default=None,
                   help="wrap the prompt in Gemma's chat turns (default: the model's)")


def _add_salience(p: argparse.ArgumentParser) -> None:
    from lib.salience.methods import METHODS
    from lib.segments import GRANULARITIES

    p.add_argument("--granularity", choices=GRANULARITIES, default="tokens")
    p.add_argument("--pattern", help="regex for --granularity regex")
    p.add_argument("--method", choices=tuple(METHODS), default="grad_l2")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lib", description="Salience Studio command line.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    g = sub.add_parser("generate", help="continue a prompt")
    _add_model(g)
    _add_prompt(g)
    _add_generation(g)
    g.add_argument("--json", action="store_true", help="print JSON (the default output)")

    s = sub.add_parser("salience", help="salience of a target span over prompt and target")
    _add_model(s)
    from lib.cli_parts import add_part_options

    add_part_options(s, _add_prompt(s))  # --template-file, --var, --by-part
    t = s.add_mutually_exclusive_group()
    t.add_argument("--target", help="target text (tokenised separately, after the prompt)")
    t.add_argument("--generate", action="store_true", help="explain the model's own output")
    span = s.add_mutually_exclusive_group()
    span.add_argument("--segment-text", help="explain the first occurrence of this text")
    span.add_argument("--segment", help="explain characters START:END of the target")
    _add_salience(s)
    _add_generation(s)
    s.add_argument("--json", action="store_true", help="print JSON (the default output)")
    from lib import cli_analysis

    cli_analysis.add_salience_options(s)
    cli_analysis.add_matrix_parser(sub, _add_model, _add_prompt, _add_salience, _add_generation)

    b = sub.add_parser("batch", help="generation + salience for every row of a .jsonl")
    _add_model(b)
    b.add_argument("--input", required=True, help=".jsonl rows {prompt, target?, source?}")
    b.add_argument("--output", required=True, help="output .jsonl (written atomically)")
    _add_salience(b)
    _add_generation(b)
    from lib import cli_counterfactual

    cli_counterfactual.add_parsers(sub, _add_model, _add_prompt)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from lib.cli_counterfactual import COMMANDS

    try:
        result = {"generate": _cmd_generate, "salience": _cmd_salience, "batch": _cmd_batch,
                  "matrix": _cmd_matrix, **COMMANDS}[args.command](args)
    except StudioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
