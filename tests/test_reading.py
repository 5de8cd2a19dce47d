"""Reading a long overlay (issue 9, part 8): ranking, density strip, folds and their HTML, on the
real Apache License 2.0 text tokenised by the tiny model's SentencePiece vocabulary."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from lib.errors import InputError
from lib.models.tiny_vocab import tiny_vocab_proto
from lib.reading import (
    PARAGRAPH_THRESHOLD_TOKENS,
    default_granularity,
    density_strip,
    fold_paragraphs,
    rank_segments,
)
from lib.records import TokenSequence
from lib.render import colour_scale
from lib.render_reading import (
    anchor_id,
    anchor_ids,
    reading_summary,
    render_document_overlay_html,
    render_document_report_html,
    render_jump_list_html,
    render_reading_view_html,
)
from lib.segments import segment_scores, segment_sequence
from lib.templates import get_template, sample_document
from lib.tokenizer import TextTokenizer
from tests.hostile_corpus import ACTIVE, BIDI_TRICK, INVISIBLE, active_text, marker

APACHE = sample_document()
WORD = "licen"  # License, licensed, Licensor, sublicense ...: 51 times
TARGET = " No. Section 3 ends the patent license."


@pytest.fixture(scope="module")
def tokenizer() -> TextTokenizer:
    return TextTokenizer(tiny_vocab_proto())


def tokenise(tok: TextTokenizer, prompt: str, target: str = TARGET) -> TokenSequence:
    prompt_ids = [tok.bos_id, *tok.encode(prompt)]
    ids = prompt_ids + tok.encode(target)
    tokens, text = tok.tokens(ids, special_texts=False, prompt_length=len(prompt_ids))
    assert text == prompt + target  # the vocabulary spells the text exactly
    return TokenSequence(prompt, target, tuple(tokens), len(prompt_ids))


def word_scores(seq: TokenSequence, word: str = WORD) -> list[float]:
    """Each prompt token scores the number of its characters inside an occurrence of `word`
    (any case): a stand-in for salience whose right answers can be counted in the text."""
    inside = [False] * len(seq.input_text)
    for m in re.finditer(word, seq.input_text, flags=re.IGNORECASE):
        for i in range(m.start(), m.end()):
            inside[i] = True
    return [
        float(sum(inside[t.start:t.end])) if t.in_prompt and not t.special else 0.0
        for t in seq.tokens
    ]


@pytest.fixture(scope="module")
def apache(tokenizer) -> TokenSequence:
    return tokenise(tokenizer, APACHE)


def count(text: str) -> int:
    return len(re.findall(WORD, text, flags=re.IGNORECASE))


# --- pure views ------------------------------------------------------------------------------


def test_default_granularity(tokenizer, apache):
    assert len(apache.tokens) > PARAGRAPH_THRESHOLD_TOKENS
    assert default_granularity(apache.prompt_length) == "paragraphs"
    menu = tokenise(tokenizer, get_template("fewshot-mistake").render())
    assert menu.prompt_length < PARAGRAPH_THRESHOLD_TOKENS
    assert default_granularity(menu.prompt_length) == "words"
    assert default_granularity(PARAGRAPH_THRESHOLD_TOKENS) == "words"
    assert default_granularity(PARAGRAPH_THRESHOLD_TOKENS + 1, short="lines") == "paragraphs"


def test_paragraph_ranking_follows_the_text(apache):
    paras = segment_sequence(apache, "paragraphs")
    scores = segment_scores(paras, word_scores(apache))
    ranked = rank_segments(paras, scores, top_n=5)
    top = paras[ranked[0].position]
    assert top.text.startswith("3. Grant of Patent License.")
    counts = [count(paras[r.position].text) for r in ranked]
    assert counts == sorted(counts, reverse=True) and counts[0] == count(top.text) >= 7
    for r in ranked:
        seg = paras[r.position]
        assert (r.start, r.end, r.segment_index) == (seg.start, seg.end, seg.index)
        assert r.share == pytest.approx(count(seg.text) / counts[0])
        assert r.share_of_total == pytest.approx(count(seg.text) / count(APACHE))
        assert seg.in_prompt
    assert [r.rank for r in ranked] == [1, 2, 3, 4, 5]
    # Every paragraph that mentions the word, and no other, can be ranked.
    everything = rank_segments(paras, scores, top_n=100)
    assert len(everything) == sum(1 for p in paras if p.in_prompt and count(p.text))


def test_ranking_excludes_and_validates(apache):
    words = segment_sequence(apache, "words")
    scores = segment_scores(words, word_scores(apache))
    ranked = rank_segments(words, scores, top_n=3)
    assert all(WORD in words[r.position].text.lower() for r in ranked)
    # The URL ".../licenses/LICENSE-2.0" holds the word twice; then ties go in text order.
    assert words[ranked[0].position].text.strip() == "http://www.apache.org/licenses/LICENSE-2.0"
    assert [r.score for r in ranked] == [10.0, 5.0, 5.0] and ranked[1].start < ranked[2].start
    assert ranked[1].share == 0.5
    rest = rank_segments(words, scores, top_n=3, exclude=[ranked[0].segment_index])
    assert [r.segment_index for r in rest] == [
        r.segment_index for r in rank_segments(words, scores, top_n=4)[1:]
    ]
    assert [r.rank for r in rest] == [1, 2, 3]
    assert rank_segments(words, [0.0] * len(words)) == []
    with pytest.raises(InputError) as info:
        rank_segments(words, scores, top_n=0)
    assert info.value.field == "top_n"
    with pytest.raises(ValueError):
        rank_segments(words, scores[:-1])


def test_density_bins_sum_and_peak(apache):
    token_scores = word_scores(apache)
    paras = segment_sequence(apache, "paragraphs")
    strip = density_strip(
        apache, token_scores, bins=100, segments=paras,
        segment_scores=segment_scores(paras, token_scores),
    )
    assert (strip.start, strip.end, len(strip.bins)) == (0, len(APACHE), 100)
    assert strip.total == pytest.approx(len(WORD) * count(APACHE))
    assert sum(b.total for b in strip.bins) == pytest.approx(strip.total)
    assert max(b.value for b in strip.bins) == 1.0
    # Bins tile the text, each bin's total is what the word covers in its characters.
    assert [b.start for b in strip.bins[1:]] == [b.end for b in strip.bins[:-1]]
    for b in strip.bins:
        chunk_inside = sum(
            max(0, min(m.end(), b.end) - max(m.start(), b.start))
            for m in re.finditer(WORD, APACHE, flags=re.IGNORECASE)
        )
        assert b.total == pytest.approx(chunk_inside, abs=1.0)  # tokens split across edges
    # The densest stretch is the appendix's "Licensed under the Apache License, Version 2.0
    # (the "License")": three times in one line. A click there jumps to that paragraph.
    peak = next(b for b in strip.bins if b.value == 1.0)
    overlapping = [p for p in paras if p.start < peak.end and peak.start < p.end]
    best = max(overlapping, key=lambda p: count(p.text))
    assert peak.segment_index == best.index
    assert best.text.strip().startswith("Licensed under the Apache License")
    assert 'Version 2.0 (the "License")' in APACHE[peak.start:peak.end]
    # Empty stretches of the text stay empty.
    zero = [b for b in strip.bins if b.value == 0.0]
    assert len(zero) >= 5
    assert all(WORD not in APACHE[b.start - 4:b.end + 4].lower() for b in zero)


def test_density_validates_and_shrinks(tokenizer, apache):
    with pytest.raises(InputError) as info:
        density_strip(apache, word_scores(apache), bins=0)
    assert info.value.field == "bins"
    short = tokenise(tokenizer, "Grant of Patent License.")
    strip = density_strip(short, word_scores(short), bins=100)
    assert len(strip.bins) == len("Grant of Patent License.")  # at least one character a bin
    assert sum(b.total for b in strip.bins) == pytest.approx(5.0)


def test_fold_decisions(apache):
    paras = segment_sequence(apache, "paragraphs")
    scores = segment_scores(paras, word_scores(apache))
    prompt_paras = [k for k, p in enumerate(paras) if p.in_prompt]
    top = max(count(paras[k].text) for k in prompt_paras)
    runs = fold_paragraphs(paras, scores, below_share=0.5)
    folded = [k for r in runs for k in r.positions]
    assert folded == [k for k in prompt_paras if count(paras[k].text) < 0.5 * top]
    for r in runs:  # maximal runs of consecutive folded paragraphs
        assert list(r.positions) == list(range(r.positions[0], r.positions[-1] + 1))
        assert (r.start, r.end) == (paras[r.positions[0]].start, paras[r.positions[-1]].end)
        assert r.max_share < 0.5 and r.threshold == 0.5
    for a, b in zip(runs, runs[1:], strict=False):
        assert b.positions[0] > a.positions[-1] + 1
    assert fold_paragraphs(paras, scores, below_share=0) == []
    assert fold_paragraphs(paras, [0.0] * len(paras), below_share=0.5) == []
    everything_but_top = fold_paragraphs(paras, scores, below_share=1.0)
    assert sum(len(r.positions) for r in everything_but_top) == len(prompt_paras) - sum(
        1 for k in prompt_paras if count(paras[k].text) == top
    )
    for bad in (-0.1, 1.5, "half", float("nan")):
        with pytest.raises(InputError) as info:
            fold_paragraphs(paras, scores, below_share=bad)
        assert info.value.field == "fold_share"


# --- HTML ------------------------------------------------------------------------------------


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self._summary = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)
        d = dict(attrs)
        if "id" in d:
            self.ids.append(d["id"])
        if "href" in d:
            self.hrefs.append(d["href"])
        if tag == "summary":
            self._summary += 1

    def handle_endtag(self, tag):
        if tag == "summary":
            self._summary -= 1

    def handle_data(self, data):
        if not self._summary:
            self.text.append(data)


def collect(markup: str) -> Collector:
    c = Collector()
    c.feed(markup)
    c.close()
    return c


def test_folded_overlay_keeps_every_character_and_anchors(apache):
    segs = segment_sequence(apache, "words")
    token_scores = word_scores(apache)
    scores = segment_scores(segs, token_scores)
    paras = segment_sequence(apache, "paragraphs")
    runs = fold_paragraphs(paras, segment_scores(paras, token_scores), below_share=0.3)
    assert runs
    out = render_document_overlay_html(
        apache, segs, scores, None, palette="blues", anchor_ids=anchor_ids(segs, "doc-"),
        folds=runs,
    )
    c = collect(out)
    body = out.split("</style>", 1)[1]
    assert "".join(collect(body).text) == APACHE  # summaries aside, the text is all there
    assert c.tags.count("details") == len(runs)
    assert "folded: each under 30 % of the top paragraph&#x27;s salience" in body
    assert len(c.ids) == len(set(c.ids)) == sum(s.in_prompt for s in segs)
    assert c.ids[0] == "doc-" + anchor_id(segs[0].index)
    # The folded text is inside <details>, the rest is not.
    for r, block in zip(runs, re.findall(r"<details.*?</details>", body, flags=re.S),
                        strict=True):
        inner = html.unescape(re.sub(r"<summary>.*?</summary>|<[^>]+>", "", block))
        assert inner == APACHE[r.start:r.end]


def test_reading_view_links_resolve_and_nothing_runs(apache):
    segs = segment_sequence(apache, "paragraphs")
    token_scores = word_scores(apache)
    scores = segment_scores(segs, token_scores)
    out = render_reading_view_html(
        apache, segs, scores, None, token_scores, palette="blues", top_n=5, bins=50,
        fold_share=0.2, prefix="v1-",
    )
    c = collect(out)
    assert c.hrefs and all(h.startswith("#v1-seg-") for h in c.hrefs)
    assert {h[1:] for h in c.hrefs} <= set(c.ids)
    assert c.tags.count("ol") == 1 and c.tags.count("li") == 5
    assert c.tags.count("nav") == 1
    lowered = out.lower()
    assert "<script" not in lowered and "javascript:" not in lowered
    assert not [a for a, _ in c.attrs if a.startswith("on")]
    # The first jump goes to section 3's paragraph.
    first = re.search(r'<li data-segment-index="(\d+)"', out)
    assert first is not None
    assert segs[int(first.group(1))].text.startswith("3. Grant of Patent License.")


def test_hostile_text_is_escaped_in_the_jump_list(tokenizer):
    hostile = "License clause: " + BIDI_TRICK + " " + active_text(" ") + "".join(INVISIBLE)
    doc = APACHE.replace("END OF TERMS AND CONDITIONS", hostile)
    seq = tokenise(tokenizer, doc)
    paras = segment_sequence(seq, "paragraphs")
    token_scores = word_scores(seq)
    scores = segment_scores(paras, token_scores)
    ranked = rank_segments(paras, scores, top_n=100)
    mine = [r for r in ranked if hostile in seq.text[r.start:r.end]]
    assert len(mine) == 1
    jump = render_jump_list_html(seq, ranked, colour_scale(scores, False), palette="blues")
    view = render_reading_view_html(seq, paras, scores, None, token_scores, palette="blues",
                                    fold_share=0.5)
    for markup in (jump, view):
        c = collect(markup)
        assert set(c.tags) <= {"div", "ol", "li", "a", "span", "style", "nav", "details",
                               "summary"}, set(c.tags)
        assert not [a for a, _ in c.attrs if a.startswith("on") or a == "srcdoc"]
        assert all(h.startswith("#seg-") for h in c.hrefs)
        for ch in INVISIBLE + ("\u202e", "\u2066", "\u2069"):
            assert ch not in markup
    # The jump list previews the start of the segment: bidi markers and the first payload.
    for ch in ("\u202e", "\u2066", "\u2069"):
        assert marker(ch) in jump
    assert "&lt;script&gt;window.__pwned" in jump
    # The overlay shows all of it, as text.
    text = "".join(collect(view.split("</style>", 1)[1]).text)
    for p in ACTIVE:
        assert p.visible in text, p.id
    for ch in INVISIBLE:
        assert marker(ch) in view
    # The JSON summary keeps the exact characters (JSON is escaped where it is shown).
    assert hostile in reading_summary(mine, seq)[0]["text"]


def test_report_keeps_the_jump_list(apache):
    segs = segment_sequence(apache, "paragraphs")
    token_scores = word_scores(apache)
    scores = segment_scores(segs, token_scores)
    target = [s.index for s in segs if not s.in_prompt]
    out = render_document_report_html(
        token_scores=token_scores, fold_share=0.1,
        title="Run <b>x</b>", seq=apache, segments=segs, scores=scores,
        scale=colour_scale(scores, False), palette="blues", method_label="Grad L2",
        selected=target, model_name="tiny", settings={"granularity": "paragraphs"},
        audit={"prompt_chars": len(APACHE)},
    )
    assert out.startswith("<!DOCTYPE html>") and "default-src 'none'" in out
    c = collect(out)
    assert "<script" not in out.lower()
    assert c.tags.count("ol") == 1 and c.tags.count("nav") == 1
    assert {h[1:] for h in c.hrefs} <= set(c.ids)
    assert ".density-strip" in out and "Run &lt;b&gt;x&lt;/b&gt;" in out
    assert out.count('<div class="salience-text" data-part="prompt">') == 1
    assert out.count('<div class="salience-text" data-part="target">') == 1
    # Without token scores it is the plain report.
    plain = render_document_report_html(
        token_scores=None, title="t", seq=apache, segments=segs, scores=None, scale=None,
        palette="blues", method_label="Grad L2", selected=(), model_name="tiny",
        settings={}, audit={},
    )
    assert "jump-list" not in plain


def test_signed_scores_rank_by_magnitude_and_keep_their_sign(apache):
    paras = segment_sequence(apache, "paragraphs")
    positive = segment_scores(paras, word_scores(apache))
    # Grad·Input-style: the same magnitudes, every other paragraph pushing the other way.
    signed = [v if k % 2 else -v for k, v in enumerate(positive)]
    a = rank_segments(paras, positive, top_n=5)
    b = rank_segments(paras, signed, top_n=5)
    assert [r.segment_index for r in a] == [r.segment_index for r in b]
    assert [r.share for r in a] == [r.share for r in b]
    assert [r.score for r in b] == [signed[r.position] for r in b]
    assert any(r.score < 0 for r in b) and any(r.score > 0 for r in b)
    scale = colour_scale(signed, signed=True)
    jump = render_jump_list_html(apache, b, scale, palette="puor")
    swatches = re.findall(r'class="swatch" style="background-color:(#[0-9a-f]{6})"', jump)
    neg = [s for r, s in zip(b, swatches, strict=True) if r.score < 0]
    pos = [s for r, s in zip(b, swatches, strict=True) if r.score > 0]
    assert not set(neg) & set(pos)  # the two arms of the diverging palette


def test_two_views_on_one_page_have_distinct_anchors(apache):
    segs = segment_sequence(apache, "paragraphs")
    token_scores = word_scores(apache)
    scores = segment_scores(segs, token_scores)
    views = [
        render_reading_view_html(apache, segs, scores, None, token_scores, palette="blues",
                                 prefix=p, include_style=False)
        for p in ("v1-", "v2-")
    ]
    c1, c2 = collect(views[0]), collect(views[1])
    assert not set(c1.ids) & set(c2.ids)
    assert {h[1:] for h in c1.hrefs} <= set(c1.ids)
    assert {h[1:] for h in c2.hrefs} <= set(c2.ids)
    with pytest.raises(ValueError):
        anchor_id(3, prefix='x" onclick="')
