"""Reviewer notes in a real browser: a second browser (another owner) adds a note with a verdict
to a shared run; the sharer sees it after a reload, with no Retract button on it."""

from __future__ import annotations

import pytest

from tests.browser import pageops as ops
from tests.hostile_corpus import PWN_FLAG

pytestmark = pytest.mark.browser

NOTE = f"<script>window.{PWN_FLAG}='note'</script> The second sentence drives this word."
NAME = "Reviewer B <b>"


def _notes_text(page) -> str:  # noqa: ANN001
    return " ".join(page.locator(".studio-note").all_inner_texts())


def _choose(page, box, option: str) -> None:  # noqa: ANN001
    """Pick `option` in a selectbox, again if a rerun redrawn meanwhile closed its list."""
    from playwright.sync_api import Error as PlaywrightError

    def attempt() -> str:
        try:
            box.click(timeout=5_000)
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
        except PlaywrightError:  # the list closed under the pointer: look, then try again
            pass
        page.wait_for_timeout(500)
        return box.input_value() if box.count() else ""

    ops.poll(attempt, lambda v: option in v, f"'{option}' chosen", every_s=0.5)


def _open_link(page, url: str) -> None:  # noqa: ANN001
    """Open the link with room for a busy machine (the page's `load` can take long there)."""
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.locator("[data-testid='stApp']").wait_for(timeout=120_000)


def test_note_from_a_second_browser_shows_for_the_sharer(tiny_server, new_context) -> None:  # noqa: ANN001
    sharer = new_context().new_page()
    ops.open_app(sharer, tiny_server.url, params="g=words")
    segs = ops.generate(sharer, min_segments=1)
    ops.click_segment(sharer, segs[0]["index"])
    ops.wait_for_url_param(sharer, "sel", str(segs[0]["index"]))
    ops.click_button(sharer, "Share")
    run_id = ops.poll(lambda: ops.url_params(sharer).get("run", [None])[0], bool,
                      "run= in the URL")
    ops.poll(lambda: ops.app_text(sharer), lambda t: "Reviewer notes" in t,
             "the notes of the shared run")

    # Another browser (its own cookies: another owner) opens the link and adds a note.
    reviewer = new_context().new_page()
    _open_link(reviewer, f"{tiny_server.url}/?run={run_id}")
    name = reviewer.get_by_role("textbox", name="Your display name (shown with your note)")
    name.wait_for(timeout=120_000)
    ops.commit_text(name, NAME, textarea=False)
    box = reviewer.get_by_role("combobox", name="Verdict (optional)")
    _choose(reviewer, box, "Model problem")
    ops.commit_text(reviewer.get_by_role("textbox", name="Note", exact=True), NOTE,
                    textarea=True)
    ops.click_button(reviewer, "Add note")
    ops.poll(lambda: _notes_text(reviewer), lambda t: "second sentence" in t,
             "the note in the reviewer's thread")
    ops.poll(reviewer.get_by_role("button", name="Retract my note").count, lambda n: n == 1,
             "a Retract button on the reviewer's own note")
    assert "No verdict" in box.input_value()  # the form is reset for the next note
    ops.assert_no_traceback(reviewer)

    # The sharer reloads: the note, its author's label and verdict, as text.
    sharer.reload(wait_until="domcontentloaded", timeout=120_000)
    text = ops.poll(lambda: _notes_text(sharer), lambda t: "second sentence" in t,
                    "the reviewer's note after the reload")
    assert NOTE in text and NAME in text and "Model problem" in text, text
    ops.poll(lambda: ops.app_text(sharer), lambda t: "Latest verdict: Model problem" in t,
             "the latest verdict")
    assert sharer.get_by_role("button", name="Retract my note").count() == 0  # not theirs
    for page in (sharer, reviewer):
        assert page.evaluate(f"() => window.{PWN_FLAG} === undefined")
        assert page.locator(".studio-note script").count() == 0
    ops.assert_no_traceback(sharer)
