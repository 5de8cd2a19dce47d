"""Command line for salience by part: `salience --by-part`, `--template-file F --var NAME=VALUE`.

`--by-part` adds `parts` to the salience JSON: one row per part of the prompt with `id`, `kind`,
`label`, `start`/`end` (character offsets into `input_text`, like the tokens'), `score` (the sum
of its tokens' scores), `share` (|score| over the sum of every part's |score|), and for signed
methods `positive` and `negative`; also `spans` and `token_indices`. The parts' scores add up to
the prompt tokens' scores. With `--template-file` the parts follow the template's structure
(variables, markers); otherwise they are detected in the prompt (`lib/parts.py`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lib.errors import InputError
from lib.part_scores import part_scores, parts_in_sequence
from lib.parts import Part, detect_parts, template_parts
from lib.records import TokenSequence
from lib.templates import template_variables


def add_part_options(parser: argparse.ArgumentParser, prompt_group: Any) -> None:
    """`--template-file` joins the prompt options' exclusive group; `--var`, `--by-part`."""
    prompt_group.add_argument(
        "--template-file",
        help="file holding a template ({name} variables, {#kind Label} part markers), UTF-8")
    parser.add_argument("--var", action="append", metavar="NAME=VALUE",
                        help="a template variable's value (repeatable; with --template-file)")
    parser.add_argument("--by-part", action="store_true",
                        help="add each prompt part's score and share ('parts' in the JSON)")


def _values(pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise InputError(f"--var {pair[:60]!r} must be NAME=VALUE, e.g. --var "
                             "menu_item='Quiche Lorraine'.", field="var")
        if name in values:
            raise InputError(f"--var {name} is given twice; give each variable once.",
                             field="var")
        values[name] = value  # verbatim, like --prompt
    return values


def template_prompt(args: argparse.Namespace) -> tuple[str, list[Part]] | None:
    """The prompt and its parts from `--template-file` and `--var`; None without a template."""
    if getattr(args, "template_file", None) is None:
        if getattr(args, "var", None):
            raise InputError("--var needs --template-file (the template whose variables it "
                             "fills).", field="var")
        return None
    path = Path(args.template_file)
    where = f"--template-file {str(path)!r}"
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise InputError(f"{where}: cannot be read ({err.strerror}).",
                         field="template_file") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{where}: not UTF-8 text (byte {err.start}); save it as UTF-8.",
                         field="template_file") from None
    values = _values(args.var or [])
    try:
        names = template_variables(text)
        unknown = [n for n in values if n not in names]
        if unknown:
            have = ", ".join(names) if names else "none"
            raise InputError(f"--var {unknown[0]}: the template has no variable "
                             f"{{{unknown[0]}}} (its variables: {have}).", field="var")
        missing = [n for n in names if n not in values]
        if missing:
            raise InputError(f"the template's variable {{{missing[0]}}} has no value; give "
                             f"--var {missing[0]}=VALUE.", field=missing[0])
        return template_parts(text, values)
    except InputError as err:
        raise InputError(f"{where}: {err}", field=err.field) from None


def parts_json(seq: TokenSequence, prompt: str, parts: Sequence[Part] | None,
               token_scores: Sequence[float], signed: bool) -> list[dict[str, Any]]:
    """The `parts` rows of the salience JSON (see the module's docstring)."""
    prompt_parts = list(parts) if parts is not None else detect_parts(prompt)
    mapped = parts_in_sequence(prompt_parts, seq, prompt)
    rows = []
    for s in part_scores(mapped, token_scores, signed):
        p = s.part
        row: dict[str, Any] = {"id": p.id, "kind": p.kind, "label": p.label, "start": p.start,
                               "end": p.end, "score": s.score, "share": s.share}
        if signed:
            row["positive"], row["negative"] = s.positive, s.negative
        row["spans"] = [list(span) for span in p.spans]
        row["token_indices"] = list(p.token_indices)
        rows.append(row)
    return rows
