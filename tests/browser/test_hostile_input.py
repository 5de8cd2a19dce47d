"""Hostile text in a real browser (tiny model): nothing runs, markup shows as text, invisible
characters show as markers with a tooltip, everywhere the text is shown.

Every active payload in tests/hostile_corpus.py would set `window.__pwned` if it ran; the
checks read it in every frame (shadow roots share their document's window) and fail on any
dialog. Requests to other hosts are already aborted and fail the test (conftest).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser import pageops as ops
from tests.hostile_corpus import ACTIVE, BIDI_TRICK, INVISIBLE, PWN_FLAG, marker

pytestmark = pytest.mark.browser

PROMPT = "\n".join(p.text for p in ACTIVE) + "\n" + BIDI_TRICK + "\nend " + "y" * 400
TARGET = " " + ACTIVE[0].text + " " + ACTIVE[1].text + " \u202ebidi\u200b"


def _guard(page) -> list[str]:  # noqa: ANN001
    """Record every dialog (alert/confirm/prompt would mean a payload ran)."""
    dialogs: list[str] = []

    def on_dialog(d) -> None:  # noqa: ANN001
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def assert_inert(page, dialogs: list[str]) -> None:  # noqa: ANN001
    for frame in page.frames:
        try:
            flag = frame.evaluate(f"() => window.{PWN_FLAG} ?? null")
        except Exception:  # noqa: BLE001 - a detached frame has nothing left to run
            continue
        assert flag is None, f"payload {flag} ran in frame {frame.url}"
    assert dialogs == []
    # No element a payload would have created, in the page or in any open shadow root.
    created = page.evaluate(
        """() => { const out = []; const walk = (root) => {
             for (const el of root.querySelectorAll('*')) {
               const t = el.tagName.toLowerCase();
               if (t === 'iframe' && el.hasAttribute('srcdoc')) out.push('iframe[srcdoc]');
               if (t === 'img' && el.getAttribute('src') === 'x') out.push('img[src=x]');
               if (t === 'svg' && el.hasAttribute('onload')) out.push('svg[onload]');
               if (t === 'details' && el.hasAttribute('ontoggle')) out.push('details');
               if (t === 'a' && /^javascript:/i.test(el.getAttribute('href') || ''))
                 out.push('a[href=javascript:]');
               if (el.shadowRoot) walk(el.shadowRoot);
             } };
           walk(document); return out; }"""
    )
    assert created == [], f"markup from the payloads became elements: {created}"


_SHOWN = ".salience-text, .seg-root, .target-box, .prompt-diff, [data-testid='stCode']"


def _deep_text(page) -> str:  # noqa: ANN001
    """Text the app *shows* as output, overlay, target, diff or preview (not the inputs the test
    typed into), including open shadow roots (the segment picker lives in one)."""
    return page.evaluate(
        """(sel) => { const parts = []; const walk = (root) => {
             for (const el of root.querySelectorAll(sel)) parts.push(el.textContent || '');
             for (const el of root.querySelectorAll('*')) if (el.shadowRoot) walk(el.shadowRoot);
           }; walk(document); return parts.join('\\n'); }""",
        _SHOWN,
    )


def _markers(page) -> dict[str, str]:  # noqa: ANN001
    """Visible marker text -> tooltip, for the overlay's and the picker's markers."""
    return dict(page.evaluate(
        """() => { const out = []; const walk = (root) => {
             for (const el of root.querySelectorAll('.invisible-char, .seg-mark'))
               out.push([el.textContent, el.title]);
             for (const el of root.querySelectorAll('*')) if (el.shadowRoot) walk(el.shadowRoot);
           }; walk(document); return out; }"""
    ))


def _commit(locator, text: str, textarea: bool) -> None:  # noqa: ANN001
    locator.fill(text)
    locator.press("Control+Enter" if textarea else "Enter")


def _choose(page, option: str, then, state: str = "visible") -> None:  # noqa: ANN001
    """Click a radio option until the input it reveals shows (a click that lands while the
    first run is still being drawn can be lost)."""
    ops.poll(lambda: (page.get_by_text(option, exact=True).click(), then.count())[1], bool,
             f"the input behind '{option}'", every_s=1.0)
    then.first.wait_for(state=state)


def _debug_with_hostile_text(page, url: str) -> None:  # noqa: ANN001
    ops.open_app(page, url, params="g=words")
    box = page.get_by_label("Prompt", exact=True)
    _choose(page, "Raw prompt", box)
    _commit(box, PROMPT, textarea=True)
    target = page.get_by_label("Target text (e.g. ' Avoid.')")
    _choose(page, "A target I type", target)
    _commit(target, TARGET, textarea=False)
    ops.generate(page, min_segments=2)
    ops.assert_no_traceback(page)


def _check_page(page, dialogs: list[str]) -> None:  # noqa: ANN001
    assert_inert(page, dialogs)
    text = _deep_text(page)
    for p in ACTIVE:
        if p.id in ("md-image",):
            continue
        assert p.visible in text, f"{p.id}: {p.visible!r} is not shown as text"
    marks = _markers(page)
    for ch in ("\u202e", "\u2066", "\u2069", "\u200b"):
        shown = [title for label, title in marks.items() if f"U+{ord(ch):04X}" in label]
        assert shown and all(f"U+{ord(ch):04X}" in t for t in shown), (ch, marks)
    # The raw reordering characters never reach the page's visible text.
    assert "\u202e" not in page.locator("[data-testid='stApp']").inner_text()


def test_hostile_prompt_and_target_are_inert_shared_and_exported(
        tiny_server, new_context, tmp_path: Path) -> None:  # noqa: ANN001
    page = new_context(accept_downloads=True).new_page()
    dialogs = _guard(page)
    _debug_with_hostile_text(page, tiny_server.url)
    segs = ops.segments(page)
    chosen = segs[0]["index"]
    ops.click_segment(page, chosen)
    ops.poll(lambda: ops.overlay_marks(ops.overlay(page)), lambda m: m == {str(chosen)},
             "the overlay for the clicked hostile segment")
    _check_page(page, dialogs)

    # Share, then open the link in a fresh context (a colleague).
    ops.click_button(page, "Share")
    run_id = ops.poll(lambda: ops.run_id_on_page(page), bool, "a ?run= link")
    other = new_context().new_page()
    other_dialogs = _guard(other)
    ops.open_app(other, tiny_server.url, params=f"run={run_id}")
    ops.poll(lambda: ops.overlay_marks(ops.overlay(other)), lambda m: m == {str(chosen)},
             "the shared view's overlay")
    _check_page(other, other_dialogs)
    ops.assert_no_traceback(other)

    # The stored run keeps every character exactly.
    from lib.runs import RunStore

    saved = RunStore(tiny_server.data_dir / "runs.sqlite3").get(run_id)
    assert saved is not None
    assert saved.record["prompt"] == PROMPT
    assert saved.record["sequence"]["target"] == TARGET

    # Saved runs lists it (title = first prompt line) as text.
    runs = new_context().new_page()
    runs_dialogs = _guard(runs)
    ops.open_app(runs, tiny_server.url, path="runs")
    assert_inert(runs, runs_dialogs)
    ops.assert_no_traceback(runs)

    # The exported report, as downloaded, loaded into a page.
    with page.expect_download() as dl:
        page.get_by_role("button", name="Export HTML report").click()
    report = tmp_path / "report.html"
    dl.value.save_as(str(report))
    html = report.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in html and "<script" not in html.lower().replace(
        "&lt;script", "")
    view = new_context().new_page()
    view_dialogs = _guard(view)
    # set_content, not file:// (the test contexts abort every scheme but 127.0.0.1 and data:);
    # the report's own CSP meta applies either way.
    view.set_content(html)
    assert_inert(view, view_dialogs)
    body = view.locator("body").inner_text()
    for p in ACTIVE[:10]:
        assert p.visible in body, p.id
    assert marker("\u202e") in body and "\u202e" not in body
    tooltip = view.locator(".invisible-char", has_text=marker("\u202e")).first
    assert "RIGHT-TO-LEFT OVERRIDE" in tooltip.get_attribute("title")


def test_hostile_template_variable_upload_and_compare(tiny_server, page, tmp_path) -> None:  # noqa: ANN001
    dialogs = _guard(page)
    hostile = ACTIVE[0].text + ACTIVE[1].text + "\u202e" + "".join(INVISIBLE[4:8])
    ops.open_app(page, tiny_server.url)
    var = page.get_by_label("menu_item", exact=True)
    var.wait_for()
    _commit(var, hostile, textarea=False)
    ops.poll(lambda: ACTIVE[0].visible in _deep_text(page), bool, "the preview with the value")
    assert_inert(page, dialogs)

    # A .jsonl upload whose fields are hostile: the row picker shows them as text.
    rows = tmp_path / "hostile.jsonl"
    rows.write_text(json.dumps({"prompt": hostile, "target": ACTIVE[2].text,
                                "source": ACTIVE[4].text}) + "\n", encoding="utf-8")
    dropzone = page.locator("[data-testid='stFileUploaderDropzoneInput']")
    _choose(page, "Upload .jsonl", dropzone, state="attached")  # a hidden file input
    dropzone.set_input_files(str(rows))
    # The row picker (a selectbox) shows its label as the text value of its input.
    ops.poll(lambda: ACTIVE[4].visible in " ".join(page.locator(
        "[data-testid='stSelectbox'] input").evaluate_all("els => els.map(e => e.value)")) +
        _deep_text(page), bool, "the row label as text")
    assert_inert(page, dialogs)
    ops.assert_no_traceback(page)

    # Compare with the hostile variable (shared by all variants): generate all three.
    ops.open_app(page, tiny_server.url, path="compare", params="g=words")
    var = page.get_by_label("menu_item", exact=True).first
    var.wait_for()
    _commit(var, hostile, textarea=False)
    ops.click_button(page, "Generate all", timeout_s=180)
    ops.poll(lambda: len(ops.by_column(ops.segments(page))), lambda n: n >= 2,
             "outputs in the variant columns", timeout_s=240)
    ops.assert_no_traceback(page)
    assert_inert(page, dialogs)
    assert ACTIVE[0].visible in _deep_text(page)  # in the diff / overlays, as text


@pytest.mark.parametrize("params", [
    "g=%3Cimg%20src%3Dx%20onerror%3Dwindow.__pwned%3D1%3E",
    "run=%27%20OR%201%3D1%20--&sel=-1&m=%3Cscript%3Ewindow.__pwned%3D2%3C%2Fscript%3E",
    "model=..%2F..%2Fetc%2Fpasswd&sel=" + "9" * 30,
])
def test_hostile_url_parameters_in_the_browser(tiny_server, page, params) -> None:  # noqa: ANN001
    dialogs = _guard(page)
    ops.open_app(page, tiny_server.url, params=params)
    ops.poll(lambda: ops.error_messages(page), bool, "an error message for the bad link")
    ops.assert_no_traceback(page)
    assert_inert(page, dialogs)
