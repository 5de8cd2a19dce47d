"""Jumps in the reading view are plain anchors: they must work inside the app's `st.html` and in
the exported report (CSP without scripts), including into folded paragraphs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.harness import AppServer

pytestmark = pytest.mark.browser

APP = Path(__file__).resolve().parent / "reading_view_app.py"

IN_VIEW = """id => { const el = document.getElementById(id); if (!el) return null;
  const r = el.getBoundingClientRect();
  return r.bottom > 0 && r.top < window.innerHeight && r.height > 0; }"""
TARGET = "() => { const t = document.querySelector(':target'); return t ? t.id : null; }"


@pytest.fixture(scope="module")
def reading_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    server = AppServer(app=str(APP), data_dir=tmp_path_factory.mktemp("reading-data")).start()
    yield server
    server.stop()


def _jump(page, link) -> str:  # noqa: ANN001
    target = link.get_attribute("href")[1:]
    assert not page.evaluate(IN_VIEW, target), "the target was already on screen"
    link.click()
    page.wait_for_function(f"() => location.hash === '#{target}'")
    page.wait_for_function(f"id => ({IN_VIEW})(id)", arg=target)
    assert page.evaluate(TARGET) == target
    return target


def test_jump_list_and_strip_scroll_to_the_segment_in_the_app(reading_server, page):
    page.goto(reading_server.url + "/?g=paragraphs")
    page.wait_for_selector(".jump-list a", timeout=60_000)
    assert page.locator(".salience-text .seg[id]").count() > 30
    links = page.locator(".jump-list a")
    assert links.count() == 10
    # The top paragraph (section 3) is well below the first screen.
    assert "3. Grant of Patent License" in links.nth(0).inner_text()
    _jump(page, links.nth(0))
    page.evaluate("() => window.scrollTo(0, 0)")
    strip_links = page.locator(".density-strip a.bin")
    last = strip_links.nth(strip_links.count() - 1)
    _jump(page, last)


def test_jump_into_a_fold_opens_it_in_the_app(reading_server, page):
    page.goto(reading_server.url)
    page.wait_for_selector("details.fold", timeout=60_000)
    inside = page.evaluate(
        "() => document.querySelector('details.fold:not([open]) .seg[id]').id"
    )
    page.evaluate(f"() => {{ location.hash = '#{inside}'; }}")
    page.wait_for_function(
        f"() => document.getElementById('{inside}').closest('details').open === true"
    )
    page.wait_for_function(f"id => ({IN_VIEW})(id)", arg=inside)


def test_report_jump_list_works_without_scripts(page):
    from lib.models.tiny_vocab import tiny_vocab_proto
    from lib.render import colour_scale
    from lib.render_reading import render_document_report_html
    from lib.segments import segment_scores, segment_sequence
    from lib.templates import sample_document
    from lib.tokenizer import TextTokenizer
    from tests.test_reading import tokenise, word_scores

    seq = tokenise(TextTokenizer(tiny_vocab_proto()), sample_document())
    token_scores = word_scores(seq)
    segs = segment_sequence(seq, "sentences")
    scores = segment_scores(segs, token_scores)
    report = render_document_report_html(
        token_scores=token_scores, fold_share=0.2, title="Apache report", seq=seq,
        segments=segs, scores=scores, scale=colour_scale(scores, False), palette="blues",
        method_label="Grad L2", selected=(), model_name="tiny", settings={}, audit={},
    )
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content(report)
    links = page.locator(".jump-list a")
    assert links.count() == 10
    last = max(int(i) for i in page.eval_on_selector_all(
        ".jump-list li", "els => els.map(e => e.dataset.segmentIndex)"))
    _jump(page, page.locator(f'.jump-list li[data-segment-index="{last}"] a'))
    assert not errors
