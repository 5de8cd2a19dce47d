"""Colours and escaped HTML for overlays, legend and the exported report."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from lib.render import (
    PALETTES,
    ColourScale,
    colour_scale,
    render_legend_html,
    render_segments_html,
    score_colour,
    text_colour,
)
from lib.report import render_report_html
from lib.segments import segment_scores, segment_sequence
from tests.test_segments import make_seq

PAYLOAD = '<script>window.pwned=1</script><img src=x onerror="alert(1)">'


class SpanCollector(HTMLParser):
    """Collects every element with its attributes and the text inside each `.seg` span."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.segs: list[dict[str, str]] = []
        self._stack: list[dict[str, str] | None] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "span" and "seg" in a.get("class", "").split():
            a["_text"] = ""
            self.segs.append(a)
            self._stack.append(a)
        else:
            self._stack.append(None)

    def handle_endtag(self, tag):
        if self._stack:
            self._stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        for item in self._stack:
            if item is not None:
                item["_text"] += data


def parse(markup: str) -> SpanCollector:
    p = SpanCollector()
    p.feed(markup)
    p.close()
    return p


def hex_rgb(h: str) -> tuple[int, int, int]:
    return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)


# --- colours ---------------------------------------------------------------------------------

def test_colour_scale():
    assert colour_scale([0.5, -2.0, 1.0], signed=True) == ColourScale(2.0, True)
    assert colour_scale([0.0, 0.0], signed=False) == ColourScale(1.0, False)
    assert colour_scale([float("nan"), 3.0, float("inf")], signed=False).vmax == 3.0
    assert colour_scale([], signed=False).vmax == 1.0


def test_score_colour_endpoints_and_midpoint():
    scale = ColourScale(4.0, False)
    assert score_colour(0.0, scale, "blues") == "#ffffff"
    assert score_colour(4.0, scale, "blues") == "#08306b"
    assert score_colour(40.0, scale, "blues") == "#08306b"  # clipped
    # Halfway on a 6-stop ramp = halfway between stops 2 (#9ecae1) and 3 (#4292c6).
    expected = tuple(round((a + b) / 2) for a, b in zip((158, 202, 225), (66, 146, 198),
                                                          strict=True))
    assert hex_rgb(score_colour(2.0, scale, "blues")) == expected
    # Intensity multiplies before clipping.
    assert score_colour(2.0, scale, "blues", intensity=2.0) == "#08306b"
    assert score_colour(4.0, scale, "blues", intensity=0.0) == "#ffffff"


def test_signed_scale_uses_both_arms():
    scale = ColourScale(1.0, True)
    assert score_colour(1.0, scale, "puor") == "#2d004b"
    assert score_colour(-1.0, scale, "puor") == "#7f3b08"
    assert score_colour(0.0, scale, "puor") == "#ffffff"
    # An unsigned scale shows magnitude only.
    assert score_colour(-1.0, ColourScale(1.0, False), "blues") == "#08306b"


def test_palettes_cover_both_kinds():
    assert any(p.diverging for p in PALETTES.values())
    assert any(not p.diverging for p in PALETTES.values())
    for p in PALETTES.values():
        assert p.positive[0] == (255, 255, 255)
        if p.diverging:
            assert p.negative[0] == (255, 255, 255)


def test_text_colour_switches_on_dark_backgrounds():
    assert text_colour("#ffffff") == "#000000"
    assert text_colour("#08306b") == "#ffffff"
    assert text_colour("#2d004b") == "#ffffff"
    assert text_colour("#fdea9b") == "#000000"


# --- overlays --------------------------------------------------------------------------------

@pytest.fixture
def seq():
    return make_seq(
        ["Say", " <b>hi</b>", "\n", "Tricky", " \u202eevil", "\n\n", "End", "."],
        [" Reply", " ", PAYLOAD, "\n", "Next", " line", "."],
    )


def test_overlay_spans_carry_scores_tokens_and_colours(seq):
    segs = segment_sequence(seq, "words")
    token_scores = [0.0] + [float(i) for i in range(1, len(seq.tokens))]
    scores = segment_scores(segs, token_scores)
    scale = colour_scale(scores, signed=False)
    out = render_segments_html(seq, segs, scores, scale, palette="blues", part="all",
                               selected={2})
    p = parse(out)
    assert len(p.segs) == len(segs)
    for span, seg, score in zip(p.segs, segs, scores, strict=True):
        assert int(span["data-segment-index"]) == seg.index
        assert float(span["data-salience"]) == score
        assert int(span["data-token-start"]) == seg.token_indices[0]
        assert int(span["data-token-end"]) == seg.token_indices[-1] + 1
        assert span["title"] == f"{score:.3g}"
        bg = score_colour(score, scale, "blues")
        assert f"background-color:{bg}" in span["style"]
        assert f"color:{text_colour(bg)}" in span["style"]
        assert ("selected" in span["class"].split()) == (seg.index == 2)
    # The texts shown are the segments' texts, bidi override shown as a marker.
    shown = [s["_text"] for s in p.segs]
    assert shown[1] == " <b>hi</b>\n"
    assert "⟨U+202E⟩evil" in shown[3]
    assert "\u202e" not in out
    assert any(PAYLOAD in s for s in shown)


