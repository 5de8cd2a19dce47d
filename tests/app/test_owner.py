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
    ada = "oidc:" + "a" * 40  # lib.auth_config.owner_from_claims: issuer + sub, never e-mail
    assert owner_mod.resolve_owner(ada, {"studio_owner": ANON}, None, "n" * 24) == (ada, None)
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


ADA = {"iss": "https://id.example.org", "sub": "Ada-7", "email": "Ada@example.org",
       "email_verified": True}


@pytest.mark.usefixtures("studio_env")
def test_signed_in_user_is_the_owner_by_issuer_and_sub(monkeypatch):
    from lib.auth_config import owner_from_claims
    from lib.runs import default_store

    default_store().save({"model": {"name": "tiny"}, "who": "ada"},
                         owner=owner_from_claims(ADA), title="Ada's run")
    # Same e-mail, another subject (e.g. a second provider or a recycled address): not Ada.
    default_store().save({"model": {"name": "tiny"}, "who": "other"},
                         owner=owner_from_claims({**ADA, "sub": "ada-7"}), title="Not Ada's")
    monkeypatch.setattr(owner_mod, "signed_in_claims", lambda: dict(ADA))
    monkeypatch.setattr(owner_mod, "request_cookies", lambda: {"studio_owner": ANON})
    at = make_app("app_pages/runs.py")
    at.run()
    no_crash(at)
    titles = [t.value for t in at.text_input]
    assert "Ada's run" in titles and "Not Ada's" not in titles


@pytest.mark.usefixtures("studio_env")
@pytest.mark.parametrize("verified", [True, False])
def test_runs_keyed_by_email_move_only_for_a_verified_email(monkeypatch, verified):
    from lib.auth_config import owner_from_claims
    from lib.runs import default_store

    who = {**ADA, "sub": f"legacy-{verified}", "email": f"legacy-{verified}@example.org",
           "email_verified": verified}
    legacy_id = default_store().save({"model": {"name": "tiny"}, "v": verified},
                                     owner=f"user:legacy-{str(verified).lower()}@example.org",
                                     title="Saved by an earlier release")
    monkeypatch.setattr(owner_mod, "signed_in_claims", lambda: dict(who))
    monkeypatch.setattr(owner_mod, "request_cookies", lambda: {"studio_owner": ANON})
    at = make_app("app_pages/runs.py")
    at.run()
    no_crash(at)
    shown = "Saved by an earlier release" in [t.value for t in at.text_input]
    assert shown is verified
    owner = default_store().get(legacy_id).owner
    assert (owner == owner_from_claims(who)) is verified


def test_no_pages_directory_for_streamlit_to_auto_detect():
    """With a `pages/` folder next to app.py, Streamlit 1.67 runs the first session of a fresh
    server in its v1 multipage mode (sidebar "app, compare, debug, runs", no app shell) until
    st.navigation has run once. Our page scripts live in app_pages/ instead."""
    root = Path(__file__).resolve().parents[2]
    assert not (root / "pages").exists()
    assert (root / "app_pages" / "debug.py").exists()
