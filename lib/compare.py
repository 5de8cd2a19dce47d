"""Side-by-side comparison: find the matching segment in another variant, diff two prompts."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence

from lib.records import Segment
from lib.text_safety import safe_html

# Word-level units: runs of word characters, runs of whitespace, single other characters.
_DIFF_UNIT = re.compile(r"\w+|\s+|[^\w\s]")


def _line_key(text: str) -> str | None:
    """'Recommendation' for 'Recommendation: Avoid.'; None without a ':' or an empty label."""
    if ":" not in text:
        return None
    key = text.split(":", 1)[0].strip()
    return key or None


def _pick(candidates: list[int], rank: int) -> int | None:
    """The candidate with the source's rank among equals, else the first one."""
    if not candidates:
        return None
    return candidates[rank] if rank < len(candidates) else candidates[0]


def _rank(source: Sequence[Segment], selected: int, same: Callable[[Segment], bool]) -> int:
    """How many earlier segments on the same side as `selected` satisfy `same`."""
    side = source[selected].in_prompt
    return sum(1 for seg in source[:selected] if seg.in_prompt == side and same(seg))


def match_segment(
    source: Sequence[Segment], selected: int, other: Sequence[Segment], granularity: str
) -> int | None:
    """Position in `other` of the segment matching `source[selected]`, or None.

    1. lines: the same label before the first ':' (e.g. "Recommendation"), searching the
       target segments first, then the prompt's;
    2. the same stripped text, on the same side first;
    3. the same position among the target segments (for a target segment);
    else None.
    """
    if not 0 <= selected < len(source):
        return None
    src = source[selected]
    target_pos = [k for k, seg in enumerate(other) if not seg.in_prompt]
    prompt_pos = [k for k, seg in enumerate(other) if seg.in_prompt]

    if granularity == "lines":
        key = _line_key(src.text)
        if key is not None:
            rank = _rank(source, selected, lambda seg: _line_key(seg.text) == key)
            for positions in (target_pos, prompt_pos):
                found = _pick([k for k in positions if _line_key(other[k].text) == key], rank)
                if found is not None:
                    return found

    stripped = src.text.strip()
    if stripped:
        rank = _rank(source, selected, lambda seg: seg.text.strip() == stripped)
        same_side, other_side = (prompt_pos, target_pos) if src.in_prompt else (
            target_pos, prompt_pos
        )
        for positions in (same_side, other_side):
            found = _pick([k for k in positions if other[k].text.strip() == stripped], rank)
            if found is not None:
                return found

    if not src.in_prompt:
        ordinal = sum(1 for seg in source[:selected] if not seg.in_prompt)
        if ordinal < len(target_pos):
            return target_pos[ordinal]
    return None


def prompt_diff(a: str, b: str) -> list[tuple[str, str]]:
    """Word-level diff: `(op, text)` with op in equal/insert/delete.

    Joining the equal and delete pieces gives `a`; the equal and insert pieces give `b`.
    Neighbouring pieces with the same op are merged; a replacement is a delete then an insert.
    """
    units_a = _DIFF_UNIT.findall(a)
    units_b = _DIFF_UNIT.findall(b)
    matcher = difflib.SequenceMatcher(None, units_a, units_b, autojunk=False)
    ops: list[tuple[str, str]] = []

    def add(op: str, text: str) -> None:
        if not text:
            return
        if ops and ops[-1][0] == op:
            ops[-1] = (op, ops[-1][1] + text)
        else:
            ops.append((op, text))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", "".join(units_a[i1:i2]))
        else:
            add("delete", "".join(units_a[i1:i2]))
            add("insert", "".join(units_b[j1:j2]))
    return ops


def render_diff_html(a: str, b: str) -> str:
    """The diff of prompt `a` -> `b` as escaped HTML with <del> and <ins> marks."""
    parts = ['<div class="prompt-diff" style="white-space:pre-wrap">']
    for op, text in prompt_diff(a, b):
        body = safe_html(text)
        if op == "insert":
            parts.append(f"<ins>{body}</ins>")
        elif op == "delete":
            parts.append(f"<del>{body}</del>")
        else:
            parts.append(body)
    parts.append("</div>")
    return "".join(parts)


def match_range(segs: Sequence[Sequence[Segment]], granularity: str,
                sel: tuple[int, int, int]) -> list[tuple[int, int] | None]:
    """The selected range `(column, lo, hi)` in its column, and the matching range in every
    other column (`segs[j]`: all segments of column j).

    Each end is matched on its own (`match_segment`); a column gets a range only if both ends
    match output segments in order. Only output segments can be targets.
    """
    src_col, lo, hi = sel
    pos = {s.index: k for k, s in enumerate(segs[src_col])}
    chosen: list[tuple[int, int] | None] = []
    for j in range(len(segs)):
        if j == src_col:
            chosen.append((lo, hi))
            continue
        ends = []
        for idx in (lo, hi):
            m = match_segment(segs[src_col], pos[idx], segs[j], granularity)
            ends.append(segs[j][m].index if m is not None and not segs[j][m].in_prompt else None)
        a, b = ends
        chosen.append((a, b) if a is not None and b is not None and a <= b else None)
    return chosen


def click_matches(segs: Sequence[Sequence[Segment]], granularity: str
                  ) -> dict[tuple[int, int], list[int | None]]:
    """What a click on each single output segment selects in every column: for output segment
    i of column j, `match_range(segs, granularity, (j, i, i))` as one segment index (or None:
    no match) per column, keyed `(j, i)`.

    A range `(j, lo, hi)` then selects `(m[lo], m[hi])` in column k when both ends match and
    m[lo] <= m[hi] (`m = click_matches(...)[(j, ·)][k]`), which is what `match_range` gives,
    so the browser can follow a shift-click as well.
    """
    out: dict[tuple[int, int], list[int | None]] = {}
    for j, column in enumerate(segs):
        for seg in column:
            if not seg.in_prompt:
                chosen = match_range(segs, granularity, (j, seg.index, seg.index))
                out[(j, seg.index)] = [r[0] if r is not None else None for r in chosen]
    return out


def diff_summary_html(prompts: Sequence[str], limit: int = 3, width: int = 60) -> str:
    """'Variant 2 vs 1: − You have to try it + Avoid' for each variant (escaped)."""

    def short(text: str) -> str:
        text = " ".join(text.split())
        return safe_html(text if len(text) <= width else text[:width - 1] + "…")

    rows = []
    for i in range(1, len(prompts)):
        ops = [(op, t) for op, t in prompt_diff(prompts[0], prompts[i]) if op != "equal"]
        if not ops:
            rows.append(f"<li><b>Variant {i + 1}</b>: same prompt as variant 1</li>")
            continue
        bits = [(f'<del>− {short(t)}</del>' if op == "delete" else f"<ins>+ {short(t)}</ins>")
                for op, t in ops[:limit]]
        more = f" … and {len(ops) - limit} more" if len(ops) > limit else ""
        rows.append(f"<li><b>Variant {i + 1}</b> vs 1: {' '.join(bits)}{more}</li>")
    return ('<ul class="diff-summary" style="margin:.2rem 0 .4rem;line-height:1.7">'
            + "".join(rows) + "</ul>")
