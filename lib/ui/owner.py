"""Who owns saved runs: the signed-in user, else a random id kept in a cookie of this browser.

The anonymous id never goes into the URL: a copied address bar would hand a reviewer's list of
saved runs to whoever receives it. The id lives in a first-party cookie (`studio_owner`, set by a
tiny components-v2 snippet because Streamlit cannot send Set-Cookie itself) and is read back
through `st.context.cookies` when a later session starts (a reload, a new tab).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping

import streamlit as st

from lib.auth_config import legacy_owner, owner_from_claims
from lib.errors import StudioError

log = logging.getLogger("salience_studio.owner")

COOKIE = "studio_owner"
LEGACY_PARAM = "owner"  # older builds put the id in the URL; we strip it, never adopt it
COOKIE_MAX_AGE_S = 400 * 24 * 3600  # browsers cap cookie lifetime at 400 days
_OWNER_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_STATE = "studio_owner"
_LEGACY_DONE = "studio_legacy_runs_checked"

# Runs in the app's page (components v2 are not iframed), so the cookie is first-party for the
# app's own origin. The id is random (not a secret credential), SameSite=Strict keeps it off
# cross-site requests, and Secure is added when the page is served over https.
_SET_COOKIE_JS = r"""
export default function (component) {
  const data = component.data || {};
  if (!data.name || !data.value) return;
  const parts = [data.name + "=" + encodeURIComponent(data.value), "Path=/",
                 "Max-Age=" + String(data.maxAge), "SameSite=Strict"];
  if (window.location.protocol === "https:") parts.push("Secure");
  document.cookie = parts.join("; ");
}
"""
_cookie_setter = st.components.v2.component("salience_studio.owner_cookie", js=_SET_COOKIE_JS)


def is_valid_anonymous_id(value: object) -> bool:
    return isinstance(value, str) and bool(_OWNER_RE.fullmatch(value))


def resolve_owner(user_owner: str | None, cookies: Mapping[str, str], remembered: str | None,
                  new_id: str) -> tuple[str, str | None]:
    """(owner, anonymous id to keep in the cookie or None). Pure, so it is easy to test.

    A signed-in user is `user_owner` (issuer + subject, `lib.auth_config.owner_from_claims`).
    Otherwise this session's remembered id, else the cookie's, else `new_id`. The URL is
    deliberately not an input.
    """
    if user_owner:
        return user_owner, None
    for candidate in (remembered, cookies.get(COOKIE)):
        if is_valid_anonymous_id(candidate):
            return "anon:" + str(candidate), str(candidate)
    return "anon:" + new_id, new_id


def signed_in_claims() -> dict | None:
    """The signed-in user's identity claims (iss, sub, email ...), or None."""
    try:
        if st.user.is_logged_in is not True:
            return None
        claims = st.user.to_dict()
    except Exception:  # auth not configured: anonymous browser ids
        return None
    return dict(claims) if isinstance(claims, Mapping) else None


def _hand_over_legacy_runs(claims: Mapping[str, object], owner: str) -> None:
    """Once per session: runs an earlier release keyed by this user's verified e-mail move to
    the issuer + subject key (unverified e-mails hand over nothing)."""
    if st.session_state.get(_LEGACY_DONE) == owner:
        return
    st.session_state[_LEGACY_DONE] = owner
    legacy = legacy_owner(claims)
    if legacy is None:
        return
    try:
        from lib.runs import default_store

        moved = default_store().reassign_owner(legacy, owner)
    except StudioError as e:  # the store says why on the pages that use it
        log.warning("could not hand over legacy runs: %s", e)
        return
    if moved:
        log.info("handed %d run(s) keyed by a verified e-mail to the signed-in user", moved)


def request_cookies() -> Mapping[str, str]:
    """Cookies sent when this session's websocket opened ({} in AppTest and on odd clients)."""
    try:
        cookies = st.context.cookies
        return {k: v for k, v in cookies.to_dict().items() if isinstance(v, str)}
    except Exception:
        return {}


def owner_id() -> str:
    """A stable id for this browser/user; never shown to others, never lists their runs."""
    claims = signed_in_claims()
    user_owner = owner_from_claims(claims) if claims else None
    if claims and user_owner:
        _hand_over_legacy_runs(claims, user_owner)
    owner, anon = resolve_owner(user_owner, request_cookies(),
                                st.session_state.get(_STATE), secrets.token_urlsafe(18))
    if anon is not None:
        st.session_state[_STATE] = anon
    return owner


def remember_owner() -> None:
    """Keep the anonymous id in this browser's cookie; remove any id an old link put in the URL.

    Call once per run from the app shell (it mounts an invisible element when the cookie must be
    written).
    """
    if LEGACY_PARAM in st.query_params:
        del st.query_params[LEGACY_PARAM]
    anon = st.session_state.get(_STATE)
    if not anon or request_cookies().get(COOKIE) == anon:
        return
    # The cookie the server saw is missing or stale: (re)write it. Only in the first two runs
    # of the session (a second in case the first was interrupted): an extra element in every
    # run would only add work to each rerun.
    runs = st.session_state.get("studio_cookie_runs", 0)
    if runs >= 2:
        return
    st.session_state["studio_cookie_runs"] = runs + 1
    _cookie_setter(key="studio_owner_cookie",
                   data={"name": COOKIE, "value": anon, "maxAge": COOKIE_MAX_AGE_S})
