"""Character limits for every text a user types, checked before any tokenising.

The token limits (the model's prompt and salience windows) are checked after tokenising; these
come first and are coarse on purpose: they bound the work that tokenising, rendering and
storing a text can cost, so a pasted megabyte is refused at once with a clear message. The UI
sets each widget's `max_chars` from the same constants, so the widget and the server agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lib.errors import InputError, LimitError

# A whole document of the models' 8,192-token window is about 35,000-45,000 characters of
# English prose (the GPL-3.0 text: 35,149 characters, 7,562 tokens); these leave room for
# denser text, and the token limit then decides.
MAX_PROMPT_CHARS = 100_000
MAX_TARGET_CHARS = 16_000
MAX_TEMPLATE_CHARS = 32_000
MAX_VARIABLES = 32
MAX_VARIABLE_NAME_CHARS = 64
MAX_VARIABLE_VALUE_CHARS = 100_000  # a document variable holds a whole document
MAX_STOP_STRINGS = 8
MAX_STOP_CHARS = 64
# The whole stop field as typed (several texts joined by '|', escapes such as \n).
MAX_STOP_FIELD_CHARS = MAX_STOP_STRINGS * (2 * MAX_STOP_CHARS + 1)

_LABELS = {
    "prompt": "The prompt",
    "target": "The target text",
    "template": "The template",
    "stop": "The stop field",
}


def _text(value: object, field: str, label: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{label} must be text, not {type(value).__name__}.", field=field)
    return value


def check_chars(value: object, *, field: str, limit: int, label: str | None = None,
                what: str = "Shorten it") -> str:
    """Return `value` if it is text of at most `limit` characters, else raise LimitError."""
    label = label or _LABELS.get(field, f"The {field}")
    text = _text(value, field, label)
    if len(text) > limit:
        raise LimitError(
            f"{label} is {len(text):,} characters long; the limit is {limit:,}. {what}.",
            field=field,
        )
    return text


def check_prompt_chars(prompt: object) -> str:
    return check_chars(prompt, field="prompt", limit=MAX_PROMPT_CHARS,
                       what="Shorten the prompt (or split the document into parts)")


def check_target_chars(target: object) -> str:
    return check_chars(target, field="target", limit=MAX_TARGET_CHARS,
                       what="Shorten the target text")


def check_template_chars(template: object) -> str:
    return check_chars(template, field="template", limit=MAX_TEMPLATE_CHARS,
                       what="Shorten the template")


def check_variables(values: object) -> dict[str, str]:
    """The template's variables: at most MAX_VARIABLES, short names, bounded values."""
    if not isinstance(values, Mapping):
        raise InputError("The template's variables must be names with text values.",
                         field="variables")
    if len(values) > MAX_VARIABLES:
        raise LimitError(
            f"The template has {len(values)} variables; the limit is {MAX_VARIABLES}. "
            "Use fewer variables (write fixed text into the template instead).",
            field="variables",
        )
    out: dict[str, str] = {}
    for name, value in values.items():
        label_name = str(name)[:MAX_VARIABLE_NAME_CHARS]
        check_chars(name, field="variables", limit=MAX_VARIABLE_NAME_CHARS,
                    label=f"The variable name {label_name!r}", what="Use a shorter name")
        out[name] = check_chars(value, field=name, limit=MAX_VARIABLE_VALUE_CHARS,
                                label=f"The variable {{{name}}}",
                                what="Shorten its value")
    return out


def check_stop_field(text: object) -> str:
    """The stop field as typed, before it is split into stop texts."""
    return check_chars(text, field="stop", limit=MAX_STOP_FIELD_CHARS,
                       what=f"Use at most {MAX_STOP_STRINGS} stop texts of at most "
                            f"{MAX_STOP_CHARS} characters each")


def check_stop_strings(stops: object) -> tuple[str, ...]:
    """The stop texts: at most MAX_STOP_STRINGS, each at most MAX_STOP_CHARS characters."""
    if isinstance(stops, str) or not isinstance(stops, Sequence):
        raise InputError("The stop texts must be a list of texts.", field="stop")
    if len(stops) > MAX_STOP_STRINGS:
        raise LimitError(
            f"There are {len(stops)} stop texts; the limit is {MAX_STOP_STRINGS}. "
            "Remove some (separate them with |).",
            field="stop",
        )
    for n, stop in enumerate(stops, start=1):
        check_chars(stop, field="stop", limit=MAX_STOP_CHARS, label=f"Stop text {n}",
                    what="Use a shorter stop text")
    return tuple(stops)
