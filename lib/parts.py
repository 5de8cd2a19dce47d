"""The parts of a prompt: its instruction, principles, few-shot examples, input and variables.

Salience by part sums token scores over parts a person would name ("Example 1: Onion soup",
"{menu_item}") instead of lines or words. Parts partition the prompt: every character, and so
every token, belongs to exactly one part.

Detection works on blank-line-separated blocks:

- blocks that start with the same field label (`Taste-likes:`) and hold at least two field
  lines are few-shot examples when two or more of them exist; the last one is the `input` when
  the output continues it (it is the prompt's last block, or it ends in a bare label such as
  `Analysis:`). Examples are labelled by the first field whose value differs between them.
- a block of two or more bullet (`*`, `-`, `•`) or numbered (`1.`, `1)`) items before the
  examples is a rules block: each item is a `principle` (a heading line is a part of its own).
- the prompt's first block, if it is prose and more blocks follow, is the `instruction`.
- any other block is an `other` part, labelled by its first line (raw prompts: paragraphs).

For a template, a variable's filled value is always a part of its own, named by the variable
(so `{menu_item}` stays one part wherever it sits); the block around it keeps the rest of its
text (a part may so have several spans). Markers in the template (`lib/part_markers.py`)
override detection for the text they mark. Special tokens and chat-template text are added
when the parts are mapped onto a tokenised sequence (`lib/part_scores.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lib.part_markers import END, parse_marker
from lib.templates import parse_template, render_template

PART_KINDS: tuple[str, ...] = (
    "variable", "example", "input", "principle", "instruction", "special", "other",
)
LABEL_CHARS = 48

_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9 '\u2019()/_-]{0,40}):(?=\s|$)")
_ITEM = re.compile(r"(?:[*\u2022\u2013-]|\d{1,3}[.)])\s+\S")
_SLUG = re.compile(r"[^a-z0-9]+")
# Each variable's value stands as one private-use character while blocks are detected, so a
# value with blank lines (a whole document) never splits the block around it.
_SENTINEL = 0xE000


@dataclass(frozen=True)
class Part:
    """One named part of a prompt.

    `start`/`end` bound the part, `spans` are its exact pieces (several when a variable's value
    sits inside it), all character offsets into the prompt, or into a sequence's `input_text`
    once mapped (`parts_in_sequence`, which also fills `token_indices`).
    """

    id: str
    kind: str
    label: str
    start: int
    end: int
    spans: tuple[tuple[int, int], ...] = ()
    token_indices: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Block:
    kind: str
    start: int  # offsets into the text detection ran on
    end: int
    hint: str = ""  # label text: an example's distinguishing value, a principle's words ...
    marked: bool = False  # from a marker: the hint is the author's label


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Non-blank lines of text[start:end] as spans (without their newline)."""
    out, pos = [], start
    for line in text[start:end].split("\n"):
        if line.strip():
            out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Blocks of text[start:end], each with the blank lines after it; whitespace joins the
    neighbour before it (or after it, at the start) so the blocks cover the region."""
    spans, pos = [], start
    for m in _BREAK.finditer(text, start, end):
        spans.append((pos, m.end()))
        pos = m.end()
    if pos < end:
        spans.append((pos, end))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if not text[s:e].strip() and out:
            out[-1] = (out[-1][0], e)
        elif out and not text[out[-1][0]:out[-1][1]].strip():
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _fields(text: str, lines: list[tuple[int, int]]) -> list[tuple[str, str]]:
    out = []
    for s, e in lines:
        m = _FIELD.match(text, s, e)
        if m:
            out.append((m.group(1), text[m.end():e].strip()))
    return out


def _items(text: str, lines: list[tuple[int, int]]) -> list[tuple[int, int]] | None:
    """The items of a rules block (each with its indented continuation lines), or None."""
    heads = [i for i, (s, e) in enumerate(lines) if _ITEM.match(text, s, e)]
    if len(heads) < 2 or heads[0] > 1:
        return None
    for i in range(heads[0], len(lines)):
        if i not in heads and not text[lines[i][0]].isspace():
            return None  # a prose line after the items: not a rules block
    return [(lines[h][0], lines[heads[k + 1]][0] if k + 1 < len(heads) else lines[-1][1])
            for k, h in enumerate(heads)]


def _principles(text: str, start: int, end: int, lines: list[tuple[int, int]],
                items: list[tuple[int, int]]) -> list[_Block]:
    """A rules block: its heading line (if any) as an `other` block, then one principle per
    item (the blank lines after the block go with the last one)."""
    blocks = []
    if items[0][0] > start:
        blocks.append(_Block("other", start, items[0][0], text[lines[0][0]:lines[0][1]]))
    bounds = [i[0] for i in items[1:]] + [end]
    for (i_s, i_e), b_e in zip(items, bounds, strict=True):
        m = _ITEM.match(text, i_s, i_e)
        assert m is not None  # _items found it
        blocks.append(_Block("principle", i_s, b_e, text[m.end() - 1:i_e]))
    return blocks


def _detect(text: str, start: int, end: int, first: bool, last: bool) -> list[_Block]:
    """Blocks of text[start:end]; `first`/`last`: the region opens/closes the prompt."""
    paras = _paragraphs(text, start, end)
    info = []
    for s, e in paras:
        lines = _lines(text, s, e)
        fields = _fields(text, lines)
        is_field = bool(lines) and len(fields) >= 2 and _FIELD.match(text, *lines[0]) is not None
        info.append((lines, fields if is_field else []))
    groups: dict[str, list[int]] = {}
    for k, (_, fields) in enumerate(info):
        if fields:
            groups.setdefault(fields[0][0], []).append(k)
    role: dict[int, str] = {}
    hint: dict[int, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        tail = members[-1]
        bare = text[paras[tail][0]:paras[tail][1]].rstrip().endswith(":")
        examples = members[:-1] if (last and tail == len(paras) - 1) or bare else members
        for k in members:
            role[k] = "example" if k in examples else "input"
        # Label examples by the first field whose value differs between them.
        values = [dict(info[k][1]) for k in examples]
        key = next((f for f, _ in info[examples[0]][1]
                    if len({v.get(f) for v in values}) > 1), info[examples[0]][1][0][0])
        for k, v in zip(examples, values, strict=True):
            hint[k] = v.get(key, "")
    first_example = min((k for k, r in role.items() if r == "example"), default=len(paras))
    blocks: list[_Block] = []
    for k, ((s, e), (lines, _)) in enumerate(zip(paras, info, strict=True)):
        items = _items(text, lines) if k < first_example and k not in role else None
        if k in role:
            blocks.append(_Block(role[k], s, e, hint.get(k, "")))
        elif items:
            blocks.extend(_principles(text, s, e, lines, items))
        elif first and k == 0 and (len(paras) > 1 or not last) and lines:
            blocks.append(_Block("instruction", s, e))
        else:
            head = text[lines[0][0]:lines[0][1]] if lines else ""
            blocks.append(_Block("other", s, e, head))
    return blocks


def _marked(text: str, start: int, end: int, kind: str, label: str) -> list[_Block]:
    if kind == "principles":
        lines = _lines(text, start, end)
        items = _items(text, lines)
        if items:
            return _principles(text, start, end, lines, items)
        kind = "principle"
    if kind == "other" and not label:  # named like a detected block: by its first line
        lines = _lines(text, start, end)
        return [_Block(kind, start, end, text[lines[0][0]:lines[0][1]] if lines else "")]
    return [_Block(kind, start, end, label, bool(label))]


def _finish(blocks: Sequence[_Block], names: Sequence[str],
            variables: Sequence[tuple[str, int, int]], to_prompt: Sequence[int],
            prompt: str) -> list[Part]:
    """Parts from blocks (offsets into the detected text, mapped by `to_prompt`) and variable
    spans (offsets into `prompt`; `names` in sentinel order): number and label them, carve the
    variables out, and give text that is only whitespace once carved to the part before it."""
    ids: set[str] = set()

    def unique(base: str) -> str:
        cand, n = base, 2
        while cand in ids:
            cand, n = f"{base}-{n}", n + 1
        ids.add(cand)
        return cand

    shown = {chr(_SENTINEL + i): "{" + name + "}" for i, name in enumerate(names)}
    meta: list[tuple[str, str, str]] = []  # (id, kind, label) per owner index
    for name in names:
        meta.append((unique(name), "variable", "{" + name + "}"))
    counts = {"example": 0, "principle": 0}
    for b in blocks:
        hint = _short("".join(shown.get(ch, ch) for ch in b.hint))
        if b.kind in counts:
            counts[b.kind] += 1
            n = counts[b.kind]
            label = f"{b.kind.title()} {n}" + (f": {hint}" if hint else "")
            meta.append((unique(f"{b.kind}-{n}"), b.kind, label))
        elif b.kind == "other":
            # The id names the block's words, not its position, so that it matches between
            # variants of a prompt (Compare); variables are parts of their own.
            words = re.sub(r"\{\w+\}", " ", hint).lower()
            slug = _SLUG.sub("-", words).strip("-")[:32].strip("-") or "text"
            meta.append((unique(f"text-{slug}"), "other", hint or "Text"))
        else:
            meta.append((unique(b.kind), b.kind, hint if b.marked else b.kind.title()))
    owner = [-1] * len(prompt)
    for k, b in enumerate(blocks, start=len(names)):
        for pos in range(to_prompt[b.start], to_prompt[b.end]):
            owner[pos] = k
    for name, s, e in variables:
        owner[s:e] = [names.index(name)] * (e - s)
    solid = {owner[pos] for pos, ch in enumerate(prompt) if not ch.isspace()}
    for pos in range(len(prompt)):
        if owner[pos] not in solid and pos > 0 and owner[pos - 1] in solid:
            owner[pos] = owner[pos - 1]
    for pos in range(len(prompt) - 2, -1, -1):  # whitespace at the very start
        if owner[pos] not in solid and owner[pos + 1] in solid:
            owner[pos] = owner[pos + 1]
    spans: dict[int, list[tuple[int, int]]] = {}
    pos = 0
    while pos < len(prompt):
        end = pos
        while end < len(prompt) and owner[end] == owner[pos]:
            end += 1
        spans.setdefault(owner[pos], []).append((pos, end))
        pos = end
    parts = [Part(id=meta[k][0], kind=meta[k][1], label=meta[k][2], start=sp[0][0],
                  end=sp[-1][1], spans=tuple(sp)) for k, sp in spans.items() if k >= 0]
    return sorted(parts, key=lambda p: p.start)


def detect_parts(prompt: str) -> list[Part]:
    """Parts of a raw prompt (typed, or a row of an uploaded file) by detection alone."""
    if not prompt:
        return []
    blocks = _detect(prompt, 0, len(prompt), first=True, last=True)
    return _finish(blocks, [], [], list(range(len(prompt) + 1)), prompt)


def template_parts(template_text: str, values: Mapping[str, str]) -> tuple[str, list[Part]]:
    """The prompt a template renders to with `values`, and its parts (offsets into it).

    Raises the same InputErrors as `render_template` (a bad template or marker, a missing or
    empty variable); the prompt is exactly `render_template(template_text, values)`.
    """
    prompt = render_template(template_text, values)
    pieces = parse_template(template_text, markers=True)
    names = list(dict.fromkeys(v for kind, v in pieces if kind == "var"))
    skeleton: list[str] = []
    to_prompt: list[int] = []  # skeleton offset -> prompt offset
    variables: list[tuple[str, int, int]] = []
    regions: list[tuple[int, str, str]] = []  # (skeleton offset, marker kind or "", label)
    at = 0
    for kind, value in pieces:
        if kind == "mark":
            marker = parse_marker(value, 0)  # parse_template has checked it
            regions.append((len(skeleton), "" if marker.kind == END else marker.kind,
                            marker.label))
        elif kind == "text":
            skeleton.extend(value)
            to_prompt.extend(range(at, at + len(value)))
            at += len(value)
        else:
            skeleton.append(chr(_SENTINEL + names.index(value)))
            to_prompt.append(at)
            variables.append((value, at, at + len(values[value])))
            at += len(values[value])
    to_prompt.append(at)
    text = "".join(skeleton)
    assert at == len(prompt)
    bounds = [(0, "", "")] + regions
    blocks: list[_Block] = []
    for k, (s, kind, label) in enumerate(bounds):
        e = bounds[k + 1][0] if k + 1 < len(bounds) else len(text)
        if e <= s:
            continue
        if kind:
            blocks.extend(_marked(text, s, e, kind, label))
        else:
            blocks.extend(_detect(text, s, e, first=s == 0, last=e == len(text)))
    return prompt, _finish(blocks, names, variables, to_prompt, prompt)
