"""Optional sign-in through Streamlit's OIDC (`st.login`) against a provider stub on 127.0.0.1.

The real server runs with a secrets file whose `[auth]` points at `tests/oidc_stub.py`. An
anonymous visitor of a run link gets a sign-in prompt and none of the run; after the provider's
round trip (a new Streamlit session) they land on that very run; Saved runs lists only the
signed-in user's runs. Without `[auth]` (the default) nothing changes: covered by the other
browser tests, which open share links anonymously.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from lib.runs import RunStore

REPO = Path(__file__).resolve().parents[1]
# Alice's e-mail is verified: her runs saved by an earlier release under "user:<e-mail>" are
# handed to her issuer + sub key when she signs in. Bob's is not: his runs are keyed by sub.
ALICE = {"sub": "alice-1", "email": "Alice@Example.org", "email_verified": True, "name": "Alice"}
BOB = {"sub": "bob-2", "email": "bob@example.org", "name": "Bob"}


def test_next_run_cookie_only_carries_a_valid_run_id() -> None:
    from lib.ui.signin import NEXT_RUN_COOKIE, next_run_from_cookies

    good = "A" * 32
    assert next_run_from_cookies({NEXT_RUN_COOKIE: good}) == good
    for bad in ("", "short", "x" * 65, "../../etc/passwd", "A" * 31 + "'", "<script>" * 4):
        assert next_run_from_cookies({NEXT_RUN_COOKIE: bad}) is None
    assert next_run_from_cookies({}) is None
    assert next_run_from_cookies({"studio_owner": good}) is None


def test_sign_in_is_off_without_auth_secrets(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """No `[auth]` section (the default: no secrets file is shipped) -> no gate at all."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    script = (
        "import streamlit as st\n"
        "from lib.ui.signin import auth_configured, gate\n"
        "gate()\n"
        "st.write('auth on' if auth_configured() else 'page body shown')\n"
    )
    at = AppTest.from_string(script, default_timeout=60)
    at.run()
    assert not at.exception
    assert [m.value for m in at.markdown] == ["page body shown"]
    assert not [b for b in at.button if b.label == "Sign in"]
    assert not (REPO / ".streamlit" / "secrets.toml").exists(), "never commit a secrets file"


@pytest.mark.parametrize("content, why", [
    ("[auth\nredirect_uri =", "is not valid TOML"),
    ('[auth]\nredirect_uri = "http://127.0.0.1:1/oauth2callback"\n', "no cookie_secret"),
    (None, "cookie_secret is still the placeholder"),  # the example file copied as is
])
def test_misconfigured_sign_in_stops_every_page(tmp_path, monkeypatch, caplog, content, why
                                                ) -> None:  # noqa: ANN001
    """Fails closed: bad secrets stop the page with the reason and a log line, never the body."""
    from streamlit.testing.v1 import AppTest

    path = tmp_path / "secrets.toml"
    if content is None:
        path.write_text((REPO / ".streamlit" / "secrets.toml.example").read_text())
    else:
        path.write_text(content)
    monkeypatch.chdir(tmp_path)
    script = (
        "import streamlit as st\n"
        "import lib.ui.signin as signin\n"
        f"signin.secret_files = lambda: [{str(path)!r}]\n"
        "signin.gate()\n"
        "st.write('page body shown')\n"
    )
    caplog.set_level("ERROR", logger="salience_studio.signin")
    at = AppTest.from_string(script, default_timeout=60)
    at.run()
    assert not at.exception
    assert [m.value for m in at.markdown] == []
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and why in errors[0] and "restart the server" in errors[0]
    assert any(why in r.getMessage() for r in caplog.records)


def _fixture_records() -> tuple[dict, dict]:
    rows = json.loads((REPO / "tests/fixtures/runs-schema-v1.expected.json").read_text())
    debug = next(r["record"] for r in rows if r["kind"] == "debug" and "sequence" in r["record"])
    compare = next(r["record"] for r in rows if r["kind"] == "compare")
    return debug, compare


