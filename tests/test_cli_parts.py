"""`python -m lib salience --by-part`, `--template-file`, `--var` on the tiny model."""

from __future__ import annotations

import json

import pytest

from lib.cli import main
from lib.templates import get_template

MENU = get_template("fewshot-constitution")
VARS = ["--var", "food_likes=Cheese", "--var", "food_dislikes=Can't eat eggs",
        "--var", "menu_item=Quiche Lorraine"]
PART_KEYS = {"id", "kind", "label", "start", "end", "score", "share"}


def run(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main([*args, "--quiet"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


@pytest.fixture()
def menu_file(tmp_path):
    path = tmp_path / "menu.txt"
    path.write_text(MENU.text, encoding="utf-8")
    return str(path)


def prompt_token_sum(data: dict) -> float:
    return sum(s for s, t in zip(data["scores"], data["tokens"], strict=True) if t["in_prompt"])


@pytest.mark.parametrize("method", ["grad_l2", "grad_dot_input"])
def test_template_file_by_part(capsys, menu_file, method):
    code, data, _ = run(capsys, "salience", "--model", "tiny", "--template-file", menu_file,
                        *VARS, "--target", " Avoid. It has eggs.", "--method", method,
                        "--by-part")
    assert code == 0
    assert data["prompt"] == MENU.render()  # the template rendered, markers and all
    parts = data["parts"]
    ids = [p["id"] for p in parts]
    assert {"instruction", "principle-1", "principle-2", "example-1", "example-2", "example-3",
            "input", "food_likes", "food_dislikes", "menu_item", "special-bos"} <= set(ids)
    assert len(ids) == len(set(ids))
    signed = method == "grad_dot_input"
    for p in parts:
        assert PART_KEYS <= set(p) and ({"positive", "negative"} <= set(p)) == signed
        if signed:
            assert p["positive"] + p["negative"] == pytest.approx(p["score"])
        assert p["score"] == pytest.approx(sum(data["scores"][i] for i in p["token_indices"]))
        if p["kind"] != "special":
            assert p["start"] == data["tokens"][p["token_indices"][0]]["start"]
            assert p["end"] == data["tokens"][p["token_indices"][-1]]["end"]
    item = next(p for p in parts if p["id"] == "menu_item")
    assert data["input_text"][item["start"]:item["end"]].strip() == "Quiche Lorraine"
    assert sum(p["score"] for p in parts) == pytest.approx(prompt_token_sum(data), abs=1e-6)
    assert sum(p["share"] for p in parts) == pytest.approx(1.0)
    owned = sorted(i for p in parts for i in p["token_indices"])
    assert owned == [t_i for t_i, t in enumerate(data["tokens"]) if t["in_prompt"]]


def test_raw_prompt_by_part_with_chat_template(capsys):
    prompt = get_template("fewshot-mistake").render()
    code, data, _ = run(capsys, "salience", "--model", "tiny", "--prompt", prompt,
                        "--target", " Avoid.", "--chat-template", "on", "--by-part")
    assert code == 0
    by_id = {p["id"]: p for p in data["parts"]}
    assert by_id["example-1"]["label"] == "Example 1: Onion soup"
    assert by_id["input"]["kind"] == "input"
    assert data["input_text"][by_id["chat-text-1"]["start"]:by_id["chat-text-1"]["end"]] == \
        "user\n"
    assert data["input_text"][by_id["instruction"]["start"]:].startswith("Analyze a menu item")
    assert sum(p["score"] for p in data["parts"]) == pytest.approx(prompt_token_sum(data),
                                                                   abs=1e-6)


def test_no_parts_without_by_part(capsys, menu_file):
    code, data, _ = run(capsys, "salience", "--model", "tiny", "--template-file", menu_file,
                        *VARS, "--target", " Avoid.")
    assert code == 0 and "parts" not in data


@pytest.mark.parametrize("extra,fragment", [
    (VARS[:4], "{menu_item} has no value; give --var menu_item=VALUE"),
    ([*VARS, "--var", "mood=happy"], "has no variable {mood}"),
    ([*VARS, "--var", "menu_item=Tart"], "given twice"),
    ([*VARS[:4], "--var", "menu_item"], "must be NAME=VALUE"),
    ([*VARS[:4], "--var", "menu_item="], "{menu_item} is empty"),
])
def test_template_variable_errors_exit_2(capsys, menu_file, extra, fragment):
    code, _, err = run(capsys, "salience", "--model", "tiny", "--template-file", menu_file,
                       *extra, "--target", "x", "--by-part")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and fragment in lines[0], err


def test_template_file_errors_exit_2(capsys, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("Intro\n{#exmple Soup}\nDish: {dish}\n", encoding="utf-8")
    code, _, err = run(capsys, "salience", "--model", "tiny", "--template-file", str(bad),
                       "--var", "dish=tart", "--target", "x")
    assert code == 2 and "line 2" in err and "unknown kind" in err and str(bad) in err
    assert len(err.strip().splitlines()) == 1
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Caf\xe9 {x}".encode("latin-1"))
    code, _, err = run(capsys, "salience", "--model", "tiny", "--template-file", str(latin),
                       "--var", "x=1", "--target", "x")
    assert code == 2 and "not UTF-8" in err
    code, _, err = run(capsys, "salience", "--model", "tiny", "--template-file",
                       str(tmp_path / "none.txt"), "--target", "x")
    assert code == 2 and "cannot be read" in err


def test_var_without_template_and_exclusive_prompt_options(capsys, menu_file):
    code, _, err = run(capsys, "salience", "--model", "tiny", "--prompt", "Hi", "--var", "a=1",
                       "--target", "x")
    assert code == 2 and "--var needs --template-file" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["salience", "--model", "tiny", "--prompt", "Hi", "--template-file", menu_file,
              "--target", "x", "--quiet"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
