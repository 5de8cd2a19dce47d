"""Prompt templates with `{variables}`, and the built-in library of examples.

The syntax looks like Python's `str.format` but is deliberately smaller: only `{name}` with a
plain identifier, and `{{` / `}}` for literal braces. We parse it ourselves because
`str.format` on user text allows attribute and index access (`{a.__class__}`). A line holding
only `{#kind Label}` is a part marker (`lib/part_markers.py`): it names a part of the prompt for
salience by part and is removed, with its line, from the rendered prompt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lib.errors import InputError, LimitError
from lib.input_limits import (
    MAX_VARIABLE_VALUE_CHARS,
    MAX_VARIABLES,
    check_chars,
    check_template_chars,
)
from lib.part_markers import END, marker_error, scan_marker

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD = "template"


@dataclass(frozen=True)
class PromptTemplate:
    """A named prompt with `{variables}`, their defaults and the stop strings that suit it."""

    id: str
    title: str
    text: str
    defaults: tuple[tuple[str, str], ...]
    stop: tuple[str, ...]
    description: str
    # Variables meant to hold a whole document (paste or upload; see lib.documents).
    document_variables: tuple[str, ...] = ()

    def default_values(self) -> dict[str, str]:
        return dict(self.defaults)

    @property
    def variables(self) -> list[str]:
        return template_variables(self.text)

    def render(self, values: Mapping[str, str] | None = None) -> str:
        """Render with `values`, falling back to the defaults for anything not given."""
        merged = self.default_values()
        merged.update(values or {})
        return render_template(self.text, merged)


def _snippet(text: str, start: int, end: int) -> str:
    piece = text[start:end]
    return piece if len(piece) <= 40 else piece[:37] + "..."


def _field_error(text: str, start: int, end: int, content: str) -> InputError:
    """Say precisely why `{content}` (at text[start:end]) is not a plain variable."""
    piece = _snippet(text, start, end)
    where = f"The template's {piece!r} at character {start + 1}"
    literal = "write {{ and }} for literal braces"
    if content == "":
        why = "is a positional field; give the variable a name such as {topic}, or " + literal
    elif content.isdigit():
        why = "is a positional field; use a named variable such as {topic} instead"
    elif "!" in content:
        why = "uses a conversion (!r, !s); only plain names like {topic} are allowed"
    elif ":" in content:
        why = "uses a format spec (after ':'); only plain names like {topic} are allowed"
    elif "." in content or "[" in content:
        why = "uses attribute or index access; only plain names like {topic} are allowed"
    else:
        why = (
            "is not a plain variable name; use letters, digits and _ only "
            "(not starting with a digit, no spaces), e.g. {topic}, or " + literal
        )
    return InputError(f"{where} {why}.", field=_FIELD)


def parse_template(text: str, markers: bool = False) -> list[tuple[str, str]]:
    """Split a template into parts: `("text", literal)` and `("var", name)`; with `markers`,
    also `("mark", content)` for each part-marker line (always checked, and never rendered).

    Raises InputError(field="template") naming the offending piece and its character
    position (counted from 1), or its line for a part marker.
    """
    if not isinstance(text, str):
        raise InputError("The template must be text.", field=_FIELD)
    check_template_chars(text)  # before the scan: a pasted megabyte is refused at once
    parts: list[tuple[str, str]] = []
    literal: list[str] = []
    opened: tuple[int, str] | None = None  # (line, piece) of the open marker
    marked_text = False  # anything but whitespace since that marker
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "{":
            if i + 1 < n and text[i + 1] == "{":
                literal.append("{")
                i += 2
                continue
            if i + 1 < n and text[i + 1] == "#":
                marker, line, after = scan_marker(text, i)
                if opened is not None and not (marked_text or "".join(literal).strip()):
                    raise marker_error(opened[0], opened[1], "marks no text: put the part's "
                                       "text on the lines after it, or remove the marker")
                if marker.kind == END and opened is None:
                    raise marker_error(line, "{#end}", "closes no part (no marker before it "
                                       "is open); remove it")
                if literal:
                    parts.append(("text", "".join(literal)))
                    literal = []
                if markers:
                    parts.append(("mark", text[i + 2:text.index("}", i)]))
                opened = None if marker.kind == END else (line, text[i:text.index("}", i) + 1])
                marked_text = False
                i = after
                continue
            close = text.find("}", i + 1)
            nested = text.find("{", i + 1)
            if nested != -1 and (close == -1 or nested < close):
                raise InputError(
                    f"The template has an opening brace '{{' at character {i + 1} "
                    f"(near {_snippet(text, i, i + 20)!r}) followed by another '{{' at character "
                    f"{nested + 1} before any closing '}}'. Variables cannot be nested: write "
                    "{topic}, or {{ for a literal brace.",
                    field=_FIELD,
                )
            if close == -1:
                raise InputError(
                    f"The template has an opening brace '{{' at character {i + 1} "
                    f"(near {_snippet(text, i, i + 20)!r}) with no closing '}}'. Close it, "
                    "as in {topic}, or write {{ for a literal brace.",
                    field=_FIELD,
                )
            content = text[i + 1 : close]
            if not _NAME.fullmatch(content):
                raise _field_error(text, i, close + 1, content)
            if literal:
                parts.append(("text", "".join(literal)))
                literal = []
            parts.append(("var", content))
            marked_text = True
            i = close + 1
        elif ch == "}":
            if i + 1 < n and text[i + 1] == "}":
                literal.append("}")
                i += 2
                continue
            raise InputError(
                f"The template has a closing brace '}}' at character {i + 1} "
                f"(near {_snippet(text, max(0, i - 19), i + 1)!r}) with no opening '{{'. "
                "Remove it, or write }} for a literal brace.",
                field=_FIELD,
            )
        else:
            literal.append(ch)
            i += 1
    if opened is not None and not (marked_text or "".join(literal).strip()):
        raise marker_error(opened[0], opened[1], "marks no text: put the part's text on the "
                           "lines after it, or remove the marker")
    if literal:
        parts.append(("text", "".join(literal)))
    return parts


def template_variables(text: str) -> list[str]:
    """The variable names in `text`, in order of first appearance (each once)."""
    seen: dict[str, None] = {}
    for kind, value in parse_template(text):
        if kind == "var":
            seen.setdefault(value, None)
    return list(seen)


def render_template(text: str, values: Mapping[str, str]) -> str:
    """Fill in every `{name}`; values are inserted verbatim (never re-parsed).

    Raises InputError(field="template") for a bad template and InputError(field=<name>)
    for a variable that is missing or empty.
    """
    out: list[str] = []
    parts = parse_template(text)
    used = {value for kind, value in parts if kind == "var"}
    if len(used) > MAX_VARIABLES:
        raise LimitError(
            f"The template has {len(used)} variables; the limit is {MAX_VARIABLES}. Use fewer "
            "variables (write fixed text into the template instead).",
            field=_FIELD,
        )
    for kind, value in parts:
        if kind == "text":
            out.append(value)
            continue
        filled = values.get(value)
        if filled is None or (isinstance(filled, str) and not filled.strip()):
            raise InputError(
                f"The variable {{{value}}} is empty. Type a value for {value!r}, "
                "or remove it from the template.",
                field=value,
            )
        if not isinstance(filled, str):
            raise InputError(f"The variable {{{value}}} must be text.", field=value)
        check_chars(filled, field=value, limit=MAX_VARIABLE_VALUE_CHARS,
                    label=f"The variable {{{value}}}", what="Shorten its value")
        out.append(filled)
    return "".join(out)


def is_document_variable(name: str, declared: Sequence[str] = ()) -> bool:
    """True for a variable that takes a document: declared by its template, or named
    `document` / `*_document` (so the convention also works in templates people type)."""
    return name in declared or name == "document" or name.endswith("_document")


def document_variables(text: str, declared: Sequence[str] = ()) -> list[str]:
    """The variables of `text` that take a document, in order (see `is_document_variable`)."""
    return [n for n in template_variables(text) if is_document_variable(n, declared)]


# --- Sample documents -----------------------------------------------------------------------

ASSETS_DIR = Path(__file__).resolve().parent / "templates_assets"
# The Apache License 2.0, verbatim (https://www.apache.org/licenses/LICENSE-2.0.txt, md5
# 3b83ef96387f14655fc854ddc3c6bd57): a real, freely redistributable legal text of ~2,700 tokens.
APACHE_LICENSE_FILE = ASSETS_DIR / "apache-2.0.txt"


def sample_document(filename: str = "apache-2.0.txt") -> str:
    """The text of a bundled sample document (UTF-8, read from lib/templates_assets/)."""
    return (ASSETS_DIR / filename).read_text("utf-8")


# --- The built-in library -------------------------------------------------------------------

# LIT's prompt-debugging story (the menu-item few-shot prompt): three variants that differ
# only in the first example's recommendation and in the two principles.
_MENU_HEAD = "Analyze a menu item in a restaurant.\n\n"
_MENU_PRINCIPLES = (
    "* The analysis should be brief and to the point.\n"
    "* The analysis and recommendation should both be clear about the suitability for someone "
    "with a specified dietary restriction.\n\n"
)
_MENU_EXAMPLES = (
    "## For example:\n\n"
    "Taste-likes: I've a sweet-tooth\n"
    "Taste-dislikes: Don't like onions or garlic\n"
    "Suggestion: Onion soup\n"
    "Analysis: it has cooked onions in it, which you don't like.\n"
    "Recommendation: {first_recommendation}\n\n"
    "Taste-likes: I've a sweet-tooth\n"
    "Taste-dislikes: Don't like onions or garlic\n"
    "Suggestion: Baguette maison au levain\n"
    "Analysis: Home-made leaven bread in france is usually great\n"
    "Recommendation: Likely good.\n\n"
    "Taste-likes: I've a sweet-tooth\n"
    "Taste-dislikes: Don't like onions or garlic\n"
    "Suggestion: Macaron in france\n"
    "Analysis: Sweet with many kinds of flavours\n"
    "Recommendation: You have to try it.\n\n"
    "## Now analyze one more example:\n\n"
    "Taste-likes: {food_likes}\n"
    "Taste-dislikes: {food_dislikes}\n"
    "Suggestion: {menu_item}\n"
    "Analysis:"
)
_MENU_DEFAULTS = (
    ("food_likes", "Cheese"),
    ("food_dislikes", "Can't eat eggs"),
    ("menu_item", "Quiche Lorraine"),
)
_BLANK_LINE = ("\n\n",)


def _menu(first_recommendation: str, principles: bool) -> str:
    # Built with str.replace on our own constant (not user text), so {variables} stay intact.
    body = _MENU_EXAMPLES.replace("{first_recommendation}", first_recommendation)
    return _MENU_HEAD + (_MENU_PRINCIPLES if principles else "") + body


_SHORT_TEMPLATES: tuple[PromptTemplate, ...] = (
    PromptTemplate(
        id="fewshot-mistake",
        title="Menu item: few-shot with a mistake",
        text=_menu("You have to try it.", principles=False),
        defaults=_MENU_DEFAULTS,
        stop=_BLANK_LINE,
        description=(
            "The first example recommends onion soup to someone who dislikes onions "
            '("You have to try it."). Watch the model copy that mistake.'
        ),
    ),
    PromptTemplate(
        id="fewshot-fixed",
        title="Menu item: few-shot, fixed",
        text=_menu("Avoid.", principles=False),
        defaults=_MENU_DEFAULTS,
        stop=_BLANK_LINE,
        description='The same prompt with the first example corrected to "Avoid."',
    ),
    PromptTemplate(
        id="fewshot-constitution",
        title="Menu item: fixed, with principles",
        text=_menu("Avoid.", principles=True),
        defaults=_MENU_DEFAULTS,
        stop=_BLANK_LINE,
        description=(
            "The fixed prompt plus two principles about brevity and dietary restrictions."
        ),
    ),
    PromptTemplate(
        id="summary",
        title="Summary of a text",
        # {#input}: detection alone would call "Text: {text}" and "Summary:" two unnamed blocks.
        text=("Summarize the following text in one or two sentences.\n\n"
              "{#input}\nText: {text}\n\nSummary:"),
        defaults=(
            (
                "text",
                "The city council voted on Tuesday to extend the opening hours of all public "
                "libraries until 9 pm on weekdays. The change starts next month and is paid for "
                "by a one-year grant. Council members said they would review visitor numbers "
                "before deciding whether to keep the longer hours.",
            ),
        ),
        stop=_BLANK_LINE,
        description="A one-variable summary prompt: paste any text into {text}.",
    ),
    PromptTemplate(
        id="brainstorm-principles",
        title="Brainstorm with principles",
        text=(
            "Brainstorm three ways to use the following item.\n\n"
            "* Each idea should be safe for {audience}.\n"
            "* Each idea should be one short sentence.\n"
            "* At least one idea should be unusual.\n\n"
            "{#input}\nItem: {item}\n\n"
            "Ideas:\n1."
        ),
        defaults=(("audience", "children"), ("item", "an empty cardboard box")),
        stop=_BLANK_LINE,
        description="A list prompt steered by principles; see which principle drives each idea.",
    ),
    PromptTemplate(
        id="word-problem-steps",
        title="Word problem, step by step",
        text=(
            "Solve the problem step by step. Write one step per line and finish with a line "
            '"Answer: <number>".\n\n'
            "{#input}\nProblem: {problem}\n\n"
            "Steps:\n1."
        ),
        defaults=(
            (
                "problem",
                "A bakery sells 24 rolls every morning and twice as many in the afternoon. "
                "Each roll costs $2. How much money does the bakery take in from rolls in one "
                "day?",
            ),
        ),
        stop=_BLANK_LINE,
        description="Arithmetic reasoning in numbered steps; check which numbers each step uses.",
    ),
)

# The whole-document templates live in their own module (they import PromptTemplate from here).
from lib.document_templates import DOCUMENT_TEMPLATES  # noqa: E402

BUILTIN_TEMPLATES: tuple[PromptTemplate, ...] = _SHORT_TEMPLATES + DOCUMENT_TEMPLATES

_BY_ID = {t.id: t for t in BUILTIN_TEMPLATES}


def get_template(template_id: str) -> PromptTemplate:
    """The built-in template with this id; InputError(field="template") if there is none."""
    found = _BY_ID.get(template_id) if isinstance(template_id, str) else None
    if found is None:
        choices = ", ".join(_BY_ID)
        raise InputError(
            f"There is no built-in template called {str(template_id)[:60]!r}. "
            f"Choose one of: {choices}.",
            field=_FIELD,
        )
    return found
