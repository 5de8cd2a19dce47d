"""What the browser tests do to the app and read back from it (the app's test contract).

Contract (issue 3): output segments carry `data-segment-index` (inside the components-v2 element,
an open shadow root; Playwright's CSS locators pierce it); coloured overlay spans carry
`data-salience`, `data-token-start`, `data-token-end`, `data-segment-index`; selected ones have
class `selected`. URL parameters `g` (granularity), `m` (method), `sel`, `run`.

Salience by part (Debug): the parts chart is the plotly chart titled "Prompt parts by salience";
its bars are plotly's `g.trace.bars g.point` (bottom-up: the last is the largest |score|).
Clicking a bar highlights that part: overlay spans in it get class `in-part` and
`data-highlight-part="<part id>"`, and a `.part-focus[data-part-id]` box spells the part out.

Output x prompt matrix (Debug): the plotly chart in the expander "Output × prompt matrix"; rows
are the output segments top to bottom, columns the prompt segments left to right (one tick
label each), cells filling the plot area (`.nsewdrag`) evenly. Clicking a cell selects its output
segment (class `selected`, as a click on the output does) and outlines its prompt segment:
overlay spans of that segment get class `matrix-column` and `data-matrix-column="<prompt
segment index>"`.

Waits poll the page with a deadline: a hang guard, never a performance assertion.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

# Output segments = elements with a segment index that are not overlay spans (overlay spans carry
# token bounds, and `data-salience` once scored; unscored prompt spans have no `data-salience`).
SEGMENT = "[data-segment-index]:not([data-salience]):not([data-token-start])"
OVERLAY = "[data-salience]"
RUN_ID = re.compile(r"[?&]run=([A-Za-z0-9_-]{16,})")

T = TypeVar("T")

# For one element: which st.columns column it is in (crossing shadow-root boundaries), or -1.
_COLUMN_JS = """
(el) => {
  const cols = Array.from(document.querySelectorAll('[data-testid="stColumn"]'));
  let node = el;
  while (node) {
    if (node.matches && node.matches('[data-testid="stColumn"]')) {
      // innermost column wins; report the outermost row's column (a variant column)
      let outer = node, up = node.parentElement;
      while (up) {
        if (up.matches('[data-testid="stColumn"]')) outer = up;
        up = up.parentElement;
      }
      return cols.indexOf(outer);
    }
    node = node.parentElement || (node.getRootNode && node.getRootNode().host) || null;
  }
  return -1;
}
"""

_READ_OVERLAY_JS = (
    """
(els) => { const col = """
    + _COLUMN_JS
    + """;
  return els.filter(e => e.getClientRects().length > 0).map(e => ({
    salience: e.getAttribute('data-salience'),
    start: e.getAttribute('data-token-start'),
    end: e.getAttribute('data-token-end'),
    segment: e.getAttribute('data-segment-index'),
    selected: e.classList.contains('selected'),
    background: getComputedStyle(e).backgroundColor,
    text: e.textContent,
    column: col(e),
  })); }
"""
)

_READ_SEGMENTS_JS = (
    """
(els) => { const col = """
    + _COLUMN_JS
    + """;
  return els.map((e, i) => ({
    order: i,
    visible: e.getClientRects().length > 0,
    index: Number(e.getAttribute('data-segment-index')),
    selected: e.classList.contains('selected'),
    text: e.textContent,
    column: col(e),
  })).filter(e => e.visible); }
