"""The app's own browser checks (one tiny-model server for the module): owner cookie, navigation
titles on a fresh server, the copyable absolute share link.

Helper-owned browser tests live in tests/browser/; these cover what AppTest cannot see.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.ui import owner as owner_mod
from tests.browser import pageops as ops

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.browser.harness import AppServer

    srv = AppServer(app=str(Path(__file__).resolve().parents[2] / "app.py"),
                    env={"STUDIO_MODEL": "tiny", "STUDIO_ALLOWED_MODELS": "tiny"},
                    data_dir=tmp_path_factory.mktemp("app-browser")).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def context(browser) -> Iterator[object]:  # noqa: ANN001
    from tests.browser.harness import block_outside_hosts

    blocked: list[str] = []
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    block_outside_hosts(ctx, blocked)
    yield ctx
    ctx.close()
    assert not blocked, f"the app tried to reach outside hosts: {blocked}"


def test_owner_lives_in_a_cookie_not_the_url(server, browser, context) -> None:  # noqa: ANN001
    """First visit of a fresh server on a sub page, with an old-style ?owner= link: the sidebar
    shows our titles, a cookie holds a new id, the URL loses the id. A run saved for that id is
    listed after a reload; a colleague's browser does not see it."""
    page = context.new_page()
    page.goto(f"{server.url}/runs?owner=" + "v" * 24)
    page.locator("[data-testid='stApp']").wait_for()
    cookie = ops.poll(
        lambda: next((c for c in context.cookies() if c["name"] == "studio_owner"), None),
        bool, "the owner cookie")
    oid = cookie["value"]
    assert oid != "v" * 24 and owner_mod.is_valid_anonymous_id(oid)
    assert cookie["sameSite"] == "Strict"
    nav = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert "Saved runs" in nav and "app" not in nav.split(), nav
    ops.poll(lambda: ops.live_url(page), lambda u: "owner=" not in u, "the URL to lose ?owner=")
    assert oid not in ops.live_url(page)

    from lib.runs import RunStore

    RunStore(Path(server.data_dir) / "runs.sqlite3").save(
        {"model": {"name": "tiny"}}, owner="anon:" + oid, title="Saved from this browser")
    page.reload()
    page.get_by_text("Saved from this browser").first.wait_for(timeout=60_000)
    assert oid not in ops.live_url(page)

    colleague = browser.new_context()
    other = colleague.new_page()
    other.goto(f"{server.url}/runs")
    other.get_by_text("You have not shared or saved any runs").wait_for(timeout=60_000)
    assert "Saved from this browser" not in ops.app_text(other)
    colleague.close()


def test_share_shows_an_absolute_link_that_opens_the_view(server, browser, context) -> None:  # noqa: ANN001
    page = context.new_page()
    ops.open_app(page, server.url, params="g=words")
    segs = ops.generate(page, min_segments=2)
    ops.click_segment(page, segs[1]["index"])
    ops.poll(lambda: ops.overlay_marks(ops.overlay(page)),
             lambda m: m == {str(segs[1]["index"])}, "the overlay", timeout_s=240)
    ops.wait_for_url_param(page, "sel", str(segs[1]["index"]))
    page.get_by_role("button", name="Share", exact=True).first.click()
    box = page.locator("[data-share-link]").first
    box.wait_for(timeout=60_000)
    link = ops.poll(box.input_value, lambda v: "run=" in v, "the share link")
    assert link.startswith(server.url + "/?run="), link
    assert page.get_by_role("button", name="Copy link").count() == 1
    colleague = browser.new_context()
    other = colleague.new_page()
    other.goto(link)
    ops.poll(lambda: ops.selected_segments(other), lambda s: s == [segs[1]["index"]],
             "the shared selection in a fresh browser")
    colleague.close()
