"""Group tokens into segments (words, sentences, lines ...) snapped to token boundaries.

Units are found in the text of each side (prompt and target) separately, so a segment never
crosses the boundary. Each token goes to the unit holding its first non-whitespace character;
whitespace-only and zero-width tokens join the previous unit on the same side (or the next one
when there is none). Special tokens (`<bos>` ...) are left out unless asked for: they stay in
the data, they are only not shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import regex

from lib.errors import InputError
from lib.pattern_guard import MAX_PATTERN_NESTING, MAX_PATTERN_SIZE, check_pattern_size
from lib.records import Segment, TokenSequence

# The public names, the pattern-size guard's included: callers import it from here, where the
# pattern is compiled.
__all__ = ["GRANULARITIES", "GRANULARITY_REGISTRY", "MAX_PATTERN_CHARS", "MAX_PATTERN_NESTING",
           "MAX_PATTERN_SIZE", "REGEX_TIMEOUT_S", "Granularity", "Splitter", "check_pattern_size",
           "compile_pattern", "find_segment", "segment_scores", "segment_sequence"]

REGEX_TIMEOUT_S = 0.5
MAX_PATTERN_CHARS = 500

_WORD = regex.compile(r"\S+")
# A sentence ends after . ! ? (plus closing quotes/brackets) when whitespace or the end follows.
_SENTENCE_END = regex.compile(r"[.!?]+[\"')\]\u2019\u201d]*(?=\s|$)")
_PARAGRAPH_BREAK = regex.compile(r"\n[ \t\r\f\v]*\n\s*")


def _spans_between(text: str, breaks: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans of `text` outside the (sorted, disjoint) `breaks`, dropping empty ones."""
    spans, pos = [], 0
    for b_start, b_end in breaks:
        if b_start > pos:
            spans.append((pos, b_start))
        pos = max(pos, b_end)
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


def _line_spans(text: str) -> list[tuple[int, int]]:
    breaks = [(i, i + 1) for i, ch in enumerate(text) if ch == "\n"]
    return _spans_between(text, breaks)


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for line_start, line_end in _line_spans(text):
        line = text[line_start:line_end]
        pos = 0
        for m in _SENTENCE_END.finditer(line):
            spans.append((line_start + pos, line_start + m.end()))
            pos = m.end()
        if pos < len(line):
            spans.append((line_start + pos, line_end))
    return spans


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    return _spans_between(text, [m.span() for m in _PARAGRAPH_BREAK.finditer(text)])



def compile_pattern(pattern: str | None) -> regex.Pattern:
    """Compile a user's segmentation regex, or raise InputError(field="pattern")."""
    if not isinstance(pattern, str) or not pattern:
        raise InputError(
            "The custom segmentation pattern is empty. Type a regular expression, "
            r"for example \S+ for words or [^,]+ for comma-separated parts.",
            field="pattern",
        )
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InputError(
            f"The custom segmentation pattern is {len(pattern)} characters long; "
            f"the limit is {MAX_PATTERN_CHARS}. Use a shorter pattern.",
            field="pattern",
        )
    check_pattern_size(pattern)
    try:
        # Not kept in the module's process-wide cache: every session's patterns would stay.
        compiled = regex.compile(pattern, cache_pattern=False)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise InputError(
            f"The custom segmentation pattern is not a valid regular expression ({exc}). "
            "Fix the pattern and try again.",
            field="pattern",
        ) from None
    try:
        matches_empty = compiled.fullmatch("", timeout=REGEX_TIMEOUT_S) is not None
    except TimeoutError:
        matches_empty = True
    if matches_empty:
        raise InputError(
            "The custom segmentation pattern matches the empty string, so it cannot split "
            "the text. Use + instead of * (for example \\S+), or make the pattern require "
            "at least one character.",
            field="pattern",
        )
    return compiled