"""
)

# The deepest focused element, through shadow roots.
_ACTIVE_SEGMENT_JS = """
(sel) => { let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  return a && a.matches(sel) ? Number(a.getAttribute('data-segment-index')) : null; }
"""


def poll(
    read: Callable[[], T],
    ok: Callable[[T], bool],
    what: str,
    timeout_s: float = 60,
    every_s: float = 0.25,
) -> T:
    """Read until `ok(value)`; AssertionError naming `what` (and the last value) otherwise."""
    deadline = time.monotonic() + timeout_s
    value = read()
    while not ok(value):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s:.0f} s waiting for {what}; last: {str(value)[:2000]}"
            )
        time.sleep(every_s)
        value = read()
    return value


def overlay(page: Any) -> list[dict[str, Any]]:
    return page.locator(OVERLAY).evaluate_all(_READ_OVERLAY_JS)


def segments(page: Any) -> list[dict[str, Any]]:
    return page.locator(SEGMENT).evaluate_all(_READ_SEGMENTS_JS)


def selected_segments(page: Any, column: int | None = None) -> list[int]:
    return [
        s["index"]
        for s in segments(page)
        if s["selected"] and (column is None or s["column"] == column)
    ]


def active_segment(page: Any) -> int | None:
    return page.evaluate(_ACTIVE_SEGMENT_JS, SEGMENT)


def app_text(page: Any) -> str:
    return page.locator("[data-testid='stApp']").inner_text()


def assert_no_traceback(page: Any) -> None:
    shown = page.locator("[data-testid='stException']")
    assert shown.count() == 0, f"the app shows a traceback:\n{shown.first.inner_text()[:2000]}"


def stable(read: Callable[[], T], what: str, timeout_s: float = 60, settle_s: float = 1.0) -> T:
    """The value once it stops changing for `settle_s` (Streamlit reruns redraw in steps)."""
    deadline = time.monotonic() + timeout_s
    last = read()
    since = time.monotonic()
    while time.monotonic() - since < settle_s:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} kept changing for {timeout_s:.0f} s")
        time.sleep(0.25)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
    return last


# The suite's shared server is busy with earlier tests' background work (prefetching for
# sessions that are gone), so a fresh page can take over half a minute to draw on 2 cores
# (seen in clean-clone runs: 24 s, and once past Playwright's default 30 s).
OPEN_TIMEOUT_MS = 120_000


def open_app(page: Any, base_url: str, path: str = "", params: str = "") -> None:
    page.goto(f"{base_url}/{path}{'?' + params if params else ''}", timeout=OPEN_TIMEOUT_MS)
    page.locator("[data-testid='stApp']").wait_for(timeout=OPEN_TIMEOUT_MS)


def generate(
    page: Any, label: str = "Generate", timeout_s: float = 180, min_segments: int = 1
) -> list[dict[str, Any]]:
    """Click the button and wait for output segments (the model may still be loading)."""
    click_button(page, label, timeout_s)
    segs, errors = poll(
        lambda: (segments(page), error_messages(page)),
        lambda v: len(v[0]) >= min_segments or bool(v[1]),
        f"at least {min_segments} output segment(s) after '{label}'",
        timeout_s,
    )
    assert len(segs) >= min_segments, f"'{label}' failed; the app says: {errors}"
    return segs


def open_generate_and_select_first(page: Any, base_url: str) -> tuple[list[dict[str, Any]], int]:
    """Debug at word granularity: Generate, click the first output segment and wait for its
    overlay; returns (the output segments, the selected index)."""
    open_app(page, base_url, params="g=words")
    segs = generate(page, min_segments=1)
    index = segs[0]["index"]
    click_segment(page, index)
    poll(lambda: overlay_marks(overlay(page)), lambda m: m == {str(index)},
         f"the overlay for segment {index}")
    return segs, index


def error_messages(page: Any) -> list[str]:
    """Texts of the st.error boxes on the page."""
    return page.locator("[data-testid='stAlertContentError']").all_inner_texts()


def click_segment(page: Any, index: int, **kwargs: Any) -> None:
    """Click the (first visible) output segment with this index."""
    page.locator(f"{SEGMENT}[data-segment-index='{index}']").locator("visible=true").first.click(
        **kwargs
    )


def click_nth_segment(page: Any, order: int, **kwargs: Any) -> None:
    """Click the `order`-th output segment element of the page (`segments()[k]["order"]`)."""
    page.locator(SEGMENT).nth(order).click(**kwargs)


def by_column(items: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        out.setdefault(item["column"], []).append(item)
    return dict(sorted(out.items()))


def colour_key(entry: dict[str, Any]) -> tuple[str, str, str]:
    return (entry["start"], entry["end"], entry["background"])


def salience_key(entry: dict[str, Any]) -> tuple[str, str, str]:
    return (entry["start"], entry["end"], entry["salience"])


def check_overlay_contract(spans: list[dict[str, Any]]) -> None:
    """Every overlay span has finite numbers and integer token bounds; same score, same colour."""
    assert spans, "no overlay spans"
    colour_of: dict[str, str] = {}
    for s in spans:
        value = float(s["salience"])
        assert math.isfinite(value), s
        start, end = int(s["start"]), int(s["end"])
        assert 0 <= start <= end, s
        # The colour is a function of the number it is coloured by.
        previous = colour_of.setdefault(s["salience"], s["background"])
        assert previous == s["background"], (
            f"two spans with data-salience={s['salience']} have different colours:"
            f" {previous} and {s['background']}"
        )


def live_url(page: Any) -> str:
    """The address the browser shows now.

    Not `page.url`: Playwright's sync API updates that attribute only while it handles events,
    which happens inside Playwright calls, never during `time.sleep`. A loop that reads only
    `page.url` therefore keeps seeing the address from before the app's last
    `history.pushState`. Asking the page costs a round trip and is always current.
    """
    return page.evaluate("() => window.location.href")


def url_params(page: Any) -> dict[str, list[str]]:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(live_url(page)).query)


def run_id_on_page(page: Any) -> str | None:
    match = RUN_ID.search(live_url(page)) or RUN_ID.search(app_text(page))
    if match is None:
        for href in page.locator("a[href*='run=']").evaluate_all("els => els.map(e => e.href)"):
            match = RUN_ID.search(href)
            if match:
                break
    return match.group(1) if match else None


def overlay_marks(spans: list[dict[str, Any]]) -> set[str]:
    """Segment indices of the overlay spans outlined as the selected target."""
    return {s["segment"] for s in spans if s["selected"]}


def wait_for_url_param(page: Any, name: str, value: str, timeout_s: float = 30) -> None:
    """Wait until the browser's address has `name=value` (read live, see `live_url`)."""
    poll(
        lambda: url_params(page).get(name, []),
        lambda v: v == [value],
        f"URL parameter {name}={value}",
        timeout_s,
    )


