"""Parsing users' .jsonl prompt files, and the specific errors for bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib.errors import InputError, LimitError
from lib.prompt_file import PromptRow, parse_prompt_file

LIT_FILE = Path(__file__).resolve().parent / "fixtures" / "peers" / "lit_prompt_examples.jsonl"


def test_lit_sample_file_parses_to_12_rows():
    data = LIT_FILE.read_bytes()
    rows = parse_prompt_file(data)
    assert len(rows) == 12
    expected = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    for row, exp in zip(rows, expected, strict=True):
        assert row.prompt == exp["prompt"]
        assert row.target == exp.get("target", "")
        assert row.source == exp.get("source", "")
    assert rows[0].source == "fewshot-mistake" and rows[0].line == 1


def test_optional_fields_blank_lines_bom_and_crlf():
    data = (
        '\ufeff{"prompt": "a"}\r\n'
        "\n"
        '   \n'
        '{"prompt": "b\\u2028c", "target": "t", "source": "s", "extra": 1}\r\n'
    ).encode("utf-8")
    assert parse_prompt_file(data) == [
        PromptRow(line=1, prompt="a", target="", source=""),
        PromptRow(line=4, prompt="b\u2028c", target="t", source="s"),
    ]


def test_raw_line_separator_inside_string_is_not_a_line_break():
    data = '{"prompt": "x\u2028y"}\n'.encode()
    assert parse_prompt_file(data)[0].prompt == "x\u2028y"


def error(data: bytes, **kwargs) -> InputError:
    with pytest.raises(InputError) as err:
        parse_prompt_file(data, **kwargs)
    assert err.value.field == "file"
    return err.value


def test_not_utf8_names_line_and_byte():
    data = b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n'
    msg = str(error(data))
    assert "not UTF-8" in msg and "line 2" in msg and "byte 16 of that line" in msg
    assert "0xe9" in msg


def test_invalid_json_names_line():
    msg = str(error(b'{"prompt": "ok"}\n\n{"prompt": oops}\n'))
    assert msg.startswith("Line 3 is not valid JSON") and "column" in msg


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('["prompt"]', "JSON array, not an object"),
        ('"just text"', "JSON string, not an object"),
        ("42", "JSON number, not an object"),
        ('{"target": "x"}', 'no "prompt" field'),
        ('{"prompt": 5}', '"prompt" field must be a string, not number'),
        ('{"prompt": "p", "target": null}', '"target" field must be a string, not null'),
        ('{"prompt": "p", "source": ["a"]}', '"source" field must be a string, not array'),
        ('{"prompt": "   "}', 'empty "prompt"'),
    ],
)
def test_row_errors_name_line(line, words):
    msg = str(error(('{"prompt": "fine"}\n' + line + "\n").encode()))
    assert msg.startswith("Line 2") and words in msg


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", "\ufeff".encode()])
def test_empty_file(data):
    assert "no rows" in str(error(data))


def test_too_big_and_too_many_rows():
    with pytest.raises(LimitError) as err:
        parse_prompt_file(b'{"prompt": "x"}\n' * 10, max_bytes=100)
    assert "upload limit" in str(err.value) and "100" in str(err.value)
    with pytest.raises(LimitError) as err:
        parse_prompt_file(b'{"prompt": "x"}\n' * 4, max_rows=3)
    assert "line 4" in str(err.value)
    assert len(parse_prompt_file(b'{"prompt": "x"}\n' * 3, max_rows=3)) == 3


def test_deeply_nested_json_is_a_clean_error():
    msg = str(error(b"[" * 100_000 + b"]" * 100_000))
    assert msg.startswith("Line 1")


def test_hostile_text_kept_exactly():
    prompt = '<script>alert(1)</script> \u202e\u200b NUL:\x00 {a.b}'
    rows = parse_prompt_file(json.dumps({"prompt": prompt}).encode())
    assert rows[0].prompt == prompt


@pytest.mark.parametrize("field", ["prompt", "target", "source"])
def test_lone_surrogate_escape_is_refused_with_line_field_and_position(field):
    # json.loads accepts "\ud800" alone, but the tokenizer cannot encode it (it used to crash
    # generation with a RuntimeError from SentencePiece).
    row = {"prompt": "ok", field: "ab\\ud83d!"}
    line = "{" + ", ".join(f'"{k}": "{v}"' for k, v in row.items()) + "}"
    msg = str(error(('{"prompt": "fine"}\n' + line + "\n").encode()))
    assert msg.startswith("Line 2") and f'"{field}"' in msg
    assert "\\ud83d" in msg and "character 3" in msg


def test_surrogate_pair_escape_is_one_character_and_kept():
    rows = parse_prompt_file(b'{"prompt": "smile \\ud83d\\ude00"}')
    assert rows[0].prompt == "smile \U0001f600"


def test_row_label_marks_invisible_characters_in_source_and_prompt():
    from tests.hostile_corpus import SELECTORS_AND_BLANKS

    data = (b'{"prompt": "hi\\u202e there", "source": "evil\\u2066\\ufe0f\\u2800name"}\n')
    (row,) = parse_prompt_file(data)
    label = row.label()
    assert "\u202e" not in label and "\u2066" not in label
    assert all(ch not in label for ch in SELECTORS_AND_BLANKS)
    assert "evil⟨U+2066⟩⟨U+FE0F⟩⟨U+2800⟩name" in label and "⟨U+202E⟩" in label
    assert label.startswith("line 1: ")
    (plain,) = parse_prompt_file(b'{"prompt": "p"}\n')
    assert plain.label() == "line 1: row · 'p'"
