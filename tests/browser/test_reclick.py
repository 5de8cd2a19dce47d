"""Instant re-click: the Debug picker and overlay are one component holding the scores of every
single segment computed so far, so clicking a computed segment repaints the overlay in the
browser at once, before the server hears of the click; the server's answer matches it.

The click-to-paint time is a benchmark figure (printed, and written to
test-artifacts/reclick-benchmark.json), not a timed assertion.
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
