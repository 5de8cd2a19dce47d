"""Salience by part for the pages and the report: a view's parts, their scores, a static table.

No Streamlit here: the Debug and Compare pages (`lib/ui/parts_view.py`), the HTML report and
the JSON export all get their parts from `view_part_scores`, so a reloaded share link shows
the same numbers as the page it was saved from. Parts follow the template when the view came
from one (and the template still renders to the view's prompt), else they are detected.
"""

from __future__ import annotations

from collections.abc import Sequence

from lib.errors import InputError
from lib.part_scores import PartScore, part_scores, parts_in_sequence
from lib.parts import Part, detect_parts, template_parts
from lib.records import TokenSequence
from lib.text_safety import escape_html, safe_html
from lib.view import View


def prompt_parts(view: View) -> list[Part]:
    """The parts of the view's prompt (offsets into `view.prompt`)."""
    if view.template_text:
        try:
            prompt, parts = template_parts(view.template_text, view.variables)
        except InputError:
            prompt, parts = "", []
        # A saved run whose template no longer renders to its prompt: detect instead.
        if prompt == view.prompt:
            return parts
    return detect_parts(view.prompt)


def view_part_scores(view: View, token_scores: Sequence[float], signed: bool
                     ) -> list[PartScore]:
    """Each part's score and share for these token scores (in prompt order); [] when the
    parts cannot be placed in the sequence (a damaged run)."""
    try:
        mapped = parts_in_sequence(prompt_parts(view), view.seq, view.prompt)
        return part_scores(mapped, token_scores, signed)
    except ValueError:
        return []


def ranked(scores: Sequence[PartScore]) -> list[PartScore]:
    """Largest |score| first (ties keep prompt order)."""
    return sorted(scores, key=lambda s: -abs(s.score))


def part_title(part: Part) -> str:
    """The part as a reader names it: its label and kind (raw text; escape where shown)."""
    return f"{part.label} ({part.kind})"


def part_text(seq: TokenSequence, part: Part) -> str:
    """The text a mapped part covers in `seq.input_text` (its spans, joined)."""
    return "".join(seq.input_text[s:e] for s, e in part.spans or ((part.start, part.end),))


PARTS_CSS = """
.parts-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
.parts-table .bar { display: inline-block; height: 0.7em; background: #2171b5;
  vertical-align: middle; }
.parts-table .bar.neg { background: #b35806; }
.parts-table .bar.pos { background: #542788; }
""".strip()


def _bar(fraction: float, cls: str = "") -> str:
    width = max(0.0, min(1.0, fraction)) * 8  # em: the table stays narrow
    return f'<span class="bar {cls}" style="width: {width:.2f}em"></span>'


def parts_table_html(scores: Sequence[PartScore], signed: bool) -> str:
    """A static table of the parts by |score| with a bar per share (no scripts: the report's
    CSP forbids them); "" without scores."""
    if not scores:
        return ""
    head = "<tr><th>Part</th><th>Kind</th><th>Score</th><th>Share</th>"
    head += "<th>Positive</th><th>Negative</th>" if signed else ""
    head += "<th></th></tr>"
    top = max((abs(s.score) for s in scores), default=0.0) or 1.0
    rows = []
    for s in ranked(scores):
        p = s.part
        cells = (f"<td>{safe_html(p.label)}</td><td>{escape_html(p.kind)}</td>"
                 f'<td class="num">{s.score:.4g}</td><td class="num">{s.share:.1%}</td>')
        if signed:
            cells += (f'<td class="num">{(s.positive or 0.0):.4g}</td>'
                      f'<td class="num">{(s.negative or 0.0):.4g}</td>')
            bar = _bar(abs(s.score) / top, "pos" if s.score >= 0 else "neg")
        else:
            bar = _bar(abs(s.score) / top)
        rows.append(f'<tr data-part-id="{escape_html(p.id)}">{cells}<td>{bar}</td></tr>')
    return f'<table class="parts-table">{head}{"".join(rows)}</table>'
