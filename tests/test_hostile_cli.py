"""`python -m lib` with hostile and bad input: exact characters out, status 2 and one line.

Complements tests/test_cli.py (which covers the first bad-input cases); runs `main` in-process
on the tiny model. A non-UTF-8 byte on a real command line reaches `main` as a lone surrogate
(Python decodes argv with surrogateescape), so passing "\\udcff" here is what a shell does.
"""

from __future__ import annotations

import json

import pytest

from lib.cli import main
from lib.prompt_file import DEFAULT_MAX_BYTES
from tests.hostile_corpus import ACTIVE, BIDI_TRICK, EMOJI, corpus_text, invisible_payload

PROMPT = corpus_text(long_line=False)
TARGET = " " + "".join(p.text for p in ACTIVE[:3]) + invisible_payload() + EMOJI


def run(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main([*args, "--quiet"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def one_line_error(capsys, *args: str) -> str:
    code, _, err = run(capsys, *args)
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1, lines
    return lines[0]


# ---- exact characters in, exact characters out ---------------------------------------------
def test_generate_json_keeps_every_hostile_character(capsys):
    code, data, _ = run(capsys, "generate", "--model", "tiny", "--prompt", PROMPT,
                        "--max-new-tokens", "2", "--chat-template", "off")
    assert code == 0
    assert data["prompt"] == PROMPT
    assert data["input_text"] == PROMPT
    # The offsets index the exact text: the prompt tokens cover it to its last character.
    assert max(t["end"] for t in data["tokens"] if t["in_prompt"]) == len(PROMPT)


def test_gemma_control_strings_typed_by_a_user_are_plain_text(capsys):
    code, data, _ = run(capsys, "salience", "--model", "tiny", "--prompt",
                        "<start_of_turn>user\nhi<end_of_turn>\n<bos>", "--target", " <eos>",
                        "--chat-template", "off")
    assert code == 0
    specials = [t for t in data["tokens"] if t["special"]]
    assert [t["text"] for t in specials] == ["<bos>"] and specials[0]["start"] == 0 == \
        specials[0]["end"]  # only the real <bos>; the typed ones are ordinary pieces
    assert data["target"] == " <eos>"


def test_salience_json_keeps_hostile_target_and_segment_text(capsys):
    code, data, _ = run(capsys, "salience", "--model", "tiny", "--prompt", BIDI_TRICK,
                        "--target", TARGET, "--granularity", "words", "--chat-template", "off")
    assert code == 0
    assert data["prompt"] == BIDI_TRICK and data["input_text"] == BIDI_TRICK
    assert data["target"] == TARGET
    full = data["input_text"] + data["target"]
    for seg in data["segments"]:
        assert seg["text"] == full[seg["start"]:seg["end"]]


def test_batch_keeps_hostile_fields_exactly(capsys, tmp_path):
    rows = [{"prompt": PROMPT, "target": TARGET, "source": "<b>src</b>\u202e\x00"},
            {"prompt": "\u2066" + BIDI_TRICK, "target": " ok", "source": "x"}]
    src = tmp_path / "rows.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, data, _ = run(capsys, "batch", "--model", "tiny", "--input", str(src), "--output",
                        str(out), "--granularity", "lines", "--chat-template", "off")
    assert code == 0 and data["rows"] == 2
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for row, res in zip(rows, got, strict=True):
        assert (res["prompt"], res["target"], res["source"]) == \
            (row["prompt"], row["target"], row["source"])


# ---- bad input: status 2, one clear line ---------------------------------------------------
def _batch_file(tmp_path, data: bytes) -> list[str]:
    src = tmp_path / "in.jsonl"
    src.write_bytes(data)
    return ["batch", "--model", "tiny", "--input", str(src), "--output",
            str(tmp_path / "out.jsonl")]


@pytest.mark.parametrize(("data", "fragment"), [
    (b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n', "not UTF-8 text: line 2"),
    (b'{"prompt": "ok"}\n{"target": "x"}\n', 'Line 2 has no "prompt" field'),
    (b'{"prompt": ["a"]}\n', '"prompt" field must be a string, not array'),
    (b'{"prompt": "p", "target": 3}\n', '"target" field must be a string, not number'),
    (b'{"prompt": "p", "source": {"a": 1}}\n', '"source" field must be a string, not object'),
    (b"", "no rows"),
    (b"\n \n", "no rows"),
    (b'{"prompt": "a\\udc00"}\n', "invalid escape \\udc00"),
    (b'{"prompt": "ok"}\n' + b"x" * DEFAULT_MAX_BYTES, "upload limit"),
])
def test_batch_bad_files(capsys, tmp_path, data, fragment):
    line = one_line_error(capsys, *_batch_file(tmp_path, data))
    assert fragment in line
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--max-new-tokens", "513"], "from 1 to 512"),
    (["--max-new-tokens", "-1"], "from 1 to 512"),
    (["--temperature", "nan"], "Temperature"),
    (["--top-k", "-5"], "Top-k"),
    (["--seed", "-1"], "Seed"),
])
def test_generation_settings_out_of_range(capsys, extra, fragment):
    line = one_line_error(capsys, "generate", "--model", "tiny", "--prompt", "x", *extra)
    assert fragment in line


def test_prompt_over_the_limit(capsys):
    line = one_line_error(capsys, "generate", "--model", "tiny", "--prompt", "a " * 9000)
    assert "over this model's limit of 8192" in line


def test_prompt_file_not_utf8(capsys, tmp_path):
    path = tmp_path / "p.txt"
    path.write_bytes(b"ok \xff\xfe")
    line = one_line_error(capsys, "salience", "--model", "tiny", "--prompt-file", str(path),
                          "--target", "a")
    assert "not UTF-8" in line and "byte 3" in line


@pytest.mark.parametrize(("pattern", "fragment"), [
    ("(a|aa)+$", "took longer than"),  # catastrophic backtracking on "aaaa…b": guarded
    ("(?=a)", "matches an empty piece"),
    ("[", "not a valid regular expression"),
    ("x" * 501, "limit is 500"),
])
def test_custom_regex_invalid_or_slow(capsys, pattern, fragment):
    line = one_line_error(capsys, "salience", "--model", "tiny", "--prompt", "x", "--target",
                          "a" * 400 + "b", "--granularity", "regex", "--pattern", pattern)
    assert fragment in line


def test_nested_repeat_pattern_finishes(capsys):
    # `(a+)+$` backtracks exponentially in `re`; the `regex` engine with a timeout either
    # answers or says so. Here it answers: the target is one "aaaa" segment and one "b" gap.
    code, data, err = run(capsys, "salience", "--model", "tiny", "--prompt", "x", "--target",
                          "a" * 400 + "b", "--granularity", "regex", "--pattern", "(a+)+$")
    assert code in (0, 2), err
    if code == 0:
        target = [s["text"] for s in data["segments"] if not s["in_prompt"]]
        assert "".join(target) == "a" * 400 + "b"


@pytest.mark.parametrize(("spec", "fragment"), [
    ("../../etc/passwd", "does not exist"),
    ("/etc/passwd", "does not exist"),
    ("no-such-model", "Unknown model"),
    ("<script>x</script>", "does not exist"),
    ("kaggle://keras/gemma/keras/gemma_2b_en/2", "KAGGLE_USERNAME"),  # no credentials here
])
def test_unknown_model_path_or_kaggle_without_credentials_loads_nothing(
        capsys, monkeypatch, tmp_path, spec, fragment):
    from lib.models import registry

    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))  # no kaggle.json there
    before = registry.loaded_specs()
    line = one_line_error(capsys, "generate", "--model", spec, "--prompt", "x")
    assert fragment in line
    assert registry.loaded_specs() == before


# ---- once bugs in lib/cli.py / the tokenizer, now fixed -------------------------------------
@pytest.mark.parametrize("args", [
    ["generate", "--model", "tiny", "--prompt", "x", "--stop", "\\x"],
    ["salience", "--model", "tiny", "--prompt", "x", "--target", "abc", "--segment-text", "\\N"],
])
def test_bad_backslash_escape_is_status_2(capsys, args):
    assert "escape" in one_line_error(capsys, *args).lower()


@pytest.mark.parametrize("args", [
    ["generate", "--model", "tiny", "--prompt", "caf\udce9"],
    ["salience", "--model", "tiny", "--prompt", "x", "--target", "caf\udce9"],
])
def test_non_utf8_argument_is_status_2(capsys, args):
    one_line_error(capsys, *args)


def test_error_naming_a_path_stays_on_one_line(capsys, tmp_path):
    one_line_error(capsys, "batch", "--model", "tiny", "--input", str(tmp_path / "no\nfile"),
                   "--output", str(tmp_path / "o.jsonl"))
