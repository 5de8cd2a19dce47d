"""Counterfactual checks: does editing the prompt change how likely the target is?

Salience says which prompt tokens the target's loss is sensitive to; these check it by editing
the prompt and measuring again. The target is tokenised on its own and teacher-forced after the
edited prompt (as `pipeline.sequence_for_target` does for the original), so its tokens never
change; the measure is the summed log-probability of the scored target tokens (the rest of the
target is context), float32, from one batched forward (`ModelFunctions.token_logprobs`).

- `counterfactual`: drop some spans of the prompt, or replace one with a text; the change in
  log-probability (`delta` = after - before), the greedy answers before and after, and
  controls: the same edit on random spans elsewhere, of the same token length.
- `deletion_curve`: drop the k most salient prompt segments at once, k = 0..K, against a
  random order of the same segments.

Spans are character offsets [start, end) into the prompt as typed (not the chat template's
text). A control is one run of whole prompt tokens as long as the edit (the tokens its spans
touch, all spans together; an empty edit's controls are empty spans at token boundaries):
never the special tokens (`<bos>` has no characters), never overlapping an edited span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lib import pipeline
from lib.errors import InputError, LimitError
from lib.generation import MAX_NEW_TOKENS, check_text, encode_prompt
from lib.models.loaded_model import LoadedModel
from lib.records import GenerationSettings, TokenSequence
from lib.salience.methods import get_method
from lib.segments import segment_scores, segment_sequence

Span = tuple[int, int]
DEFAULT_CONTROLS = 5
MAX_CONTROLS = 50
DEFAULT_K = 10


@dataclass(frozen=True)
class Control:
    """The same edit on another span of the prompt; `delta` = its log-probability - before."""

    start: int
    end: int
    delta: float


@dataclass(frozen=True)
class Counterfactual:
    edited_prompt: str
    target_logprob_before: float  # sum over the scored target tokens
    target_logprob_after: float
    greedy_before: str
    greedy_after: str
    controls: tuple[Control, ...]

    @property
    def delta(self) -> float:
        return self.target_logprob_after - self.target_logprob_before

    @property
    def answer_changed(self) -> bool:
        return self.greedy_before != self.greedy_after


@dataclass(frozen=True)
class DeletionCurve:
    """Point k: the scored log-probability with the first k spans of an order dropped."""

    k: tuple[int, ...]
    salience_order: tuple[float, ...]
    random_order: tuple[float, ...]
    salience_spans: tuple[Span, ...]  # the droppable segments, most salient first (K of them)
    random_spans: tuple[Span, ...]  # the same K positions of a seeded random permutation

    @property
    def area(self) -> float:
        """Mean over k = 0..K of random_order[k] - salience_order[k] (> 0: the salient
        segments matter more than random ones)."""
        return float(np.mean(np.subtract(self.random_order, self.salience_order)))


def overlap(a: Span, b: Span) -> bool:
    """Whether two spans share a character, or an empty one lies strictly inside (or on) the
    other."""
    if a[0] == a[1] and b[0] == b[1]:
        return a == b
    if a[0] == a[1]:
        return b[0] < a[0] < b[1]
    if b[0] == b[1]:
        return a[0] < b[0] < a[1]
    return max(a[0], b[0]) < min(a[1], b[1])


def check_spans(prompt: str, spans: Sequence[Span], name: str = "The span") -> list[Span]:
    """The spans, sorted, or an `InputError` (outside the prompt, inverted, overlapping);
    `name` starts each message (the command line passes its option)."""
    field = name.lstrip("-") if name.startswith("-") else "spans"
    if not spans:
        raise InputError(f"{name}: give at least one START:END span of the prompt.", field=field)
    for start, end in spans:
        if start > end:
            raise InputError(f"{name} {start}:{end} is inverted (START > END); give START <= "
                             "END.", field=field)
        if not 0 <= start <= end <= len(prompt):
            raise InputError(f"{name} {start}:{end} is outside the prompt (0:{len(prompt)} "
                             "characters).", field=field)
    ordered = sorted((int(s), int(e)) for s, e in spans)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if overlap(a, b):
            raise InputError(f"{name} {a[0]}:{a[1]} and {b[0]}:{b[1]} overlap; give disjoint "
                             "spans.", field=field)
    return ordered


def apply_edit(prompt: str, spans: Sequence[Span], text: str = "") -> str:
    """`prompt` with each (sorted, disjoint) span replaced by `text` ("" drops it)."""
    out, pos = [], 0
    for start, end in spans:
        out += [prompt[pos:start], text]
        pos = end
    return "".join(out) + prompt[pos:]


def prompt_offset(model: LoadedModel, prompt: str, chat: bool) -> int:
    """Where the prompt's characters start in the text the model sees (the chat template's
    turn header comes first): the first character at which two probe prompts differ."""
    a, b = (encode_prompt(model, probe, chat)[1] for probe in ("\x01", "\x02"))
    return next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)


def prompt_tokens(seq: TokenSequence, offset: int, prompt: str) -> list[Span]:
    """The character spans (in the prompt) of the prompt's tokens that cover characters, in
    order: special tokens and zero-width byte pieces are left out."""
    end = offset + len(prompt)
    return [(t.start - offset, t.end - offset) for t in seq.tokens[: seq.prompt_length]
            if not t.special and t.end > t.start and offset <= t.start and t.end <= end]


def token_length(tokens: Sequence[Span], spans: Sequence[Span]) -> int:
    """How many prompt tokens the spans touch (snapped outward to whole tokens)."""
    return sum(1 for t in tokens if any(s < e and overlap(t, (s, e)) for s, e in spans))


def control_spans(tokens: Sequence[Span], edited: Sequence[Span], n: int, count: int,
                  seed: int) -> list[Span]:
    """Up to `count` distinct runs of `n` whole tokens (empty spans at token boundaries when
    n = 0) that overlap no edited span, drawn with a seeded RNG and sorted by position; runs of
    n - 1 or n + 1 tokens only when no run of n fits. Fewer when fewer fit."""
    def runs(m: int) -> list[Span]:
        if m == 0:
            cuts = sorted({s for s, _ in tokens} | {e for _, e in tokens})
            return [(c, c) for c in cuts]
        return [(tokens[i][0], tokens[i + m - 1][1]) for i in range(len(tokens) - m + 1)]

    for m in (n, n - 1, n + 1):
        if m < 0 or (m == 0 and n > 0):
            continue
        free = [r for r in runs(m) if not any(overlap(r, e) for e in edited)]
        if free:
            break
    else:
        return []
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(free), size=min(count, len(free)), replace=False)
    return sorted(free[int(i)] for i in picked)


def default_max_new_tokens(seq: TokenSequence) -> int:
    """The greedy answers' default length: the target's tokens + 8 (at most the limit)."""
    return min(MAX_NEW_TOKENS, len(seq.tokens) - seq.prompt_length + 8)


def score_prompts(model: LoadedModel, prompts: Sequence[str], seq: TokenSequence,
                  scored: Sequence[int], chat: bool) -> list[float]:
    """The summed log-probability of the scored target tokens (`scored`: indices in `seq`)
    teacher-forced after each prompt, in batched forward passes (float32)."""
    target_ids = seq.ids[seq.prompt_length:]
    rel = [i - seq.prompt_length for i in scored]
    rows = []
    for p in prompts:
        ids = [*encode_prompt(model, p, chat)[0], *target_ids]
        if len(ids) > model.max_prompt_tokens:
            raise LimitError(f"An edited prompt and the target are {len(ids)} tokens, over this "
                             f"model's limit of {model.max_prompt_tokens}.", field="prompt")
        n_prompt = len(ids) - len(target_ids)
        rows.append((ids, [n_prompt + r for r in rel]))
    lps = model.functions.token_logprobs(rows, pad_id=model.tokenizer.pad_id)
    return [float(np.sum(lp)) for lp in lps]


def _chat(model: LoadedModel, chat_template: bool | None) -> bool:
    return model.default_chat_template if chat_template is None else chat_template


def counterfactual(model: LoadedModel, prompt: str, seq: TokenSequence, scored: Sequence[int],
                   spans: Sequence[Span], replacement: str | None = None, *,
                   controls: int = DEFAULT_CONTROLS, seed: int = 0,
                   settings: GenerationSettings | None = None,
                   name: str = "The span") -> Counterfactual:
    """Edit `prompt` (`seq`: it and the target, from `pipeline.sequence_for_target`): drop
    `spans`, or with `replacement` replace the one span by it. `scored`: the target tokens
    (indices in `seq`) whose log-probability is measured. `settings` (chat template, max new
    tokens, stop) drive the greedy answers; `controls` random spans get the same edit."""
    if replacement is not None and len(spans) != 1:
        raise InputError(f"{name}: a replacement takes exactly one span.", field="replace")
    if replacement is not None:
        check_text(replacement, "replacement")
    if isinstance(controls, bool) or not isinstance(controls, int) or \
            not 0 <= controls <= MAX_CONTROLS:
        raise InputError(f"controls must be a whole number from 0 to {MAX_CONTROLS} (got "
                         f"{controls!r}).", field="controls")
    _check_seed(seed)
    spans = check_spans(prompt, spans, name)
    settings = settings or GenerationSettings(max_new_tokens=default_max_new_tokens(seq))
    chat = _chat(model, settings.chat_template)
    scored = pipeline.check_target(model, seq, scored)
    text = replacement or ""
    edited = apply_edit(prompt, spans, text)
    if not edited.strip():
        raise InputError(f"{name}: the edit leaves the prompt empty; keep some of it.",
                         field=name.lstrip("-") if name.startswith("-") else "spans")
    offset = prompt_offset(model, prompt, chat)
    tokens = prompt_tokens(seq, offset, prompt)
    ctrl = control_spans(tokens, spans, token_length(tokens, spans), controls, seed)
    prompts = [prompt, edited, *(apply_edit(prompt, [c], text) for c in ctrl)]
    lps = score_prompts(model, prompts, seq, scored, chat)
    before = lps[0]
    greedy = [pipeline.generate(model, p, settings).text for p in (prompt, edited)]
    return Counterfactual(
        edited_prompt=edited, target_logprob_before=before, target_logprob_after=lps[1],
        greedy_before=greedy[0], greedy_after=greedy[1],
        controls=tuple(Control(s, e, lp - before) for (s, e), lp in zip(ctrl, lps[2:],
                                                                         strict=True)))


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InputError(f"seed must be a non-negative whole number (got {seed!r}).",
                         field="seed")


def droppable_segments(model: LoadedModel, prompt: str, seq: TokenSequence, granularity: str,
                       pattern: str | None, chat: bool) -> tuple[list[Span], list]:
    """The prompt's segments that can be dropped (characters inside the prompt; special
    tokens have none) as prompt spans, and the segments themselves."""
    offset = prompt_offset(model, prompt, chat)
    end = offset + len(prompt)
    segs = [s for s in segment_sequence(seq, granularity, pattern)
            if s.in_prompt and s.end > s.start and offset <= s.start and s.end <= end]
    return [(s.start - offset, s.end - offset) for s in segs], segs


def deletion_curve(model: LoadedModel, prompt: str, seq: TokenSequence, scored: Sequence[int],
                   granularity: str, method: str, *, k: int = DEFAULT_K, seed: int = 0,
                   pattern: str | None = None,
                   chat_template: bool | None = None) -> DeletionCurve:
    """Drop the top k prompt segments at once for k = 0..K (K = min(k, droppable segments)):
    "top" is the largest score, or for signed methods the most negative (LIT's sign: the
    segment made the target more likely). Against a seeded random order of the same segments.
    The salience is `method`'s for the scored tokens; every edited prompt of both orders is
    scored in as few batched forward passes as memory allows."""
    info = get_method(method)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a whole number of at least 1 (got {k!r}).", field="k")
    _check_seed(seed)
    chat = _chat(model, chat_template)
    scored = pipeline.check_target(model, seq, scored)
    spans, segs = droppable_segments(model, prompt, seq, granularity, pattern, chat)
    if not spans:
        raise InputError("The prompt has no segment to drop at this granularity.",
                         field="granularity")
    sal = pipeline.salience(model, seq, scored, method)
    scores = segment_scores(segs, sal.scores)
    sign = 1.0 if info.signed else -1.0  # ascending: most negative, or largest, first
    order = sorted(range(len(spans)), key=lambda i: (sign * scores[i], i))
    shuffled = [int(i) for i in np.random.default_rng(seed).permutation(len(spans))]
    top = min(k, len(spans))
    orders = ([spans[i] for i in order[:top]], [spans[i] for i in shuffled[:top]])
    prompts = [prompt] + [apply_edit(prompt, sorted(o[:j])) for o in orders
                          for j in range(1, top + 1)]
    unique = list(dict.fromkeys(prompts))
    lps = dict(zip(unique, score_prompts(model, unique, seq, scored, chat), strict=True))
    curve = [[lps[prompt]] + [lps[apply_edit(prompt, sorted(o[:j]))]
                              for j in range(1, top + 1)] for o in orders]
    return DeletionCurve(k=tuple(range(top + 1)), salience_order=tuple(curve[0]),
                         random_order=tuple(curve[1]), salience_spans=tuple(orders[0]),
                         random_spans=tuple(orders[1]))