def screenshot(page: Any, path: Any, near: str | None = None, block: str = "center") -> None:
    """Screenshot the viewport, scrolled to the first element matching `near` (Streamlit's main
    area scrolls inside the page, so a full-page screenshot would not show more)."""
    if near is not None and page.locator(near).count():
        page.locator(near).first.evaluate("(e, b) => e.scrollIntoView({block: b})", block)
        page.wait_for_timeout(300)  # let the scroll paint
    page.screenshot(path=str(path))


def click_button(page: Any, label: str, timeout_s: float = 60) -> None:
    """Click the button labelled `label` once there is exactly one (while a rerun is drawn,
    Streamlit can briefly show the old and the new copy of an element)."""
    button = page.get_by_role("button", name=label, exact=True)
    poll(button.count, lambda n: n == 1, f"exactly one '{label}' button", timeout_s)
    button.click(timeout=timeout_s * 1000)


PARTS_TITLE = "Prompt parts by salience"


def parts_chart(page: Any) -> Any:
    """The Debug page's parts chart (a Playwright locator)."""
    return page.locator("[data-testid='stPlotlyChart']").filter(has_text=PARTS_TITLE)


def part_bars(page: Any) -> Any:
    """The bars of the parts chart (a Playwright locator), bottom-up."""
    return parts_chart(page).locator("g.trace.bars g.point path")


def click_part_bar(page: Any, order: int = -1) -> None:
    """Click the `order`-th bar of the parts chart (default: the top one, the largest |score|)
    at its centre, as a mouse does (plotly listens on its drag layer, not on the bar)."""
    chart = parts_chart(page)
    poll(chart.count, lambda n: n == 1, "the parts chart")
    chart.scroll_into_view_if_needed()  # plotly draws a chart once it is on screen
    bars = part_bars(page)
    poll(bars.count, lambda n: n > 0, "the bars of the parts chart")
    bar = bars.nth(order if order >= 0 else bars.count() + order)
    bar.scroll_into_view_if_needed()
    box = poll(bar.bounding_box, lambda b: b is not None and b["width"] > 0, "a visible bar")
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def highlighted_parts(page: Any) -> set[str]:
    """The part ids the overlay outlines (`data-highlight-part` of its spans)."""
    return set(page.locator("[data-highlight-part]").evaluate_all(
        "els => els.map(e => e.getAttribute('data-highlight-part'))"))


