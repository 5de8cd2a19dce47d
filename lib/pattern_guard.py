"""Refuse custom segmentation regexes whose compiled form could be huge, before compiling.

Compiling is not covered by the match timeout and holds the GIL: the `regex` module expands
counted repeats, so (?:a{3000}){3000} builds nine million nodes. Before compiling, the
pattern's repeat structure is read here and its expanded size estimated from above (the
sum over the pattern of each piece times the bounds of the repeats around it); a pattern
over the budget is refused. 100 000 compiles in a few tens of milliseconds. Kept apart from
`lib.segments` because it is a small parser of regex syntax, not segmentation.
"""

from __future__ import annotations

import regex

from lib.errors import InputError

MAX_PATTERN_SIZE = 100_000
MAX_PATTERN_NESTING = 20
_COUNTED_REPEAT = regex.compile(r"\{(\d*)(?:,(\d*))?\}")
_FLAG_CHARS = frozenset("aiLmsuxfwbeprV01-")


def _too_big(detail: str) -> InputError:
    return InputError(
        f"The custom segmentation pattern is too big to compile: {detail}. Use smaller repeat "
        "counts (for example + or {1,50} instead of {5000}) and fewer nested repeated groups.",
        field="pattern",
    )


_NAME_PART = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 &_-.")
_VALUE_PART = _NAME_PART | {"/"}


def _posix_class_end(pattern: str, pos: int) -> int | None:
    """Index after a POSIX class such as [:alpha:] or [:^script=latin:] at `pos`, read as the
    `regex` module reads it (its parse_posix_class); None if it is not one."""
    n = len(pattern)
    i = pos + 2
    if i < n and pattern[i] == "^":
        i += 1
    while i < n and pattern[i] in _NAME_PART:
        i += 1
    if i < n and pattern[i] in ":=":
        j = i + 1
        while j < n and pattern[j] in _VALUE_PART:
            j += 1
        if pattern[i + 1:j].strip():
            i = j  # a qualified name (name=value)
    return i + 2 if pattern.startswith(":]", i) else None


def _skip_class(pattern: str, pos: int) -> int:
    """Index just after the character class opening at `pattern[pos] == '['` (version 0 rules:
    a ']' first is literal, [:name:] is a POSIX class, '[' inside is literal)."""
    n = len(pattern)
    i = pos + 1
    if i < n and pattern[i] == "^":
        i += 1
    if i < n and pattern[i] == "]":
        i += 1
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
        elif ch == "[" and pattern.startswith("[:", i):
            i = _posix_class_end(pattern, i) or i + 1  # not a POSIX class: a literal '['
        elif ch == "]":
            return i + 1
        else:
            i += 1
    return n


def check_pattern_size(pattern: str) -> None:
    """Refuse a pattern whose compiled form could be huge, without compiling it.

    Reads groups, alternatives, character classes, escapes and counted repeats; every other
    character counts as one node. The estimate only errs upwards: a range {m,n} counts as n
    copies, alternatives add up. Inline flags that change how the pattern is read (x: verbose,
    V1: nested sets) are refused, since under them this reading could err downwards.
    """
    n = len(pattern)
    # One frame per open group: [total size so far, size of the last piece (a quantifier's
    # operand)].
    stack: list[list[int]] = [[0, 0]]
    i = 0
    while i < n:
        ch = pattern[i]
        frame = stack[-1]
        piece = 1
        if ch == "\\":
            j = i + 2
            if i + 1 < n and pattern[i + 1] in "pPNxuUgkLX" and j < n and pattern[j] in "{<":
                close = pattern.find("}" if pattern[j] == "{" else ">", j)
                j = close + 1 if close >= 0 else n
            i = j
        elif ch == "[":
            i = _skip_class(pattern, i)
        elif ch == "(":
            if pattern.startswith("(?#", i):
                close = pattern.find(")", i)
                i = close + 1 if close >= 0 else n
                continue
            if pattern.startswith("(?", i):
                j = i + 2
                while j < n and pattern[j] in _FLAG_CHARS:
                    j += 1
                flags = pattern[i + 2:j]
                if j < n and pattern[j] in ":)" and ("x" in flags or "V1" in flags):
                    raise InputError(
                        "The custom segmentation pattern turns on the verbose (x) or version 1 "
                        "(V1) flag, which segmentation patterns do not support. Remove "
                        f"{pattern[i:j + 1]!r} and write the pattern without spaces, comments "
                        "or nested sets.",
                        field="pattern",
                    )
            stack.append([0, 0])
            if len(stack) > MAX_PATTERN_NESTING + 1:
                raise _too_big(f"groups are nested more than {MAX_PATTERN_NESTING} deep")
            i += 1
            continue
        elif ch == ")":
            if len(stack) > 1:
                piece = stack.pop()[0] or 1
                frame = stack[-1]
            i += 1
        elif ch == "|":
            frame[1] = 0
            i += 1
            continue
        elif ch in "*+?":
            i += 1  # repeats the last piece in a loop (or makes it lazy/possessive): no copies
            continue
        elif ch == "{" and (m := _COUNTED_REPEAT.match(pattern, i)) and (m[1] or m[2]):
            bound = max(int(m[1] or 0), int(m[2] or 0), 1)
            if bound > MAX_PATTERN_SIZE:
                raise _too_big(f"the repeat count {bound} is over the limit of {MAX_PATTERN_SIZE}")
            frame[0] += frame[1] * (bound - 1)
            frame[1] *= bound
            if frame[0] > MAX_PATTERN_SIZE:
                raise _too_big(
                    f"its nested repeats expand to more than {MAX_PATTERN_SIZE} pieces"
                )
            i = m.end()
            continue
        else:
            i += 1
        frame[0] += piece
        frame[1] = piece
        if frame[0] > MAX_PATTERN_SIZE:
            raise _too_big(f"its nested repeats expand to more than {MAX_PATTERN_SIZE} pieces")
    if sum(total for total, _ in stack) > MAX_PATTERN_SIZE:  # unclosed groups
        raise _too_big(f"its nested repeats expand to more than {MAX_PATTERN_SIZE} pieces")
