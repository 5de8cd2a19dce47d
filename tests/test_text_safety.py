"""Untrusted text: escaped, and invisible characters made visible (never dropped)."""

from __future__ import annotations

import html
import re

import pytest

from lib.text_safety import (
    char_name,
    escape_html,
    has_invisible,
    is_invisible,
    safe_html,
    safe_plain,
    visible_text,
)

INVISIBLE = [
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
    "\u200e", "\u200f", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\x00", "\x01",
    "\x1b", "\r", "\x7f", "\x85", "\x9f", "\ud800", "\U000e0041",
]


@pytest.mark.parametrize("ch", INVISIBLE)
def test_each_invisible_character_becomes_a_titled_marker(ch):
    s = f"a{ch}b"
    assert visible_text(s) == [("a", None), (ch, char_name(ch)), ("b", None)]
    out = safe_html(s)
    assert ch not in out  # the raw character never reaches the page
    code = f"U+{ord(ch):04X}"
    assert f"⟨{code}⟩" in out
    assert re.search(rf'title="{re.escape(code)} [^"]+"', out)
    out.encode("utf-8")  # even lone surrogates leave as encodable text


@pytest.mark.parametrize("ch", ["\n", "\t", " ", "é", "😀", "中", "\u00a0"])
def test_ordinary_characters_pass_through(ch):
    assert not is_invisible(ch)
    assert visible_text(f"x{ch}y") == [(f"x{ch}y", None)]


def test_names_are_specific():
    assert char_name("\u202e") == "U+202E RIGHT-TO-LEFT OVERRIDE (bidi control)"
    assert char_name("\x00") == "U+0000 NULL"
    assert char_name("\u200b") == "U+200B ZERO WIDTH SPACE"


def test_runs_join_back_to_the_original():
    s = "pay \u202etxt.exe\u202c now\x00!\u200b\u200b end"
    assert "".join(text for text, _ in visible_text(s)) == s
    assert sum(1 for _, name in visible_text(s) if name) == 5
    assert has_invisible(s) and not has_invisible("plain\ntext")


def test_markup_is_escaped():
    payload = '<script>window.pwned=1</script><img src=x onerror="alert(1)">&amp;\'"'
    out = safe_html(payload)
    assert "<" not in out and ">" not in out and '"' not in out and "'" not in out
    assert html.unescape(out) == payload
    assert escape_html('"<&>\'') == "&quot;&lt;&amp;&gt;&#x27;"


def test_safe_plain_for_tooltips():
    assert safe_plain("a\u202eb") == "a⟨U+202E⟩b"
