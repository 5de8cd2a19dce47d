"""Command-line analyses beyond one salience: `salience --foil` (contrastive), `salience
--method integrated_gradients --steps N` and `matrix` (output x prompt). `lib.cli` hooks these
in; the JSON contract is README's.

`salience --foil TEXT`: the selected segment (--segment / --segment-text, snapped to whole
tokens, made contiguous) against the foil TEXT (tokenised as typed), after the same context.
`scores` stay one per token: the contrast's scores over the context, 0 at the segment's
positions and after; `foil` and `contrast` are added. Contrastive salience takes the
one-gradient methods (grad_dot_input signed, grad_l2 unsigned), not Integrated Gradients.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from lib.errors import InputError

IG = "integrated_gradients"


def add_salience_options(p: argparse.ArgumentParser) -> None:
    """`--foil` and `--steps` on `salience`."""
    p.add_argument("--foil", help="contrast the segment with this text (contrastive salience)")
    p.add_argument("--steps", type=int, default=None,
                   help="Integrated Gradients' path steps (default 128, at most 512)")


def check_salience_args(args: argparse.Namespace) -> None:
    """Refuse option combinations that make no sense, before the model loads."""
    from lib import pipeline

    foil, steps = getattr(args, "foil", None), getattr(args, "steps", None)
    if foil is not None and args.method == IG:
        raise InputError("--foil takes --method grad_dot_input or grad_l2 (contrastive "
                         "salience is not computed with Integrated Gradients).", field="foil")
    if steps is not None:
        if args.method != IG:
            raise InputError("--steps applies to --method integrated_gradients only.",
                             field="steps")
        try:
            pipeline.check_steps(steps)
        except InputError as err:
            raise InputError(f"--steps {steps}: {err}", field="steps") from None


def salience_result(model: Any, seq: Any, target_idx: list[int], args: argparse.Namespace,
                    gen: Any, salience_json: Callable[..., dict]) -> dict:
    """`salience`'s JSON, contrastive or with Integrated Gradients' extra fields when asked."""
    from lib import pipeline

    foil, steps = getattr(args, "foil", None), getattr(args, "steps", None)
    common = (args.method, args.granularity, args.pattern, gen)
    if foil is not None:
        foil_ids = pipeline.foil_ids(model, foil)
        idx = list(range(min(target_idx), max(target_idx) + 1))
        c = pipeline.contrastive_salience(model, seq, idx, foil_ids, args.method)
        result = salience_json(model, seq, idx, *common,
                               scores=c.token_scores(len(seq.tokens)))
        result["foil"] = {"text": c.foil_text, "ids": list(c.foil_ids)}
        result["contrast"] = {"target_logprob": c.target_logprob,
                              "foil_logprob": c.foil_logprob,
                              "difference": c.logprob_difference}
        return result
    if args.method == IG:
        r = pipeline.integrated_gradients(model, seq, target_idx, steps)
        result = salience_json(model, seq, target_idx, *common,
                               scores=tuple(float(s) for s in r.scores))
        result.update(steps=r.steps, completeness_gap=r.completeness_gap,
                      target_loss=r.loss, baseline_loss=r.baseline_loss)
        return result
    return salience_json(model, seq, target_idx, *common)


def add_matrix_parser(sub: Any, *adders: Callable[[argparse.ArgumentParser], None]) -> None:
    """The `matrix` subcommand; `adders` are the CLI's shared option groups."""
    m = sub.add_parser("matrix", help="every output segment's salience over the prompt's")
    for add in adders:
        add(m)
    t = m.add_mutually_exclusive_group()
    t.add_argument("--target", help="target text (tokenised separately, after the prompt)")
    t.add_argument("--generate", action="store_true", help="explain the model's own output")
    m.add_argument("--json", action="store_true", help="print JSON (the default output)")


def _segment_json(s: Any) -> dict:
    return {"index": s.index, "text": s.text, "start": s.start, "end": s.end}


def cmd_matrix(args: argparse.Namespace, read_prompt: Callable, settings_of: Callable,
               progress: Callable[[float, str], None]) -> dict:
    """Rows: output segments, columns: prompt segments (special tokens left out), scores[i][j]
    column j's score for row i. Offsets are characters of `input_text + target`; `index` is
    the segment's number in the sequence's segments at that granularity."""
    from lib import pipeline
    from lib.salience.methods import get_method
    from lib.segments import GRANULARITY_REGISTRY, compile_pattern

    prompt = read_prompt(args)
    get_method(args.method)
    if GRANULARITY_REGISTRY[args.granularity].needs_pattern:
        compile_pattern(args.pattern)
    settings = settings_of(args)
    if args.target is None and not args.generate:
        raise InputError("Give --target TEXT or --generate.", field="target")
    model = pipeline.get_model(args.model, progress=None if args.quiet else progress)
    if args.generate:
        seq = pipeline.generate(model, prompt, settings).sequence
        if not seq.target:
            raise InputError("The model generated no text (it stopped at once); nothing to "
                             "explain. Try another prompt or stop text.", field="target")
    else:
        seq = pipeline.sequence_for_target(model, prompt, args.target, settings.chat_template)
    m = pipeline.salience_matrix(model, seq, args.granularity, args.method, args.pattern,
                                 progress=None if args.quiet else progress)
    return {"model": model.spec, "prompt": prompt, "input_text": seq.input_text,
            "target": seq.target, "method": args.method, "granularity": args.granularity,
            "precision": model.functions.precision,
            "rows": [_segment_json(s) for s in m.rows],
            "columns": [_segment_json(s) for s in m.columns],
            "scores": [list(r) for r in m.scores]}
