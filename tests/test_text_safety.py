"""Untrusted text: escaped, and invisible characters made visible (never dropped)."""

from __future__ import annotations

import html
import re

import pytest

from lib.text_safety import (
    char_name,
    escape_html,
    has_invisible,
    is_ascii_digits,
    is_invisible,
    safe_html,
    safe_plain,
    visible_text,
)
from tests.hostile_corpus import NON_ASCII_DIGITS, SELECTORS_AND_BLANKS

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


# Format characters (Unicode Cf) and blank "filler" letters render as nothing, so they hide a
# trick exactly as a bidi override does: each must be marked too.
@pytest.mark.parametrize(
    "ch", ["\u206a", "\u206f", "\u180e", "\u3164", "\u115f", "\ufff9", "\u034f", "\u0600",
           "\U0001d173", "\U000e0001", "\u2065"],
)
def test_format_characters_and_blank_fillers_are_marked(ch):
    out = safe_html(f"a{ch}b")
    assert ch not in out and f"⟨U+{ord(ch):04X}⟩" in out
    assert is_invisible(ch) and has_invisible(f"x{ch}")


@pytest.mark.parametrize("ch", ["\u0301", "\u00e9", "\u2764", "\U0001f1eb", "\u3000"])
def test_visible_marks_and_emoji_parts_are_not_marked(ch):
    # Combining accents belong to the character before them (accented letters); the
    # ideographic space is visibly wide. (Variation selectors such as U+FE0F used to be left
    # alone as emoji parts; issue 12 asks for them to be marked: they can pad text unseen.)
    assert not is_invisible(ch)


def test_js_char_class_is_the_same_set():
    from lib.text_safety import js_char_class

    source = js_char_class()
    assert source.startswith("[") and source.endswith("]")
    # JavaScript's \u{X} (with the u flag) -> Python's \UXXXXXXXX: the same class, checked
    # against is_invisible for every code point.
    py = re.compile(re.sub(r"\\u\{([0-9A-F]+)\}", lambda m: f"\\U{int(m.group(1), 16):08X}",
                           source))
    mismatched = [cp for cp in range(0x110000)
                  if bool(py.fullmatch(chr(cp))) != is_invisible(chr(cp))]
    assert mismatched == []


@pytest.mark.parametrize("ch", SELECTORS_AND_BLANKS)
def test_variation_selectors_and_blank_symbols_are_marked(ch):
    assert is_invisible(ch)
    out = safe_html(f"a{ch}b")
    assert ch not in out and f"⟨U+{ord(ch):04X}⟩" in out
    assert safe_plain(f"a{ch}b") == f"a⟨U+{ord(ch):04X}⟩b"


def test_neighbours_of_the_selector_ranges_stay_plain():
    for ch in ("\u180a", "\ufe10", "\u2801", "\U000e01f0"):
        assert not is_invisible(ch), f"U+{ord(ch):04X}"


@pytest.mark.parametrize("s", NON_ASCII_DIGITS + ("", "1 ", "-1", "+1", "1.0", None, 5))
def test_is_ascii_digits_refuses_everything_but_0_to_9(s):
    assert not is_ascii_digits(s)


def test_is_ascii_digits_accepts_plain_numbers():
    assert is_ascii_digits("0") and is_ascii_digits("0123456789")