def part_focus(page: Any) -> list[str]:
    """`data-part-id` of the highlighted part's box under the chart (at most one)."""
    return page.locator(".part-focus[data-part-id]").evaluate_all(
        "els => els.map(e => e.getAttribute('data-part-id'))")


def choose(page: Any, option: str, then: Any, timeout_s: float = 180) -> None:
    """Click a radio option until the input it reveals (`then`, a locator) shows: a click that
    lands while the first run is still being drawn can be lost, and a loaded machine can take
    long to draw the option at all."""
    from playwright.sync_api import Error as PlaywrightError

    def attempt() -> int:
        try:
            page.get_by_text(option, exact=True).click(timeout=5_000)
        except PlaywrightError:  # not drawn yet: try again until the deadline
            pass
        return then.count()

    poll(attempt, bool, f"the input behind '{option}'", timeout_s, every_s=1.0)
    then.first.wait_for(state="visible")


def commit_text(locator: Any, text: str, textarea: bool) -> None:
    """Type into a text input or area and commit it, as Streamlit wants (Enter / Ctrl+Enter)."""
    locator.fill(text)
    locator.press("Control+Enter" if textarea else "Enter")


MATRIX_TITLE = "Output × prompt matrix"


def open_expander(page: Any, title: str) -> None:
    """Open the expander whose summary has `title` (clicked only while closed: a second click
    would close it again; a summary redrawn under the pointer is looked up again)."""
    summary = page.locator("summary").filter(has_text=title)
    poll(summary.count, lambda n: n == 1, f"the expander '{title}'")

    def is_open() -> bool:
        try:
            if not summary.evaluate("s => s.parentElement.open", timeout=5_000):
                summary.scroll_into_view_if_needed(timeout=5_000)
                summary.click(timeout=5_000)
            return bool(summary.evaluate("s => s.parentElement.open", timeout=5_000))
        except Exception:  # noqa: BLE001 - redrawn under the pointer: look again
            return False

    poll(is_open, bool, f"the expander '{title}' open", every_s=1.0)


def open_matrix(page: Any) -> Any:
    """Open the matrix's expander; return its plotly chart (a Playwright locator)."""
    open_expander(page, MATRIX_TITLE)
    # The one chart with a heatmap (plotly draws it as an image in its heatmap layer).
    chart = page.locator("[data-testid='stPlotlyChart']:has(.heatmaplayer image)")
    poll(chart.count, lambda n: n == 1, "the matrix chart in its opened expander")
    return chart


def click_matrix_cell(page: Any, chart: Any, row: int, col: int) -> None:
    """Click the centre of cell (row, col) of the matrix chart, as a mouse does (plotly listens
    on its drag layer): the plot area split evenly by the number of tick labels."""
    chart.scroll_into_view_if_needed()  # plotly draws a chart once it is on screen
    area = chart.locator(".nsewdrag").first
    box = poll(area.bounding_box, lambda b: b is not None and b["width"] > 0,
               "the matrix's plot area")
    n_cols = chart.locator("g.xtick").count()
    n_rows = chart.locator("g.ytick").count()
    assert 0 <= row < n_rows and 0 <= col < n_cols, (row, col, n_rows, n_cols)
    page.mouse.click(box["x"] + (col + 0.5) * box["width"] / n_cols,
                     box["y"] + (row + 0.5) * box["height"] / n_rows)


def matrix_columns(page: Any) -> set[str]:
    """The prompt segment indices the overlay outlines for the matrix (`data-matrix-column`)."""
    return set(page.locator("[data-matrix-column]").evaluate_all(
        "els => els.map(e => e.getAttribute('data-matrix-column'))"))
