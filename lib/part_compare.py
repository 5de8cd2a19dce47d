"""Parts of several prompt variants side by side (Compare), matched by part id.

Ids name what a part is (`example-1`, `menu_item`, `principle-2`, `text-for-example`), not
where it sits, so a variant that adds two principles still matches its examples to the other
variant's. The first variant is the baseline: in every other variant a part is `present` (in
both), `new` (only here), `missing` (only in the baseline) or `absent` (in neither: only a
third variant has it), with the shift of its share from the baseline's (an absent side
counts 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lib.part_scores import PartScore


@dataclass(frozen=True)
class PartCell:
    """One variant's view of a part. `share_shift` is None in the baseline column."""

    score: PartScore | None
    status: str  # "present", "new", "missing", "absent"
    share_shift: float | None


@dataclass(frozen=True)
class PartRow:
    """One part id across the variants (label and kind from the first variant that has it)."""

    id: str
    kind: str
    label: str
    cells: tuple[PartCell, ...]


def _merged_order(variants: Sequence[Sequence[PartScore]]) -> list[str]:
    """Every id once: the baseline's order, each other id right after its predecessor in the
    variant that has it."""
    order: list[str] = []
    for scores in variants:
        prev: str | None = None
        for s in scores:
            ident = s.part.id
            if ident not in order:
                order.insert(order.index(prev) + 1 if prev is not None else 0, ident)
            prev = ident
    return order


def align_parts(variants: Sequence[Sequence[PartScore]]) -> list[PartRow]:
    """Rows of parts matched by id across `variants` (each a `part_scores` result)."""
    if not variants:
        return []
    by_id = [{s.part.id: s for s in scores} for scores in variants]
    base = by_id[0]
    rows = []
    for ident in _merged_order(variants):
        first = next(m[ident] for m in by_id if ident in m)
        cells = []
        for col, found in enumerate(by_id):
            here, there = found.get(ident), base.get(ident)
            if col == 0:
                cells.append(PartCell(here, "present" if here else "absent", None))
                continue
            status = ("present" if here and there else "new" if here
                      else "missing" if there else "absent")
            shift = (here.share if here else 0.0) - (there.share if there else 0.0)
            cells.append(PartCell(here, status, shift))
        rows.append(PartRow(ident, first.part.kind, first.part.label, tuple(cells)))
    return rows