@pytest.fixture(scope="module")
def signin_server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from lib.auth_config import owner_from_claims
    from tests.browser.harness import AppServer, free_port
    from tests.oidc_stub import OIDCStub

    pytest.importorskip("authlib", reason="sign-in needs Authlib (Streamlit's `auth` extra)")
    tmp = tmp_path_factory.mktemp("signin")
    stub = OIDCStub().start()
    port = free_port()
    secrets_file = tmp / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        f'client_id = "{stub.client_id}"\n'
        f'client_secret = "{stub.client_secret}"\n'
        f'server_metadata_url = "{stub.metadata_url}"\n'
    )
    data_dir = tmp / "data"
    store = RunStore(data_dir / "runs.sqlite3")
    debug, compare = _fixture_records()
    runs = {
        "alice_debug": store.save(debug, owner="user:alice@example.org", title="Alice's quiche",
                                  kind="debug"),
        "alice_compare": store.save(compare, owner="user:alice@example.org",
                                    title="Alice's comparison", kind="compare"),
        "bob_debug": store.save(debug, owner=owner_from_claims({"iss": stub.issuer, **BOB}),
                                title="Bob's private run", kind="debug"),
        # Bob's unverified e-mail must not hand him what an earlier release keyed by it.
        "bob_legacy": store.save(compare, owner="user:bob@example.org",
                                 title="Keyed by Bob's unverified e-mail", kind="compare"),
    }
    server = AppServer(
        app="app.py",
        env={"STUDIO_MODEL": "tiny", "STUDIO_ALLOWED_MODELS": "tiny",
             "STREAMLIT_SECRETS_FILES": str(secrets_file)},
        data_dir=data_dir,
        port=port,
    ).start()
    try:
        yield server, stub, runs, debug
    finally:
        server.stop()
        stub.stop()


def _context(browser, blocked: list[str]):  # noqa: ANN001, ANN202
    """A fresh context of the session's one Chromium (tests/conftest.py: /usr/bin/chromium)."""
    from tests.browser.harness import block_outside_hosts

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    block_outside_hosts(context, blocked)
    return context


def _url(page) -> str:  # noqa: ANN001
    """The address bar now (`page.url` can be stale, see pageops.live_url); while a navigation
    replaces the document the page cannot answer, then Playwright's last known URL."""
    from tests.browser import pageops as ops

    try:
        return ops.live_url(page)
    except Exception:  # noqa: BLE001 - mid-navigation: the execution context is going away
        return page.url


def _seen(page, stub) -> tuple[int, int, str]:  # noqa: ANN001
    """(authorize calls, token calls, page URL), after letting Playwright run for a moment.

    The context's request router is Python code: it only runs while Playwright is called, so a
    plain sleep would stall the browser's requests (to the app and to the provider alike).
    """
    page.wait_for_timeout(200)
    return len(stub.authorize_calls), len(stub.token_calls), _url(page)


def _sign_in(page, stub, user: dict) -> None:  # noqa: ANN001
    from tests.browser import pageops as ops

    stub.user = dict(user)
    before = len(stub.authorize_calls)
    assert len(stub.token_calls) == before
    for wait_s in (30, 60):
        # Clicked from JS: Playwright's click would block until the whole provider round trip
        # ends. A click that lands while the sidebar's model-status fragment reruns can be
        # dropped by Streamlit: press again only if the page never left (a hang guard).
        page.get_by_role("button", name="Sign in", exact=True).evaluate("b => b.click()")
        try:
            ops.poll(lambda: _seen(page, stub), lambda v: v[0] > before or "run=" not in v[2],
                     "the browser to leave for the provider", timeout_s=wait_s)
            break
        except AssertionError:
            continue
    ops.poll(lambda: _seen(page, stub), lambda v: v[1] > before,
             "the app to redeem its code (authorize calls, token calls, url)", timeout_s=120)
    ops.poll(lambda: ops.app_text(page), lambda t: f"Signed in as {user['email']}" in t,
             f"the app to show {user['email']} as signed in")


