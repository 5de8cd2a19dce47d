"""Who owns saved runs: a cookie (never the URL) for anonymous browsers, the identity if signed in.

The AppTest tests stand in for the browser's cookie by patching `request_cookies` (AppTest cannot
send cookies); tests/app/test_app_browser.py checks the real round trip in Chromium.
"""

from __future__ import annotations

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
    monkeypatch.setattr(owner_mod, "request_cookies", lambda: {})
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
    monkeypatch.setattr(owner_mod, "request_cookies", lambda: {"studio_owner": me})
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
    monkeypatch.setattr(owner_mod, "signed_in_email", lambda: "Ada@example.org")
    monkeypatch.setattr(owner_mod, "request_cookies", lambda: {"studio_owner": ANON})
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
