"""Salience by part: a prompt's parts mapped onto a tokenised sequence, and their scores.

A part's score is the sum of its tokens' scores (LIT's rule for any span), so the parts' scores
add up to the prompt tokens' total. Every prompt token goes to exactly one part: the part that
holds its first non-space character (a token of spaces only: its first character; a token that
covers no character, a byte-fallback piece: the part of the token after it). Special tokens
(`<bos>`, chat-turn markers) are parts of their own, and chat-template text around the prompt
(`user\\n`, `model\\n`) is a `special` part per run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lib.parts import Part
from lib.records import TokenSequence

_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class PartScore:
    """One part's share of a salience result. `share` = |score| / the sum of every part's
    |score| (0 when all are 0); `positive`/`negative` (signed methods only) are the sums of its
    tokens' positive and negative scores, so score = positive + negative."""

    part: Part
    score: float
    share: float
    positive: float | None = None
    negative: float | None = None


def prompt_offset(seq: TokenSequence, prompt: str) -> int:
    """Where `prompt` starts in `seq.input_text`: 0, or after the chat template's opening.

    The prompt is the occurrence that ends where a special token (the end of the user's turn)
    starts, or the input's end, so a prompt that repeats the chat template's words is placed
    right.
    """
    text = seq.input_text
    ends = {t.start for t in seq.tokens[:seq.prompt_length] if t.special and t.end > t.start}
    ends.add(len(text))
    at = text.find(prompt)
    while at != -1:
        if at + len(prompt) in ends:
            return at
        at = text.find(prompt, at + 1)
    raise ValueError("The prompt does not occur in the sequence's input text; the parts belong "
                     "to another prompt.")


def _first_char(text: str, start: int, end: int) -> int:
    for pos in range(start, end):
        if not text[pos].isspace():
            return pos
    return start


def _spans(seq: TokenSequence, indices: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Character spans of runs of consecutive token indices."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    out = []
    for run in runs:
        toks = [seq.tokens[i] for i in run]
        wide = [t for t in toks if t.end > t.start] or toks
        out.append((min(t.start for t in wide), max(t.end for t in wide)))
    return tuple(out)


def parts_in_sequence(parts: Sequence[Part], seq: TokenSequence, prompt: str) -> list[Part]:
    """`parts` of `prompt` (offsets into it) as parts of `seq`: offsets into `seq.input_text`,
    `token_indices` filled, special and chat-template parts added, in token order. A part that
    ends up with no token (a few spaces inside another part's token) is left out."""
    offset = prompt_offset(seq, prompt)
    owner = [-1] * len(prompt)
    for k, part in enumerate(parts):
        for s, e in part.spans or ((part.start, part.end),):
            owner[s:e] = [k] * (e - s)
    text = seq.input_text
    keys: list[tuple[str, int]] = []
    pending: list[int] = []
    chat_runs = 0
    groups: dict[tuple[str, int], list[int]] = {}
    for tok in seq.tokens[:seq.prompt_length]:
        if tok.special:
            key = ("special", tok.index)
        elif tok.end <= tok.start:
            pending.append(tok.index)
            continue
        else:
            rel = _first_char(text, tok.start, tok.end) - offset
            if 0 <= rel < len(prompt) and owner[rel] >= 0:
                key = ("part", owner[rel])
            else:
                if not keys or keys[-1][0] != "chat":
                    chat_runs += 1
                key = ("chat", chat_runs)
        groups.setdefault(key, []).extend(pending + [tok.index])
        pending = []
        keys.append(key)
    if pending:  # covering-nothing tokens at the very end join the token before them
        groups.setdefault(keys[-1] if keys else ("chat", 0), []).extend(pending)
    out: list[Part] = []
    used: set[str] = {p.id for p in parts}
    for (kind, k), indices in sorted(groups.items(), key=lambda kv: min(kv[1])):
        indices = sorted(indices)
        spans = _spans(seq, indices)
        where = dict(start=spans[0][0], end=spans[-1][1], spans=spans,
                     token_indices=tuple(indices))
        if kind == "part":
            p = parts[k]
            out.append(Part(id=p.id, kind=p.kind, label=p.label, **where))
            continue
        if kind == "special":
            name = seq.tokens[k].text
            base = "special-" + (_SLUG.sub("-", name.lower()).strip("-") or "token")
        else:
            name, base = "Chat template text", f"chat-text-{k}"
        ident, n = base, 2
        while ident in used:
            ident, n = f"{base}-{n}", n + 1
        used.add(ident)
        out.append(Part(id=ident, kind="special", label=name, **where))
    return out


def part_scores(parts: Sequence[Part], token_scores: Sequence[float],
                signed: bool = False) -> list[PartScore]:
    """Each mapped part's score (the sum of its tokens' scores) and share; `signed` methods
    (Grad·Input) also get their positive and negative mass."""
    n = len(token_scores)
    sums, pos, neg = [], [], []
    for part in parts:
        if any(not 0 <= i < n for i in part.token_indices):
            raise ValueError(f"Part {part.id!r} refers to a token beyond the {n} scores.")
        values = [float(token_scores[i]) for i in part.token_indices]
        sums.append(float(sum(values)))
        pos.append(float(sum(v for v in values if v > 0)))
        neg.append(float(sum(v for v in values if v < 0)))
    total = sum(abs(s) for s in sums)
    return [PartScore(part=p, score=s, share=abs(s) / total if total > 0 else 0.0,
                      positive=pp if signed else None, negative=nn if signed else None)
            for p, s, pp, nn in zip(parts, sums, pos, neg, strict=True)]