def _regex_spans(text: str, compiled: regex.Pattern, deadline: float) -> list[tuple[int, int]]:
    matches: list[tuple[int, int]] = []
    try:
        remaining = max(deadline - time.monotonic(), 0.001)
        for m in compiled.finditer(text, timeout=remaining):
            if m.end() == m.start():
                raise InputError(
                    "The custom segmentation pattern matches an empty piece of text (for "
                    "example through a lookahead or an optional part). Make it require at "
                    "least one character.",
                    field="pattern",
                )
            matches.append(m.span())
    except TimeoutError:
        raise InputError(
            f"The custom segmentation pattern took longer than {REGEX_TIMEOUT_S} s on this "
            "text (it probably backtracks catastrophically, e.g. nested repeats like (a+)+). "
            "Simplify the pattern.",
            field="pattern",
        ) from None
    # Matches are units, and so is the text between them.
    spans, pos = [], 0
    for start, end in matches:
        if start > pos:
            spans.append((pos, start))
        spans.append((start, end))
        pos = end
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


Splitter = Callable[[str, "regex.Pattern | None", float], list[tuple[int, int]]]


@dataclass(frozen=True)
class Granularity:
    """One way to cut text into units. `splitter(text, compiled_pattern, deadline)` gives the
    units' character spans; None means every token is its own segment."""

    id: str
    label: str
    splitter: Splitter | None
    needs_pattern: bool = False


def _compiled_spans(text: str, compiled: regex.Pattern | None, deadline: float
                    ) -> list[tuple[int, int]]:
    assert compiled is not None
    return _regex_spans(text, compiled, deadline)


# The one list of granularities: the pages, the command line and links all read it.
GRANULARITY_REGISTRY: dict[str, Granularity] = {
    g.id: g
    for g in (
        Granularity("tokens", "Tokens", None),
        Granularity("words", "Words", lambda t, c, d: [m.span() for m in _WORD.finditer(t)]),
        Granularity("sentences", "Sentences", lambda t, c, d: _sentence_spans(t)),
        Granularity("lines", "Lines", lambda t, c, d: _line_spans(t)),
        Granularity("paragraphs", "Paragraphs", lambda t, c, d: _paragraph_spans(t)),
        Granularity("regex", "Custom regex", _compiled_spans, needs_pattern=True),
    )
}
GRANULARITIES: tuple[str, ...] = tuple(GRANULARITY_REGISTRY)


def _unit_spans(
    text: str, granularity: str, compiled: regex.Pattern | None, deadline: float
) -> list[tuple[int, int]]:
    splitter = GRANULARITY_REGISTRY[granularity].splitter
    assert splitter is not None
    return splitter(text, compiled, deadline)


def _first_non_space(text: str, start: int, end: int) -> int | None:
    for pos in range(start, end):
        if not text[pos].isspace():
            return pos
    return None


