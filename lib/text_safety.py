"""Make untrusted text safe *and honest* to show as HTML.

Escaping stops markup from running; on top of that, invisible and reordering characters
(bidi overrides, zero-width spaces, NUL ...) are turned into visible markers such as
`⟨U+202E⟩` with a tooltip naming the character, because hiding them hides exactly the
trick a reviewer must see. Only the *display* changes: stored text keeps every character.
"""

from __future__ import annotations

import functools
import html
import unicodedata

# Names for characters that `unicodedata.name` does not know (controls) or that deserve a
# plainer description. Everything listed or matched by `_is_invisible` gets a marker.
_NAMES: dict[int, str] = {
    0x00: "NULL",
    0x07: "BELL",
    0x08: "BACKSPACE",
    0x0B: "LINE TABULATION",
    0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
    0x85: "NEXT LINE",
    0xAD: "SOFT HYPHEN",
    0x061C: "ARABIC LETTER MARK (bidi control)",
    0x200B: "ZERO WIDTH SPACE",
    0x200C: "ZERO WIDTH NON-JOINER",
    0x200D: "ZERO WIDTH JOINER",
    0x200E: "LEFT-TO-RIGHT MARK (bidi control)",
    0x200F: "RIGHT-TO-LEFT MARK (bidi control)",
    0x2028: "LINE SEPARATOR",
    0x2029: "PARAGRAPH SEPARATOR",
    0x202A: "LEFT-TO-RIGHT EMBEDDING (bidi control)",
    0x202B: "RIGHT-TO-LEFT EMBEDDING (bidi control)",
    0x202C: "POP DIRECTIONAL FORMATTING (bidi control)",
    0x202D: "LEFT-TO-RIGHT OVERRIDE (bidi control)",
    0x202E: "RIGHT-TO-LEFT OVERRIDE (bidi control)",
    0x2060: "WORD JOINER",
    0x2061: "FUNCTION APPLICATION (invisible)",
    0x2062: "INVISIBLE TIMES",
    0x2063: "INVISIBLE SEPARATOR",
    0x2064: "INVISIBLE PLUS",
    0x2066: "LEFT-TO-RIGHT ISOLATE (bidi control)",
    0x2067: "RIGHT-TO-LEFT ISOLATE (bidi control)",
    0x2068: "FIRST STRONG ISOLATE (bidi control)",
    0x2069: "POP DIRECTIONAL ISOLATE (bidi control)",
    0xFEFF: "ZERO WIDTH NO-BREAK SPACE (byte order mark)",
    0x2065: "RESERVED INVISIBLE OPERATOR POSITION (unassigned)",
}
# Characters that render blank although they are letters or marks, so they can fake an empty
# field or hide a join (e.g. the Hangul fillers used for "invisible" names).
# U+2800 BRAILLE PATTERN BLANK is a symbol that renders as an empty cell.
_BLANK_LOOKALIKES = frozenset(
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0}
)
# Variation selectors (Unicode category Mn, not Cf) change nothing visible or only the glyph of
# the character before them, so they can pad or fingerprint text unseen: U+FE00-FE0F,
# U+E0100-E01EF (supplement) and the Mongolian free variation selectors U+180B-180D, U+180F.
_SELECTOR_RANGES: tuple[tuple[int, int], ...] = (
    (0x180B, 0x180D),
    (0x180F, 0x180F),
    (0xFE00, 0xFE0F),
    (0xE0100, 0xE01EF),
)

MARKER_CLASS = "invisible-char"


def _is_invisible(cp: int) -> bool:
    if cp in (0x09, 0x0A):  # tab and newline are ordinary layout
        return False
    if cp < 0x20 or 0x7F <= cp <= 0x9F:  # C0 / DEL / C1 controls
        return True
    if 0xD800 <= cp <= 0xDFFF:  # lone surrogates (from JSON "\ud800"): not encodable as UTF-8
        return True
    if 0xE0000 <= cp <= 0xE007F:  # tag characters: invisible, used to smuggle text
        return True
    if cp in _NAMES or cp in _BLANK_LOOKALIKES:
        return True
    if any(lo <= cp <= hi for lo, hi in _SELECTOR_RANGES):
        return True
    if cp < 0xA0:
        return False
    # Every other format character (Unicode category Cf: bidi, joiners, deprecated shaping
    # controls, interlinear annotation ...) is invisible by definition.
    return unicodedata.category(chr(cp)) == "Cf"


def char_name(ch: str) -> str:
    """A human name for one character, e.g. 'U+202E RIGHT-TO-LEFT OVERRIDE (bidi control)'."""
    cp = ord(ch)
    name = _NAMES.get(cp)
    if name is None:
        if 0xD800 <= cp <= 0xDFFF:
            name = "LONE SURROGATE (invalid text)"
        elif 0xE0000 <= cp <= 0xE007F:
            name = "TAG CHARACTER (invisible)"
        else:
            name = unicodedata.name(ch, "CONTROL CHARACTER")
    return f"U+{cp:04X} {name}"


def marker_label(ch: str) -> str:
    """The visible stand-in for an invisible character, e.g. '⟨U+202E⟩'."""
    return f"⟨U+{ord(ch):04X}⟩"


def is_invisible(ch: str) -> bool:
    """True for characters that must be shown as a marker instead of as themselves."""
    return len(ch) == 1 and _is_invisible(ord(ch))


def visible_text(s: str) -> list[tuple[str, str | None]]:
    """Split `s` into runs: `(text, None)` for plain text, `(char, name)` for each marker.

    Joining the first elements gives back `s` exactly.
    """
    runs: list[tuple[str, str | None]] = []
    plain_start = 0
    for i, ch in enumerate(s):
        if _is_invisible(ord(ch)):
            if plain_start < i:
                runs.append((s[plain_start:i], None))
            runs.append((ch, char_name(ch)))
            plain_start = i + 1
    if plain_start < len(s):
        runs.append((s[plain_start:], None))
    return runs


def escape_html(s: str) -> str:
    """HTML-escape text for element content and quoted attribute values."""
    return html.escape(s, quote=True)


def has_invisible(s: str) -> bool:
    """True if `s` holds any character that `safe_html` would show as a marker."""
    return any(_is_invisible(ord(ch)) for ch in s)


def safe_html(s: str) -> str:
    """Escaped HTML for untrusted text, with invisible characters shown as titled markers."""
    out: list[str] = []
    for text, name in visible_text(s):
        if name is None:
            out.append(escape_html(text))
        else:
            out.append(
                f'<span class="{MARKER_CLASS}" title="{escape_html(name)}">'
                f"{escape_html(marker_label(text))}</span>"
            )
    return "".join(out)


@functools.cache
def js_char_class() -> str:
    """The same set as a JavaScript regex character class (use with the `u` flag), so code
    that marks characters in the browser agrees with `is_invisible` exactly."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x110000):
        if _is_invisible(cp):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    parts = [
        f"\\u{{{a:X}}}" if a == b else f"\\u{{{a:X}}}-\\u{{{b:X}}}" for a, b in ranges
    ]
    return "[" + "".join(parts) + "]"


def safe_plain(s: str) -> str:
    """Plain text for places that cannot hold markup (tooltips, labels): markers inline."""
    return "".join(text if name is None else marker_label(text) for text, name in visible_text(s))


def is_ascii_digits(s: object) -> bool:
    """True for a non-empty string of 0-9 only. `str.isdigit()` also accepts '²', '٣' ...
    that `int()` then refuses or reads differently: parse numbers from URLs with this."""
    return isinstance(s, str) and s.isascii() and s.isdigit()
