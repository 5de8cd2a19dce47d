"""axe-core finds no accessibility violations on Debug, Compare and Saved runs, with and without
a salience overlay shown.

axe-core comes from npm (MPL-2.0); scripts/test.sh installs the pinned version into the
git-ignored `.test-tools/`. It is injected into the page as an inline script (the browser
context may load nothing from outside 127.0.0.1).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser import pageops as ops
from tests.browser.harness import ARTIFACTS, REPO

pytestmark = pytest.mark.browser

AXE_VERSION = "4.11.0"  # keep equal to scripts/test.sh
AXE = REPO / ".test-tools" / "node_modules" / "axe-core" / "axe.min.js"

_RUN_AXE = """
async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => ({target: n.target, html: n.html.slice(0, 200),
                                          summary: n.failureSummary})),
  }));
}
"""


def _violations(page: Any, name: str) -> list[dict]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: install it with `npm install --no-save --prefix "
                    f".test-tools axe-core@{AXE_VERSION}` (scripts/test.sh does).")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    # Let Streamlit finish drawing (fonts, components) before auditing, and audit no stale
    # elements: during a rerun Streamlit greys the page's widgets out (their contrast fails
    # on purpose), which says nothing about the page a reviewer reads.
    def drawn() -> tuple[str, int]:
        return ops.app_text(page), page.locator("[data-stale='true']").count()

    ops.stable(drawn, f"the {name} page to settle", settle_s=1.5)
    ops.poll(drawn, lambda v: v[1] == 0, f"the {name} page to finish its rerun")
    found = page.evaluate(_RUN_AXE)
    if found:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"axe-{name}.png"), full_page=True)
        (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(found, indent=1))
    return found


def _clean(page: Any, name: str) -> None:
    found = _violations(page, name)
    assert found == [], f"{name}: " + json.dumps(found, indent=1)[:4000]


def test_debug_page_has_no_violations_with_and_without_an_overlay(tiny_server, page) -> None:  # noqa: ANN001
    ops.open_app(page, tiny_server.url, params="g=words")
    _clean(page, "debug-empty")
    segs = ops.generate(page, min_segments=2)
    _clean(page, "debug-output")
    ops.click_segment(page, segs[0]["index"])
    ops.poll(lambda: ops.overlay(page), bool, "the overlay")
    _clean(page, "debug-overlay")


def test_compare_page_has_no_violations_with_and_without_an_overlay(tiny_server, new_context) -> None:  # noqa: ANN001
    page = new_context(viewport={"width": 1600, "height": 1100}).new_page()
    ops.open_app(page, tiny_server.url, path="compare", params="g=words")
    _clean(page, "compare-empty")
    ops.click_button(page, "Generate all", 180)
    columns = ops.poll(lambda: ops.by_column(ops.segments(page)),
                       lambda cols: len(cols) == 3, "output segments in three columns", 180)
    _clean(page, "compare-output")
    first = next(iter(columns.values()))[0]
    ops.click_nth_segment(page, first["order"])
    ops.poll(lambda: ops.overlay(page), bool, "the overlay")
    _clean(page, "compare-overlay")


def _share_a_run(page: Any, base_url: str) -> None:
    """Generate, select the first segment, Share (the Saved-runs audits need a run)."""
    ops.open_generate_and_select_first(page, base_url)
    ops.click_button(page, "Share")
    ops.poll(lambda: ops.url_params(page).get("run"), bool, "run= in the URL")


def test_saved_runs_page_has_no_violations(tiny_server, page) -> None:  # noqa: ANN001
    _share_a_run(page, tiny_server.url)
    ops.open_app(page, tiny_server.url, path="runs")
    page.get_by_text("Open", exact=True).first.wait_for()  # the run's Open link
    _clean(page, "runs")


def test_saved_run_with_notes_has_no_violations(tiny_server, page) -> None:  # noqa: ANN001
    _share_a_run(page, tiny_server.url)
    name = page.get_by_role("textbox", name="Your display name (shown with your note)")
    ops.commit_text(name, "Axe reviewer", textarea=False)
    ops.commit_text(page.get_by_role("textbox", name="Note", exact=True), "Looks fine.",
                    textarea=True)
    ops.click_button(page, "Add note")
    ops.poll(page.get_by_role("button", name="Retract my note").count, lambda n: n == 1,
             "the note and its Retract button")
    _clean(page, "debug-notes")
    ops.click_button(page, "Retract my note")
    ops.poll(page.locator(".studio-note.retracted").count, lambda n: n == 1, "the retraction")
    _clean(page, "debug-notes-retracted")

