"""Instant re-click: the Debug picker and overlay are one component holding the scores of every
single segment computed so far, so clicking a computed segment repaints the overlay in the
browser at once, before the server hears of the click; the server's answer matches it. On
Compare each column is such a component, and a click in one repaints every column's overlay
(its matching segment, on the selection's shared scale) at once.

The click-to-paint time is a benchmark figure (printed, and written to
test-artifacts/reclick-benchmark.json and reclick-compare-benchmark.json), not a timed
assertion.
"""

from __future__ import annotations

import json

import pytest

from tests.browser import pageops as ops
from tests.browser.harness import ARTIFACTS

pytestmark = pytest.mark.browser

# Click the picker's segment `seg` and, in the same task, read what the overlay shows
# afterwards; the time from just before the click to the overlay's mutation, and to the next
# animation frame (the paint).
_CLICK_AND_READ = """
async (seg) => {
  const box = seg.closest('.seg-root').parentNode.querySelector('.salience-part');
  let mutated = null;
  const obs = new MutationObserver(() => { if (mutated === null) mutated = performance.now(); });
  obs.observe(box, {subtree: true, childList: true, attributes: true});
  const t0 = performance.now();
  seg.click();
  await Promise.resolve();
  const marks = Array.from(box.querySelectorAll('[data-salience].selected'))
    .map(e => e.getAttribute('data-segment-index'));
  const values = Array.from(box.querySelectorAll('[data-salience]'))
    .map(e => [e.getAttribute('data-token-start'), e.getAttribute('data-salience')]);
  const painted = await new Promise(r => requestAnimationFrame(() => r(performance.now())));
  obs.disconnect();
  return {marks, values, mutation_ms: mutated === null ? null : mutated - t0,
          paint_ms: painted - t0};
}
"""


def _computing(page) -> list[int]:  # noqa: ANN001
    return page.locator(f"{ops.SEGMENT}.computing").evaluate_all(
        "els => els.map(e => Number(e.getAttribute('data-segment-index')))")


def test_reclick_on_a_computed_segment_repaints_at_once(tiny_server, page) -> None:  # noqa: ANN001
    _measure_reclick(tiny_server, page, "reclick-benchmark.json")


@pytest.mark.slow
def test_reclick_on_the_embedded_model(embedded_server, page) -> None:  # noqa: ANN001
    """The same on the embedded Gemma 3 270M (the figure in docs/benchmarks.md)."""
    _measure_reclick(embedded_server, page, "reclick-benchmark-embedded.json")


def _measure_reclick(server, page, artifact: str) -> None:  # noqa: ANN001
    ops.open_app(page, server.url, params="g=words")
    segs = ops.generate(page, min_segments=3)
    first, second = segs[0]["index"], segs[1]["index"]
    ops.click_segment(page, first)
    ops.wait_for_url_param(page, "sel", str(first))
    # Prefetching fills in every segment; each shows it is computing until its scores arrive.
    ops.poll(lambda: _computing(page), lambda c: c == [], "every segment's scores", 300)
    ops.stable(lambda: ops.overlay(page), "the overlay")

    timings = []
    for target in (second, first, second):
        got = page.locator(f"{ops.SEGMENT}[data-segment-index='{target}']").first.evaluate(
            _CLICK_AND_READ)
        # Repainted within the click's own task: no server round trip in between.
        assert got["marks"] == [str(target)], got["marks"]
        assert got["values"], "the overlay is coloured right after the click"
        timings.append(got)
        ops.wait_for_url_param(page, "sel", str(target))  # the server is told afterwards
        settled = ops.stable(lambda: ops.overlay(page), "the overlay after the server answered")
        assert [[s["start"], s["salience"]] for s in settled] == got["values"]
    ops.assert_no_traceback(page)

    figure = {"click_to_mutation_ms": [t["mutation_ms"] for t in timings],
              "click_to_next_frame_ms": [t["paint_ms"] for t in timings],
              "target_ms": 50}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / artifact).write_text(json.dumps(figure, indent=1))
    print("re-click benchmark:", figure)


# Compare: every column's overlay box (each picker is a components-v2 element in an open
# shadow root), in page order.
_OVERLAY_BOXES = """
() => { const found = [];
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
    if (el.classList.contains('salience-part')) found.push(el);
    if (el.shadowRoot) walk(el.shadowRoot); } };
  walk(document);
  return found; }
"""
_READ_BOX = """
(p) => ({
  marks: Array.from(p.querySelectorAll('[data-salience].selected'))
    .map(e => e.getAttribute('data-segment-index')),
  values: Array.from(p.querySelectorAll('[data-salience]'))
    .map(e => [e.getAttribute('data-token-start'), e.getAttribute('data-salience')]),
  busy: p.lastElementChild.hasAttribute('aria-busy'),
})
"""
# Click `seg` and, in the same task, read every column's overlay; times as in _CLICK_AND_READ.
_CLICK_AND_READ_ALL = f"""
async (seg) => {{
  const boxes = ({_OVERLAY_BOXES})();
  const read = {_READ_BOX};
  let mutated = null;
  const obs = new MutationObserver(() => {{ if (mutated === null) mutated = performance.now(); }});
  for (const b of boxes) obs.observe(b, {{subtree: true, childList: true, attributes: true}});
  const t0 = performance.now();
  seg.click();
  await Promise.resolve();
  const columns = boxes.map(read);
  const painted = await new Promise(r => requestAnimationFrame(() => r(performance.now())));
  obs.disconnect();
  return {{columns, mutation_ms: mutated === null ? null : mutated - t0,
          paint_ms: painted - t0}};
}}
"""


