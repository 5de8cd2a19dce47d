"""The one selection model of both pages: which output segments a reviewer selected.

A Debug selection is a range of segment indices `(lo, hi)` (a single segment is `(i, i)`); a
Compare selection adds the column it was made in: `(column, lo, hi)`. The URL spells them `5`,
`5-7` and `0:5-7`; saved runs store them as lists (`[lo, hi]`; `[column, i]` in the first Compare
records, `[column, lo, hi]` since). Clicking follows one rule (`next_selection`): a click selects
one segment, shift-click extends from the anchor (the segment clicked last without shift), and a
click on the sole selected segment clears. Pure functions, no Streamlit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from lib.errors import InputError
from lib.records import Segment

Range = tuple[int, int]
ColumnRange = tuple[int, int, int]


def parse_selection(text: str | None) -> Range | None:
    """URL form `5` or `5-7` -> (5, 5) / (5, 7); InputError naming `sel` for anything else."""
    if text is None or text == "":
        return None
    s = str(text).strip()
    parts = s.split("-")
    # ASCII digits only: str.isdigit() also accepts '²' (int() fails) and '５'.
    if len(s) > 20 or len(parts) > 2 or not all(p.isascii() and p.isdigit() for p in parts):
        raise InputError(f"The link's selection 'sel={s[:20]}' is not a segment number like 5 "
                         "or a range like 5-7; click a segment of the output instead.",
                         field="sel")
    a, b = int(parts[0]), int(parts[-1])
    return (min(a, b), max(a, b))


def format_selection(sel: Range | None) -> str | None:
    """(5, 5) -> '5', (5, 7) -> '5-7', None -> None (no `sel` in the URL)."""
    if sel is None:
        return None
    return str(sel[0]) if sel[0] == sel[1] else f"{sel[0]}-{sel[1]}"


def parse_compare_selection(text: str | None) -> ColumnRange | None:
    """URL form `col:idx` or `col:lo-hi` (columns from 0) -> (col, lo, hi); InputError else."""
    if text is None or text == "":
        return None
    col, sep, rest = str(text).strip().partition(":")
    if not sep or not (col.isascii() and col.isdigit()) or len(col) > 2:
        raise InputError(f"The link's selection 'sel={str(text)[:20]}' is not a column and "
                         "segment like 0:5 or 0:5-7; click a segment of an output instead.",
                         field="sel")
    rng = parse_selection(rest)
    if rng is None:
        raise InputError(f"The link's selection 'sel={str(text)[:20]}' has no segment number; "
                         "click a segment of an output instead.", field="sel")
    return (int(col), rng[0], rng[1])


def format_compare_selection(sel: ColumnRange | None) -> str | None:
    if sel is None:
        return None
    return f"{sel[0]}:{format_selection((sel[1], sel[2]))}"


def next_selection(current: Range | None, clicked: int, shift: bool,
                   anchor: int | None = None) -> tuple[Range | None, int | None]:
    """Click selects; shift-click extends from the anchor; clicking the sole selection clears.

    Returns (new selection, new anchor). Shift with nothing selected is a plain click.
    """
    if shift and current is not None:
        a = current[0] if anchor is None else anchor
        return (min(a, clicked), max(a, clicked)), a
    if current == (clicked, clicked):
        return None, None
    return (clicked, clicked), clicked


def next_compare_selection(current: ColumnRange | None, column: int, clicked: int, shift: bool,
                           anchor: int | None = None
                           ) -> tuple[ColumnRange | None, int | None]:
    """`next_selection` within one column: a click in another column starts afresh there
    (shift included: a range never spans two columns)."""
    mine = (current[1], current[2]) if current is not None and current[0] == column else None
    new, new_anchor = next_selection(mine, clicked, shift, anchor if mine is not None else None)
    return ((column, new[0], new[1]) if new is not None else None), new_anchor


def new_click(payload: Any, last_id: str | None) -> tuple[int, bool, str] | None:
    """The picker's click payload `{index, shift, id}` as (index, shift, id), or None when it
    is not a click or is the click `last_id` already handled: a trigger that reaches the
    server twice (reruns that queue up under load can carry it again) must not toggle the
    same segment a second time, which would undo the first."""
    if not isinstance(payload, dict) or type(payload.get("index")) is not int:
        return None
    click_id = str(payload.get("id", ""))[:40]
    if click_id and click_id == last_id:
        return None
    return payload["index"], bool(payload.get("shift")), click_id


def selection_from_stored(value: Any) -> Range | None:
    """A saved Debug run's `ui.selection` ([lo, hi], or null) -> a range."""
    if not value:
        return None
    vals = [int(x) for x in value]
    return (min(vals[0], vals[-1]), max(vals[0], vals[-1]))


def compare_selection_from_stored(value: Any) -> ColumnRange | None:
    """A saved Compare run's `ui.selection`: [column, index] (first records) or
    [column, lo, hi] -> (column, lo, hi)."""
    if not value:
        return None
    vals = [int(x) for x in value]
    if len(vals) == 2:
        return (vals[0], vals[1], vals[1])
    return (vals[0], min(vals[1], vals[2]), max(vals[1], vals[2]))


def in_range(sel: Range | None, valid: Collection[int]) -> bool:
    """Both ends of `sel` are indices in `valid` (the output segments at this granularity)."""
    return sel is not None and sel[0] in valid and sel[1] in valid


def compare_in_range(sel: ColumnRange | None, columns: Sequence[Collection[int]]) -> bool:
    """`sel`'s column exists and both its ends are output segments of that column."""
    return (sel is not None and 0 <= sel[0] < len(columns)
            and in_range((sel[1], sel[2]), columns[sel[0]]))


def selected_indices(segments: Iterable[Segment], sel: Range | None) -> list[int]:
    """Indices of the segments inside the range (none without a selection)."""
    if sel is None:
        return []
    return [s.index for s in segments if sel[0] <= s.index <= sel[1]]


def target_tokens(segments: Iterable[Segment], sel: Range) -> list[int]:
    """The sorted token indices the selected segments cover: the salience target."""
    return sorted({t for s in segments if sel[0] <= s.index <= sel[1] for t in s.token_indices})
