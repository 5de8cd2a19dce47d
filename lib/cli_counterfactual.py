"""Command line of the counterfactual checks (lib/counterfactual.py): `counterfactual` and
`deletion-curve`. `lib.cli` hooks these in.

`counterfactual` prints {"target_logprob_before", "target_logprob_after", "delta",
"greedy_before", "greedy_after", "answer_changed", "edited_prompt", "controls": [{"start",
"end", "delta"}, ...]}: log-probabilities are sums over the scored target tokens (--segment,
default the whole target; the rest of the target is teacher-forced context), delta = after -
before; offsets are characters of the prompt as typed. `deletion-curve` prints {"k",
"salience_order", "random_order", "area"}.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from lib import counterfactual as cf
from lib.cli import print_progress, read_prompt, segment_span, target_indices_for_span, unescape
from lib.errors import InputError
from lib.generation import MAX_NEW_TOKENS
from lib.records import GenerationSettings

Adder = Callable[[argparse.ArgumentParser], Any]


def _add_target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", required=True,
                   help="target text (tokenised separately, teacher-forced after the prompt)")
    span = p.add_mutually_exclusive_group()
    span.add_argument("--segment", help="score characters START:END of the target (default: "
                      "all of it; the rest of the target is context)")
    span.add_argument("--segment-text", help="score the first occurrence of this text")
    p.add_argument("--chat-template", choices=("on", "off"), default=None,
                   help="wrap the prompt in Gemma's chat turns (default: the model's)")
    p.add_argument("--json", action="store_true", help="print JSON (the default output)")


def add_parsers(sub: Any, add_model: Adder, add_prompt: Adder) -> None:
    """The `counterfactual` and `deletion-curve` subcommands."""
    from lib.salience.methods import METHODS
    from lib.segments import GRANULARITIES

    c = sub.add_parser("counterfactual", help="edit the prompt: how does the target's "
                       "log-probability change, against random edits of the same size?")
    add_model(c)
    add_prompt(c)
    _add_target(c)
    c.add_argument("--drop", action="append", metavar="START:END",
                   help="drop characters START:END of the prompt (repeatable; START == END: "
                   "an empty edit)")
    c.add_argument("--replace", metavar="START:END",
                   help="replace characters START:END of the prompt by --with TEXT")
    c.add_argument("--with", dest="with_text", metavar="TEXT",
                   help="the replacement for --replace (verbatim, like --prompt)")
    c.add_argument("--controls", type=int, default=cf.DEFAULT_CONTROLS,
                   help="random spans of the same token length given the same edit "
                   f"(0 to {cf.MAX_CONTROLS}, default {cf.DEFAULT_CONTROLS})")
    c.add_argument("--seed", type=int, default=0, help="the controls' random draw (default 0)")
    c.add_argument("--max-new-tokens", type=int, default=None,
                   help="length of the greedy answers (default: the target's tokens + 8)")
    c.add_argument("--stop", action="append",
                   help=r"stop text of the greedy answers (repeatable; '\n\n' a blank line)")

    d = sub.add_parser("deletion-curve", help="drop the k most salient prompt segments "
                       "(k = 0..K) against a random order; area = mean over k of random - "
                       "salience",
                       description="JSON: k (0..K), salience_order and random_order (the "
                       "scored segment's summed log-probability, the target teacher-forced, "
                       "with the first k segments of each order dropped at once), area = mean "
                       "over k = 0..K of random_order[k] - salience_order[k] (> 0: the salient "
                       "segments matter more than random ones).")
    add_model(d)
    add_prompt(d)
    _add_target(d)
    d.add_argument("--granularity", choices=GRANULARITIES, required=True)
    d.add_argument("--pattern", help="regex for --granularity regex")
    d.add_argument("--method", choices=tuple(METHODS), required=True,
                   help="top = largest score, or for signed methods the most negative (LIT's "
                   "sign: made the target more likely)")
    d.add_argument("--k", type=int, default=cf.DEFAULT_K,
                   help="drop up to K segments: K = min(--k, the prompt's segments), "
                   f"default {cf.DEFAULT_K}")
    d.add_argument("--seed", type=int, default=0, help="the random order's seed (default 0)")


def parse_span(text: str, option: str) -> tuple[int, int]:
    try:
        start_s, end_s = text.split(":")
        return int(start_s), int(end_s)
    except ValueError:
        raise InputError(f"{option} {text!r} must be START:END, two whole numbers (character "
                         "offsets into the prompt).", field=option.lstrip("-")) from None


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise InputError(f"--seed {seed}: must be 0 or more.", field="seed")


def _chat(args: argparse.Namespace) -> bool | None:
    return {"on": True, "off": False, None: None}[args.chat_template]


def _load(args: argparse.Namespace, prompt: str) -> tuple[Any, Any, list[int]]:
    """The model, the sequence of prompt and target, and the scored target tokens."""
    from lib import pipeline

    model = pipeline.get_model(args.model, progress=None if args.quiet else print_progress)
    seq = pipeline.sequence_for_target(model, prompt, args.target, _chat(args))
    start, end = segment_span(args, seq)
    return model, seq, target_indices_for_span(seq, start, end)


def cmd_counterfactual(args: argparse.Namespace) -> dict:
    prompt = read_prompt(args)
    if args.drop and args.replace is not None:
        raise InputError("--drop and --replace cannot be combined; give one kind of edit.",
                         field="replace")
    if args.replace is not None and args.with_text is None:
        raise InputError("--replace needs --with TEXT (the replacement).", field="with")
    if args.with_text is not None and args.replace is None:
        raise InputError("--with needs --replace START:END (the span it replaces).",
                         field="with")
    if not args.drop and args.replace is None:
        raise InputError("Give --drop START:END (repeatable) or --replace START:END --with "
                         "TEXT.", field="drop")
    option = "--drop" if args.drop else "--replace"
    raw = args.drop or [args.replace]
    spans = cf.check_spans(prompt, [parse_span(s, option) for s in raw], option)
    if not 0 <= args.controls <= cf.MAX_CONTROLS:
        raise InputError(f"--controls {args.controls}: must be from 0 to {cf.MAX_CONTROLS}.",
                         field="controls")
    _check_seed(args.seed)
    if args.max_new_tokens is not None and not 1 <= args.max_new_tokens <= MAX_NEW_TOKENS:
        raise InputError(f"--max-new-tokens {args.max_new_tokens}: must be from 1 to "
                         f"{MAX_NEW_TOKENS}.", field="max_new_tokens")
    stop = tuple(unescape(s, "--stop") for s in (args.stop or []))
    model, seq, idx = _load(args, prompt)
    settings = GenerationSettings(
        max_new_tokens=args.max_new_tokens or cf.default_max_new_tokens(seq), stop=stop,
        chat_template=_chat(args))
    r = cf.counterfactual(model, prompt, seq, idx, spans, args.with_text,
                          controls=args.controls, seed=args.seed, settings=settings,
                          name=option)
    return {"target_logprob_before": r.target_logprob_before,
            "target_logprob_after": r.target_logprob_after, "delta": r.delta,
            "greedy_before": r.greedy_before, "greedy_after": r.greedy_after,
            "answer_changed": r.answer_changed, "edited_prompt": r.edited_prompt,
            "controls": [{"start": c.start, "end": c.end, "delta": c.delta}
                         for c in r.controls]}


def cmd_deletion_curve(args: argparse.Namespace) -> dict:
    from lib.segments import GRANULARITY_REGISTRY, compile_pattern

    prompt = read_prompt(args)
    if args.k < 1:
        raise InputError(f"--k {args.k}: must be at least 1 (the most segments to drop).",
                         field="k")
    _check_seed(args.seed)
    if GRANULARITY_REGISTRY[args.granularity].needs_pattern:
        compile_pattern(args.pattern)
    model, seq, idx = _load(args, prompt)
    c = cf.deletion_curve(model, prompt, seq, idx, args.granularity, args.method, k=args.k,
                          seed=args.seed, pattern=args.pattern, chat_template=_chat(args))
    return {"k": list(c.k), "salience_order": list(c.salience_order),
            "random_order": list(c.random_order), "area": c.area}


COMMANDS = {"counterfactual": cmd_counterfactual, "deletion-curve": cmd_deletion_curve}
