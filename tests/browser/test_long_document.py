"""A whole document in the real app on tiny Gemma 3: the contract template's licence text,
generate, click the answer, and jump from the reading view to the passage that mattered."""

from __future__ import annotations

import pytest

from tests.browser import pageops as ops

pytestmark = pytest.mark.browser

IN_VIEW = """id => { const el = document.getElementById(id); if (!el) return false;
  const r = el.getBoundingClientRect();
  return r.bottom > 0 && r.top < window.innerHeight && r.height > 0; }"""


def test_contract_template_reading_view_jumps_to_the_top_passage(tiny_server, page) -> None:  # noqa: ANN001
    ops.open_app(page, tiny_server.url)
    picker = page.locator("[data-testid='stSelectbox']").filter(has_text="Template").first
    picker.click()  # the template picker
    page.get_by_role("option", name="Answer a question about a contract").click()
    # A document variable: paste or upload; the Apache License 2.0 text is the default.
    page.get_by_text("Upload a document for document").wait_for(timeout=60_000)
    segs = ops.generate(page, timeout_s=300)
    ops.assert_no_traceback(page)
    # A long prompt opens at paragraph granularity, and the URL says so.
    ops.wait_for_url_param(page, "g", "paragraphs")
    ops.click_segment(page, segs[0]["index"])
    links = page.locator(".jump-list a")
    links.first.wait_for(timeout=300_000)
    assert links.count() >= 5
    assert page.locator(".density-strip a.bin").count() > 10
    target = links.first.get_attribute("href")[1:]
    page.evaluate("() => window.scrollTo(0, 0)")
    links.first.click()
    page.wait_for_function(f"id => ({IN_VIEW})(id)", arg=target, timeout=30_000)
    ops.assert_no_traceback(page)
