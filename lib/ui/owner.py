"""Who owns saved runs: the signed-in user, else a random id kept for this browser."""

from __future__ import annotations

import re
import secrets

import streamlit as st

OWNER_PARAM = "owner"
_OWNER_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def owner_id() -> str:
    """A stable id for this browser/user; never shown to others, never lists their runs."""
    try:
        email = st.user.get("email") if st.user.is_logged_in is True else None
        if isinstance(email, str) and email:
            return "user:" + email.lower()
    except Exception:  # auth not configured: anonymous browser ids
        pass
    if "studio_owner" in st.session_state:
        return "anon:" + st.session_state["studio_owner"]
    candidate = st.query_params.get(OWNER_PARAM) or ""
    candidate = candidate.removeprefix("anon:")
    if not _OWNER_RE.fullmatch(candidate):
        try:
            candidate = st.context.cookies.get("studio_owner", "")
        except Exception:
            candidate = ""
        candidate = candidate if isinstance(candidate, str) else ""
    if not _OWNER_RE.fullmatch(candidate):
        candidate = secrets.token_urlsafe(18)
    st.session_state["studio_owner"] = candidate
    return "anon:" + candidate


def remember_owner_in_url() -> None:
    """Keep the anonymous id in the URL so a reload of this tab keeps the same runs list."""
    oid = st.session_state.get("studio_owner")
    if oid and st.query_params.get(OWNER_PARAM) != oid:
        st.query_params[OWNER_PARAM] = oid
