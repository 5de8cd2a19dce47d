"""Part markers: lines in a template that name the parts of the prompt it makes.

A marker is a line of its own of the form `{#KIND}` or `{#KIND Label text}`. It starts a part
of that kind which runs up to the next marker line (or `{#end}`, or the end of the template);
text after `{#end}` goes back to automatic detection (`lib/parts.py`). The marker line, its
newline included, is removed from the rendered prompt, so adding markers never changes what
the model sees. Kinds:

- `{#instruction}`, `{#input}`, `{#other Label}`: the marked text is one part;
- `{#example Label}`: one few-shot example ("Example N: Label");
- `{#principle Label}`: one principle; `{#principles}`: a rules block whose bullet or numbered
  items each become a principle;
- `{#end}`: closes the open part (no label).

Variables inside a marked part stay parts of their own (named by the variable); the marked part
keeps the text around them.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.errors import InputError

MARKER_KINDS: tuple[str, ...] = (
    "instruction", "principles", "principle", "example", "input", "other",
)
END = "end"
_FIELD = "template"


@dataclass(frozen=True)
class PartMarker:
    """A parsed marker: its kind (one of MARKER_KINDS, or "end") and its label ("" if none)."""

    kind: str
    label: str


def marker_error(line: int, piece: str, why: str) -> InputError:
    shown = piece if len(piece) <= 40 else piece[:37] + "..."
    return InputError(f"The template's part marker {shown!r} on line {line} {why}.",
                      field=_FIELD)


def parse_marker(content: str, line: int) -> PartMarker:
    """`content` is what stands between `{#` and `}`; `line` counts from 1 (for the error)."""
    piece = "{#" + content + "}"
    kind, _, label = content.strip().partition(" ")
    label = " ".join(label.split())
    if not kind:
        raise marker_error(line, piece, "names no kind; write e.g. {#example Onion soup}, or "
                           "{{# for a literal brace")
    if kind == END:
        if label:
            raise marker_error(line, piece, "takes no label; write {#end}")
        return PartMarker(END, "")
    if kind not in MARKER_KINDS:
        raise marker_error(line, piece, f"has an unknown kind {kind[:30]!r}; use one of: "
                           f"{', '.join(MARKER_KINDS)}, end")
    return PartMarker(kind, label)


def scan_marker(text: str, start: int) -> tuple[PartMarker, int, int]:
    """The marker whose `{#` is at text[start]: (marker, its line, the index past its line).

    A marker must stand alone on its line (trailing spaces allowed), so removing the line
    removes exactly the marker.
    """
    line = text.count("\n", 0, start) + 1
    eol = text.find("\n", start)
    eol = len(text) if eol == -1 else eol
    close = text.find("}", start, eol)
    if close == -1:
        raise marker_error(line, text[start:eol], "has no closing '}' on its line; write "
                           "{#example Onion soup}, or {{# for a literal brace")
    piece = text[start:close + 1]
    if "{" in text[start + 2:close]:
        raise marker_error(line, text[start:eol].rstrip(), "holds a '{'; variables cannot be "
                           "used in a marker")
    if (start > 0 and text[start - 1] != "\n") or text[close + 1:eol].strip(" \t\r"):
        raise marker_error(line, piece, "must stand alone on its line (it is removed from the "
                           "prompt with its line); move it to a line of its own, or write {{# "
                           "for a literal brace")
    return parse_marker(text[start + 2:close], line), line, min(eol + 1, len(text))
