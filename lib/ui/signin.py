"""Optional sign-in (Streamlit's built-in OIDC, `st.login`): off unless secrets.toml has `[auth]`.

When it is on, every page asks an anonymous visitor to sign in first, so a run link shows a
sign-in prompt instead of the run, and Saved runs lists the signed-in user's runs only (the owner
id is the provider's issuer + `sub`, the e-mail only a label: see `lib.auth_config`).

Fails closed: secrets that cannot be read, an incomplete `[auth]` or placeholder values stop
every page with the reason (and a line in the server log), never serve pages without sign-in.

Landing on the run after signing in: the provider redirects back to `/oauth2callback`, which
sends the browser to the app's root in a NEW session, so session state and the URL's `?run=` are
gone. Before leaving, the prompt writes the run id into a short-lived first-party cookie
(`studio_next_run`, 10 minutes, SameSite=Lax so it survives the provider's redirects); the first
signed-in session reads it through `st.context.cookies`, opens that run on the right page and
deletes the cookie. The id is checked against the run-id pattern before it is used anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import streamlit as st

from lib.auth_config import AuthConfigError, auth_enabled, user_label
from lib.runs import is_valid_run_id

log = logging.getLogger("salience_studio.signin")

PAGES = Path(__file__).resolve().parents[2] / "app_pages"
NEXT_RUN_COOKIE = "studio_next_run"
NEXT_RUN_MAX_AGE_S = 600
_CONSUMED = "studio_next_run_consumed"

# Components v2 run in the app's own page (not an iframe): the cookie is first-party. The value
# is a validated run id (letters, digits, '-', '_'), so it needs no escaping.
_COOKIE_JS = r"""
export default function (component) {
  const d = component.data || {};
  if (!d.name) return;
  const parts = [d.name + "=" + encodeURIComponent(d.value || ""), "Path=/",
                 "Max-Age=" + String(d.maxAge), "SameSite=Lax"];
  if (window.location.protocol === "https:") parts.push("Secure");
  document.cookie = parts.join("; ");
}
"""
_cookie = st.components.v2.component("salience_studio.next_run_cookie", js=_COOKIE_JS)


_logged: set[str] = set()


def secret_files() -> list[str]:
    files = st.get_option("secrets.files")
    return [str(f) for f in files] if isinstance(files, list | tuple) else []


def auth_configured() -> bool:
    """True when a secrets file has a complete `[auth]` section (sign-in on), False when none
    has one; raises AuthConfigError when the secrets are unreadable or `[auth]` is unusable."""
    return auth_enabled(secret_files())


def stop_if_misconfigured() -> bool:
    """Sign-in on? On bad settings show why and stop this page (st.stop), logging it once."""
    try:
        return auth_configured()
    except AuthConfigError as e:
        message = str(e)
        if message not in _logged:
            _logged.add(message)
            log.error("refusing to serve pages: %s", message)
        st.error(message)
        st.stop()
        raise  # st.stop raises; this line only satisfies type checkers


def signed_in() -> bool:
    try:
        return st.user.is_logged_in is True
    except Exception:
        return False


def _cookies() -> Mapping[str, str]:
    try:
        return {k: v for k, v in st.context.cookies.to_dict().items() if isinstance(v, str)}
    except Exception:
        return {}


def next_run_from_cookies(cookies: Mapping[str, str]) -> str | None:
    """The run id a visitor was opening before signing in, if the cookie holds a valid one."""
    value = cookies.get(NEXT_RUN_COOKIE)
    return value if is_valid_run_id(value) else None


def _write_next_run(run_id: str | None) -> None:
    # Fixed key: reruns update one invisible element instead of stacking new ones.
    if run_id is None:
        data = {"name": NEXT_RUN_COOKIE, "value": "", "maxAge": 0}  # delete it
    else:
        data = {"name": NEXT_RUN_COOKIE, "value": run_id, "maxAge": NEXT_RUN_MAX_AGE_S}
    _cookie(key="studio_next_run_cookie", data=data)


def _sign_in_prompt(run_id: str | None) -> None:
    st.title("Sign in to Salience Studio")
    if run_id:
        st.info("This link opens a saved run. Sign in first; you will land on the run "
                "afterwards.")
        _write_next_run(run_id)
    else:
        st.info("This server asks everyone to sign in before using the app.")
    if st.button("Sign in", type="primary", key="signin_button"):
        try:
            st.login()
        except Exception as e:  # e.g. Authlib missing or [auth] incomplete: say what to fix
            log.error("sign-in failed: %s", e)
            st.error("Sign-in is switched on but not usable on this server "
                     f"({type(e).__name__}). Ask the server's administrator to check the [auth] "
                     "section of .streamlit/secrets.toml and that Authlib is installed.")


def _go_to_pending_run(pending: str) -> None:
    """First signed-in session after the redirect: open the run the visitor came for."""
    from lib.runs import default_store

    st.session_state[_CONSUMED] = True
    if st.query_params.get("run"):
        return  # the URL already names a run: it wins
    saved = default_store().get(pending)
    if saved is None:
        return  # deleted meanwhile: the home page is the honest landing
    page = "compare" if saved.kind == "compare" else "debug"
    st.switch_page(str(PAGES / f"{page}.py"), query_params={"run": pending})


def gate(landing: bool = True) -> None:
    """Call before `nav.run()`. Stops the run with a sign-in prompt when sign-in is required.

    `landing`: the session opened the app's root (where the provider's redirect lands). Only
    there does the pending-run cookie send the visitor on: a visitor who opened a page by its
    own path meant that page, even while the cookie's deletion has not reached the browser yet.

    Fails closed: unusable sign-in settings or an unexpected error stop the page with a
    message, they never show the page.
    """
    if not stop_if_misconfigured():
        return
    try:
        _gate(landing)
    except Exception as e:
        from lib.ui.guard import is_control_flow

        if is_control_flow(e):
            raise
        log.exception("sign-in check failed")
        st.error("The sign-in check failed on the server; reload the page, and if it keeps "
                 "happening tell the server's administrator (details are in the server log).")
        st.stop()


def _gate(landing: bool) -> None:
    if not signed_in():
        run_id = st.query_params.get("run")
        _sign_in_prompt(run_id if is_valid_run_id(run_id) else None)
        st.stop()
    pending = next_run_from_cookies(_cookies())
    if pending is None:
        return
    # The cookie the session started with stays in st.context.cookies; delete it in the browser
    # (every run, one keyed element) and follow it only once.
    _write_next_run(None)
    if landing and not st.session_state.get(_CONSUMED):
        _go_to_pending_run(pending)


def sign_out_control() -> None:
    """Sidebar line: who is signed in, and a Sign out button (only when sign-in is on)."""
    try:
        if not auth_configured() or not signed_in():
            return
    except AuthConfigError:
        return  # the gate has stopped the page already
    try:
        who = user_label(st.user.to_dict())
    except Exception:
        who = "signed in"
    st.text(f"Signed in as {who}")  # plain text: the name comes from the provider
    if st.button("Sign out", key="signout_button"):
        st.logout()
