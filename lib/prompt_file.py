"""Read a user's `.jsonl` prompt file: one `{"prompt", "target"?, "source"?}` object a line."""

from __future__ import annotations

import json
from dataclasses import dataclass

from lib.errors import InputError, LimitError

_FIELD = "file"
DEFAULT_MAX_BYTES = 5_000_000  # matches server.maxUploadSize (MB) in .streamlit/config.toml


@dataclass(frozen=True)
class PromptRow:
    """One row; `line` is its 1-based line number in the file."""

    line: int
    prompt: str
    target: str
    source: str

    def label(self, width: int = 60) -> str:
        """One line for a picker: line number, source and the prompt's start, with invisible
        characters as visible markers (the file is untrusted: its `source` too)."""
        from lib.text_safety import safe_plain

        source = safe_plain(self.source[:width]) if self.source else "row"
        return f"line {self.line}: {source} · {safe_plain(self.prompt[:width])!r}"


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    return "object"


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        raise InputError(
            f"The file is not UTF-8 text: line {line}, byte {exc.start - line_start + 1} of that "
            f"line (byte {exc.start} of the file) is 0x{data[exc.start]:02x}. Save the file as "
            "UTF-8 and upload it again.",
            field=_FIELD,
        ) from None
    return text.removeprefix("\ufeff")  # a byte-order mark some editors write


def parse_prompt_file(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_rows: int = 10_000
) -> list[PromptRow]:
    """Parse and validate the whole file; InputError (field "file") naming the line otherwise."""
    if len(data) > max_bytes:
        raise LimitError(
            f"The file is {len(data):,} bytes; the upload limit is {max_bytes:,} bytes. "
            "Split it into smaller files.",
            field=_FIELD,
        )
    text = _decode(bytes(data))
    rows: list[PromptRow] = []
    # Split on "\n" only: JSON strings may legally hold U+2028 and other line separators.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if len(rows) >= max_rows:
            raise LimitError(
                f"The file has more than {max_rows:,} rows (line {number} is one too many). "
                "Split it into smaller files.",
                field=_FIELD,
            )
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"Line {number} is not valid JSON ({exc.msg} at column {exc.colno}). Each line "
                'must be one object such as {"prompt": "...", "target": "..."}.',
                field=_FIELD,
            ) from None
        except RecursionError:
            raise InputError(
                f"Line {number} is nested too deeply to read. Each line must be one flat object "
                'such as {"prompt": "..."}.',
                field=_FIELD,
            ) from None
        if not isinstance(obj, dict):
            raise InputError(
                f"Line {number} is a JSON {_json_kind(obj)}, not an object. "
                'Each line must look like {"prompt": "...", "target": "..."}.',
                field=_FIELD,
            )
        if "prompt" not in obj:
            raise InputError(
                f'Line {number} has no "prompt" field. Add one, e.g. {{"prompt": "..."}}.',
                field=_FIELD,
            )
        values: dict[str, str] = {}
        for key in ("prompt", "target", "source"):
            value = obj.get(key, "")
            if not isinstance(value, str):
                kind = _json_kind(value)
                raise InputError(
                    f'Line {number}: the "{key}" field must be a string, not {kind}. '
                    "Put the text in double quotes.",
                    field=_FIELD,
                )
            bad = next((i for i, ch in enumerate(value) if 0xD800 <= ord(ch) <= 0xDFFF), None)
            if bad is not None:
                # JSON allows "\ud800" alone, but it is half a character: no tokenizer,
                # database or browser can carry it, so refuse it here with its position.
                raise InputError(
                    f'Line {number}: the "{key}" field holds an invalid escape '
                    f"\\u{ord(value[bad]):04x} at character {bad + 1} (half of a surrogate "
                    "pair, not a character). Remove it or write the whole character.",
                    field=_FIELD,
                )
            values[key] = value
        if not values["prompt"].strip():
            raise InputError(
                f'Line {number} has an empty "prompt". Write the prompt text, or delete the line.',
                field=_FIELD,
            )
        rows.append(PromptRow(line=number, **values))
    if not rows:
        raise InputError(
            'The file has no rows. Upload a .jsonl file with one {"prompt": "..."} object a line.',
            field=_FIELD,
        )
    return rows
