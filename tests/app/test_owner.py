"""Who owns saved runs: a cookie (never the URL) for anonymous browsers, the identity if signed in.

The AppTest tests stand in for the browser's cookie by patching `_request_cookies` (AppTest cannot
send cookies); the browser test checks the real round trip: the snippet writes the cookie, a
reload sends it back, and the URL never carries the id.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lib.ui import owner as owner_mod
from tests.app.conftest import make_app, no_crash

ANON = "k" * 24


def test_resolve_owner_prefers_identity_then_session_then_cookie():
    assert owner_mod.resolve_owner("Ada@Example.org", {"studio_owner": ANON}, None, "n" * 24) == (
        "user:ada@example.org", None)
    assert owner_mod.resolve_owner(None, {"studio_owner": ANON}, "s" * 24, "n" * 24) == (
        "anon:" + "s" * 24, "s" * 24)
    assert owner_mod.resolve_owner(None, {"studio_owner": ANON}, None, "n" * 24) == (
        "anon:" + ANON, ANON)
    assert owner_mod.resolve_owner(None, {}, None, "n" * 24) == ("anon:" + "n" * 24, "n" * 24)


@pytest.mark.parametrize("bad", ["short", "x" * 65, "a;b=c" * 5, "<script>alert(1)</script>", ""])
def test_malformed_cookie_is_replaced_by_a_fresh_id(bad):
    assert owner_mod.resolve_owner(None, {"studio_owner": bad}, None, "n" * 24) == (
        "anon:" + "n" * 24, "n" * 24)


@pytest.mark.usefixtures("studio_env")
def test_owner_in_url_is_stripped_and_never_adopted(monkeypatch):
    """A copied address bar with ?owner= must not hand over that browser's runs list."""
    from lib.runs import default_store

    victim = "v" * 24
    default_store().save({"model": {"name": "tiny"}}, owner="anon:" + victim,
                         title="Victim's private run")
    monkeypatch.setattr(owner_mod, "_request_cookies", lambda: {})
    at = make_app()
    at.query_params["owner"] = victim
    at.run()
    no_crash(at)
    assert "owner" not in at.query_params
    assert at.session_state["studio_owner"] != victim
    runs = make_app("app_pages/runs.py")
    runs.query_params["owner"] = victim
    runs.run()
    no_crash(runs)
    assert "Victim's private run" not in [t.value for t in runs.text_input]


@pytest.mark.usefixtures("studio_env")
def test_cookie_owner_sees_own_runs_and_url_stays_clean(monkeypatch):
    from lib.runs import default_store

    me = "c" * 24
    default_store().save({"model": {"name": "tiny"}}, owner="anon:" + me, title="Cookie run")
    monkeypatch.setattr(owner_mod, "_request_cookies", lambda: {"studio_owner": me})
    at = make_app("app_pages/runs.py")
    at.run()
    no_crash(at)
    assert "Cookie run" in [t.value for t in at.text_input]
    shell = make_app()
    shell.run()
    no_crash(shell)
    assert shell.session_state["studio_owner"] == me
    assert all(me not in str(v) for v in shell.query_params.values())


@pytest.mark.usefixtures("studio_env")
def test_signed_in_user_is_the_owner(monkeypatch):
    from lib.runs import default_store

    default_store().save({"model": {"name": "tiny"}}, owner="user:ada@example.org",
                         title="Ada's run")
    monkeypatch.setattr(owner_mod, "_signed_in_email", lambda: "Ada@example.org")
    monkeypatch.setattr(owner_mod, "_request_cookies", lambda: {"studio_owner": ANON})
    at = make_app("app_pages/runs.py")
    at.run()
    no_crash(at)
    assert "Ada's run" in [t.value for t in at.text_input]


def test_no_pages_directory_for_streamlit_to_auto_detect():
    """With a `pages/` folder next to app.py, Streamlit 1.67 runs the first session of a fresh
    server in its v1 multipage mode (sidebar "app, compare, debug, runs", no app shell) until
    st.navigation has run once. Our page scripts live in app_pages/ instead."""
    root = Path(__file__).resolve().parents[2]
    assert not (root / "pages").exists()
    assert (root / "app_pages" / "debug.py").exists()


@pytest.mark.browser
def test_real_browser_keeps_owner_in_cookie_not_url(tmp_path: Path):
    """Open the app: a cookie appears, the URL has no id; a run saved for that id is listed after
    a reload; another browser context (a colleague) does not see it."""
    from playwright.sync_api import sync_playwright

    from tests.browser.harness import AppServer, block_outside_hosts, launch_browser

    server = AppServer(env={"STUDIO_MODEL": "tiny"}, data_dir=tmp_path).start()
    try:
        with sync_playwright() as pw:
            browser = launch_browser(pw)
            ctx = browser.new_context()
            blocked: list[str] = []
            block_outside_hosts(ctx, blocked)
            page = ctx.new_page()
            page.goto(f"{server.url}/runs?owner=" + "v" * 24)
            page.locator("[data-testid='stApp']").wait_for()
            deadline = time.monotonic() + 60
            cookie = None
            while cookie is None and time.monotonic() < deadline:
                cookie = next((c for c in ctx.cookies() if c["name"] == "studio_owner"), None)
                time.sleep(0.25)
            assert cookie is not None, "the app did not set its owner cookie"
            # A fresh server opened on a sub-page still shows st.navigation's titles, not
            # Streamlit's auto-detected file names.
            nav = page.locator("[data-testid='stSidebarNav']").inner_text()
            assert "Saved runs" in nav and "app" not in nav.split(), nav
            oid = cookie["value"]
            assert oid != "v" * 24 and owner_mod.is_valid_anonymous_id(oid)
            assert cookie["sameSite"] == "Strict"
            while "owner=" in page.url and time.monotonic() < deadline:
                time.sleep(0.25)
            assert "owner=" not in page.url and oid not in page.url

            from lib.runs import RunStore

            RunStore(tmp_path / "runs.sqlite3").save({"model": {"name": "tiny"}}, owner="anon:" + oid,
                              title="Saved from this browser")
            page.reload()
            page.get_by_text("Saved from this browser").first.wait_for(timeout=60_000)
            assert oid not in page.url

            other = browser.new_context()
            block_outside_hosts(other, blocked)
            op = other.new_page()
            op.goto(f"{server.url}/runs")
            op.get_by_text("You have not shared or saved any runs").wait_for(timeout=60_000)
            assert "Saved from this browser" not in op.locator(
                "[data-testid='stApp']").inner_text()
            assert not blocked, blocked
            browser.close()
    finally:
        server.stop()