def test_overlay_escapes_everything(seq):
    segs = segment_sequence(seq, "tokens")
    out = render_segments_html(seq, segs, [1.0] * len(segs), None, palette="blues", part="all")
    assert "<script" not in out and "<img" not in out and "<b>" not in out
    assert html.escape(PAYLOAD) in out
    tags = {t for t, _ in parse(out).tags}
    assert tags <= {"style", "div", "span", "sup"}


def test_parts_and_whitespace(seq):
    segs = segment_sequence(seq, "words")
    prompt_html = render_segments_html(seq, segs, None, None, palette="blues", part="prompt")
    target_html = render_segments_html(seq, segs, None, None, palette="blues", part="target")
    pp, tp = parse(prompt_html), parse(target_html)
    assert [int(s["data-segment-index"]) for s in pp.segs] == [
        s.index for s in segs if s.in_prompt]
    assert [int(s["data-segment-index"]) for s in tp.segs] == [
        s.index for s in segs if not s.in_prompt]
    # Without scores nothing is coloured and there is no data-salience.
    assert all("data-salience" not in s and "style" not in s for s in pp.segs + tp.segs)
    # All the text of each part is there (including gaps between words), newlines kept.
    assert "white-space: pre-wrap" in prompt_html
    for part, text in (("prompt", seq.input_text), ("target", seq.target)):
        bare = render_segments_html(seq, segs, None, None, palette="blues", part=part,
                                    include_style=False)
        assert "".join(parse(bare).text) == text.replace("\u202e", "⟨U+202E⟩")
    with pytest.raises(Exception, match="part"):
        render_segments_html(seq, segs, None, None, palette="blues", part="middle")


def test_hidden_bos_and_shown_bos():
    s = make_seq(["Hi"], [" there"])
    hidden = render_segments_html(s, segment_sequence(s, "tokens"), None, None,
                                  palette="blues", part="all", include_style=False)
    assert "&lt;bos&gt;" not in hidden
    shown = render_segments_html(s, segment_sequence(s, "tokens", include_special=True), None,
                                 None, palette="blues", part="all", include_style=False)
    p = parse(shown)
    assert p.segs[0]["_text"] == "<bos>" and "special" in p.segs[0]["class"]


def test_show_numbers(seq):
    segs = segment_sequence(seq, "lines")
    scores = [0.123456 * (i + 1) for i in range(len(segs))]
    out = render_segments_html(seq, segs, scores, None, palette="blues", show_numbers=True,
                               part="all")
    numbers = re.findall(r'<sup class="score">([^<]*)</sup>', out)
    assert numbers == [f"{v:.3g}" for v in scores]
    plain = render_segments_html(seq, segs, scores, None, palette="blues", part="all")
    assert "<sup" not in plain


def test_signed_overlay_colours_negative_differently(seq):
    segs = segment_sequence(seq, "lines")
    scores = [(-1.0) ** i * (i + 1) for i in range(len(segs))]
    scale = colour_scale(scores, signed=True)
    p = parse(render_segments_html(seq, segs, scores, scale, palette="puor", part="all"))
    neg = [s for s in p.segs if float(s["data-salience"]) < 0]
    pos = [s for s in p.segs if float(s["data-salience"]) > 0]
    assert neg and pos
    # Orange arm (red channel high) for negative, purple arm (blue > green) for positive.
    for s in neg:
        r, g, b = hex_rgb(re.search(r"background-color:(#[0-9a-f]{6})", s["style"]).group(1))
        assert r > b
    for s in pos:
        r, g, b = hex_rgb(re.search(r"background-color:(#[0-9a-f]{6})", s["style"]).group(1))
        assert b > g


def test_legend():
    out = render_legend_html(ColourScale(2.5, True), "puor", "Grad·Input <i>")
    assert "Grad·Input &lt;i&gt;" in out and "<i>" not in out
    assert ">-2.5<" in out and ">2.5<" in out and ">0<" in out
    assert "#7f3b08" in out and "#2d004b" in out
    unsigned = render_legend_html(ColourScale(3.0, False), "blues", "Grad L2")
    assert ">-3<" not in unsigned and ">3<" in unsigned


def test_report_is_self_contained_and_inert(seq):
    segs = segment_sequence(seq, "words")
    scores = [float(i) for i in range(len(segs))]
    out = render_report_html(
        title=f"Run {PAYLOAD}", seq=seq, segments=segs, scores=scores,
        scale=colour_scale(scores, False), palette="blues", method_label="Grad L2",
        selected={len(segs) - 1}, model_name="tiny <model>",
        settings={"max_new_tokens": 32, "stop": ["\n\n"], "note": PAYLOAD},
        audit={"fingerprint": "abc123", "prompt_sha256": "ff", "evil": "\u202e"},
    )
    assert out.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in out and "default-src 'none'" in out
    lowered = out.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<link" not in lowered
    assert "http://" not in lowered and "https://" not in lowered and "url(" not in lowered
    assert "tiny &lt;model&gt;" in out and "abc123" in out and "⟨U+202E⟩" in out
    assert "\u202e" not in out
    p = parse(out)
    assert len(p.segs) == len(segs)
    assert sum("selected" in s["class"] for s in p.segs) == 1
    assert '[&quot;\\n\\n&quot;]' in out  # settings values shown as JSON, escaped