# The selected output segments of each column's picker, in page order.
_PICKED = f"""() => ({_OVERLAY_BOXES})().map(p => Array.from(
  p.parentNode.querySelectorAll('.seg-root [role=button].selected'))
  .map(e => Number(e.getAttribute('data-segment-index'))))"""
# Shift-click `seg` and read every column's picker selection in the same task.
_SHIFT_CLICK_AND_READ = f"""(seg) => {{
  seg.dispatchEvent(new MouseEvent('click', {{bubbles: true, cancelable: true, shiftKey: true}}));
  return ({_PICKED})(); }}"""


def _diagnose(page) -> str:  # noqa: ANN001
    """What each column's component holds (for a failure message)."""
    return json.dumps(page.evaluate(f"""() => ({_OVERLAY_BOXES})().map(p => {{
      const s = p.parentNode.__salience || {{}}, ov = s.ov || {{}};
      const key = s.csel ? s.csel[0] + ':' + s.csel[1] : null;
      return {{column: ov.group && ov.group.column, computing: ov.computing,
               pending: ov.pending, views: Object.keys(ov.views || {{}}).length,
               values: Object.keys(ov.values || {{}}).length, csel: s.csel, sel: s.sel,
               key: key, match: key && ov.match[key], has_view: !!(key && ov.views[key]),
               status: s.status && s.status.textContent}}; }})"""), indent=1)


def _compare_overlays(page) -> list[dict]:  # noqa: ANN001
    return page.evaluate(f"() => ({_OVERLAY_BOXES})().map({_READ_BOX})")


def test_compare_reclick_repaints_every_column_at_once(tiny_server, new_context) -> None:  # noqa: ANN001
    page = new_context(viewport={"width": 1600, "height": 1100}).new_page()
    ops.open_app(page, tiny_server.url, path="compare", params="g=words")
    ops.click_button(page, "Generate all", 180)
    columns = ops.poll(lambda: ops.by_column(ops.segments(page)),
                       lambda cols: len(cols) == 3 and all(len(v) >= 2 for v in cols.values()),
                       "output segments in three columns", 180)
    col_ids = list(columns)
    first = columns[col_ids[0]][0]
    ops.click_nth_segment(page, first["order"])
    ops.wait_for_url_param(page, "sel", f"0:{first['index']}")
    # Prefetching fills in every column; a segment shows it is computing until a click on it
    # could repaint every column.
    ops.poll(lambda: _computing(page), lambda c: c == [], "every column's scores", 300)
    ops.stable(lambda: _compare_overlays(page), "the overlays")

    # Clicks in every column, each on a segment other than the one selected before.
    targets = [(1, columns[col_ids[1]][1]), (0, first), (2, columns[col_ids[2]][-1]),
               (0, columns[col_ids[0]][1])]
    timings = []
    for col, seg in targets:
        got = page.locator(ops.SEGMENT).nth(seg["order"]).evaluate(_CLICK_AND_READ_ALL)
        painted = got["columns"]
        assert len(painted) == 3, painted
        # Repainted within the click's own task: no server round trip in between.
        assert painted[col]["marks"] == [str(seg["index"])], painted[col]["marks"]
        assert not any(c["busy"] for c in painted), _diagnose(page)
        timings.append(got)
        ops.wait_for_url_param(page, "sel", f"{col}:{seg['index']}")  # the server is told after
        settled = ops.stable(lambda: _compare_overlays(page),
                             "the overlays after the server answered")
        # Every column shows what the server draws for the selection: its matching segment
        # (or none) with that selection's scores on its colour scale.
        assert [(c["marks"], c["values"]) for c in settled] == \
            [(c["marks"], c["values"]) for c in painted]

    # Shift-click extends the range in its column, and every column's picker shows its
    # matching range at once (from the matches of the ends); the server computes the range.
    lo, hi = columns[col_ids[0]][0], columns[col_ids[0]][1]  # the last click was on `hi`
    marked = page.locator(ops.SEGMENT).nth(lo["order"]).evaluate(_SHIFT_CLICK_AND_READ)
    ops.wait_for_url_param(page, "sel", f"0:{lo['index']}-{hi['index']}")
    assert marked[0] == [lo["index"], hi["index"]], marked
    assert ops.stable(lambda: page.evaluate(_PICKED), "the pickers") == marked
    ops.poll(lambda: _compare_overlays(page)[0]["marks"],
             lambda m: m == [str(lo["index"]), str(hi["index"])], "the range's overlay")

    # Tab + Enter selects from the keyboard, in any column.
    last = columns[col_ids[2]][0]
    page.locator(ops.SEGMENT).nth(last["order"]).focus()
    page.keyboard.press("Enter")
    ops.wait_for_url_param(page, "sel", f"2:{last['index']}")
    ops.poll(lambda: _compare_overlays(page)[2]["marks"], lambda m: m == [str(last["index"])],
             "the keyboard selection's overlay")
    ops.assert_no_traceback(page)

    figure = {"click_to_mutation_ms": [t["mutation_ms"] for t in timings],
              "click_to_next_frame_ms": [t["paint_ms"] for t in timings],
              "columns": 3, "target_ms": 50}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "reclick-compare-benchmark.json").write_text(json.dumps(figure, indent=1))
    print("compare re-click benchmark:", figure)