@pytest.mark.browser
def test_anonymous_link_prompts_then_lands_on_the_run(signin_server, browser) -> None:  # noqa: ANN001
    from tests.browser import pageops as ops

    server, stub, runs, debug = signin_server
    blocked: list[str] = []
    context = _context(browser, blocked)
    try:
        page = context.new_page()
        run_id = runs["alice_debug"]
        ops.open_app(page, server.url, params=f"run={run_id}")
        page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=120_000)
        text = ops.app_text(page)
        assert "Sign in first" in text
        # None of the run reaches an anonymous visitor.
        assert run_id not in text.replace(_url(page), "")
        assert "Saved run " + run_id not in text and debug["prompt"] not in text
        assert page.locator("[data-salience]").count() == 0
        # The prompt stored where to go next; only the run id, short-lived.
        ops.poll(lambda: {c["name"]: c for c in context.cookies()}.get("studio_next_run"),
                 lambda c: c is not None and c["value"] == run_id, "the next-run cookie")

        _sign_in(page, stub, ALICE)
        # A new session after the provider's redirect, yet the run is open.
        ops.poll(lambda: ops.app_text(page), lambda t: f"Saved run {run_id}" in t,
                 "the run to open after signing in")
        ops.poll(lambda: _url(page), lambda u: f"run={run_id}" in u, "the run id back in the URL")
        ops.assert_no_traceback(page)
        call = stub.authorize_calls[-1]
        assert call["code_challenge_method"] == "S256" and call.get("nonce")
        ops.poll(lambda: [c["name"] for c in context.cookies()],
                 lambda names: "studio_next_run" not in names, "the next-run cookie to go")
        # Notes: a signed-in user writes under the provider's label (no display name to type).
        ops.poll(lambda: ops.app_text(page), lambda t: f"Adding notes as {ALICE['email']}" in t,
                 "the notes form of a signed-in user")
        assert page.get_by_role("textbox", name="Your display name (shown with your note)"
                                ).count() == 0
        ops.commit_text(page.get_by_role("textbox", name="Note", exact=True),
                        "Checked while signed in.", textarea=True)
        ops.click_button(page, "Add note")
        ops.poll(lambda: " ".join(page.locator(".studio-note").all_inner_texts()),
                 lambda t: "Checked while signed in." in t and ALICE["email"] in t,
                 "the signed-in user's note under their label")

        # Saved runs: Alice's runs (saved under her verified e-mail by an earlier release,
        # handed to her issuer + sub key at sign-in), never Bob's.
        ops.open_app(page, server.url, path="runs")
        ops.poll(lambda: ops.app_text(page),
                 lambda t: "Alice's comparison" in t and "Alice's quiche" in t,
                 "Alice's saved runs")
        text = ops.app_text(page)
        assert "Alice's quiche" in text and "Bob's private run" not in text
        ops.assert_no_traceback(page)
    finally:
        context.close()
    assert not blocked, f"the page tried to reach outside hosts: {blocked}"


@pytest.mark.browser
def test_compare_link_lands_on_compare_and_lists_own_runs(signin_server, browser) -> None:  # noqa: ANN001
    from tests.browser import pageops as ops

    server, stub, runs, _ = signin_server
    blocked: list[str] = []
    context = _context(browser, blocked)
    try:
        page = context.new_page()
        run_id = runs["alice_compare"]  # Bob got Alice's link: a link is the way in
        ops.open_app(page, server.url, params=f"run={run_id}")
        page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=120_000)
        assert "Alice's comparison" not in ops.app_text(page)
        _sign_in(page, stub, BOB)
        ops.poll(lambda: _url(page), lambda u: "/compare" in u and f"run={run_id}" in u,
                 "the Compare page with the run")
        ops.assert_no_traceback(page)
        assert not [e for e in ops.error_messages(page) if "run" in e.lower()]

        ops.open_app(page, server.url, path="runs")
        ops.poll(lambda: ops.app_text(page), lambda t: "Bob's private run" in t,
                 "Bob's saved runs")
        text = ops.app_text(page)
        assert "Alice's quiche" not in text and "Alice's comparison" not in text
        assert "Keyed by Bob's unverified e-mail" not in text
        # Signing out brings the prompt back.
        page.get_by_role("button", name="Sign out", exact=True).click()
        page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=60_000)
    finally:
        context.close()
    assert not blocked, f"the page tried to reach outside hosts: {blocked}"