def _side_groups(
    seq: TokenSequence,
    token_range: range,
    char_offset: int,
    side_text: str,
    granularity: str,
    compiled: regex.Pattern | None,
    deadline: float,
    include_special: bool,
) -> list[list[int]]:
    """Token-index groups (each one segment) for one side, in order."""
    tokens = seq.tokens
    text = seq.text
    if GRANULARITY_REGISTRY[granularity].splitter is None:
        unit_of_char = None
    else:
        unit_of_char = [-1] * len(side_text)
        for unit, (start, end) in enumerate(_unit_spans(side_text, granularity, compiled, deadline)):
            for pos in range(start, end):
                unit_of_char[pos] = unit

    # Key per token: a unit id, None for "join a neighbour", or a fresh key that breaks runs.
    keys: list[tuple[str, int] | None] = []
    kept: list[int] = []
    for ti in token_range:
        tok = tokens[ti]
        if tok.special:
            if not include_special:
                keys.append(("break", ti))  # hidden: splits the run, belongs to nothing
                kept.append(ti)
                continue
            keys.append(("special", ti))  # shown: a segment of its own
            kept.append(ti)
            continue
        if tok.end <= tok.start:
            keys.append(None)
        elif unit_of_char is None:
            keys.append(("token", ti))
        else:
            first = _first_non_space(text, tok.start, tok.end)
            if first is None:
                keys.append(None)
            else:
                unit = unit_of_char[first - char_offset] if 0 <= first - char_offset < len(
                    unit_of_char
                ) else -1
                keys.append(("unit", unit) if unit >= 0 else ("orphan", ti))
        kept.append(ti)

    groups: list[list[int]] = []
    group_keys: list[tuple[str, int]] = []
    pending: list[int] = []  # joiners seen before any group on this side
    for ti, key in zip(kept, keys, strict=True):
        if key is not None and key[0] == "break":
            group_keys.append(key)
            groups.append([])  # placeholder that stops joining across the hidden token
            continue
        if key is None:
            if groups and group_keys[-1][0] not in ("break", "special"):
                groups[-1].append(ti)
            else:
                pending.append(ti)
            continue
        if groups and group_keys[-1] == key:
            groups[-1].append(ti)
        else:
            groups.append(pending + [ti])
            group_keys.append(key)
            pending = []
    if pending:
        # Only joiners after the last real unit: attach to the last shown group if any.
        for group, key in zip(reversed(groups), reversed(group_keys), strict=True):
            if key[0] == "break":
                break
            if key[0] != "special":
                group.extend(pending)
                pending = []
                break
        if pending:
            groups.append(pending)
    return [g for g in groups if g]


def segment_sequence(
    seq: TokenSequence,
    granularity: str,
    pattern: str | None = None,
    include_special: bool = False,
) -> list[Segment]:
    """Segments of the prompt side, then of the target side, numbered 0.. over the list."""
    if granularity not in GRANULARITIES:
        raise InputError(
            f"Unknown granularity {str(granularity)[:40]!r}. Choose one of: "
            f"{', '.join(GRANULARITIES)}.",
            field="granularity",
        )
    needs = GRANULARITY_REGISTRY[granularity].needs_pattern
    compiled = compile_pattern(pattern) if needs else None
    deadline = time.monotonic() + REGEX_TIMEOUT_S
    boundary = len(seq.input_text)
    sides = (
        (True, range(0, seq.prompt_length), 0, seq.input_text),
        (False, range(seq.prompt_length, len(seq.tokens)), boundary, seq.target),
    )
    segments: list[Segment] = []
    for in_prompt, token_range, offset, side_text in sides:
        for group in _side_groups(
            seq, token_range, offset, side_text, granularity, compiled, deadline, include_special
        ):
            toks = [seq.tokens[i] for i in group]
            start = min(t.start for t in toks)
            end = max(t.end for t in toks)
            segments.append(
                Segment(
                    index=len(segments),
                    start=start,
                    end=end,
                    text=seq.text[start:end],
                    token_indices=tuple(group),
                    in_prompt=in_prompt,
                )
            )
    return segments


def segment_scores(segments: Sequence[Segment], token_scores: Sequence[float]) -> list[float]:
    """Each segment's score: the sum of its tokens' scores."""
    n = len(token_scores)
    out = []
    for seg in segments:
        for i in seg.token_indices:
            if not 0 <= i < n:
                raise ValueError(
                    f"Segment {seg.index} refers to token {i}, but there are only {n} scores."
                )
        out.append(float(sum(float(token_scores[i]) for i in seg.token_indices)))
    return out


def find_segment(segments: Sequence[Segment], start: int, end: int) -> int | None:
    """Position of the segment covering characters [start, end).

    A segment that covers the whole span wins; otherwise the one overlapping it most; for an
    empty span, the segment containing `start`. None if no segment touches the span.
    """
    if end <= start:
        for pos, seg in enumerate(segments):
            if seg.start <= start < seg.end:
                return pos
        return None
    best, best_overlap = None, 0
    for pos, seg in enumerate(segments):
        if seg.start <= start and end <= seg.end:
            return pos
        overlap = min(end, seg.end) - max(start, seg.start)
        if overlap > best_overlap:
            best, best_overlap = pos, overlap
    return best
