"""Reviewer notes on a saved run (Debug and Compare): the thread, a form, Retract on one's own.

The thread is static HTML with every piece of text escaped (`lib.notes.note_html`). The author
is this browser's owner key (`lib.ui.owner`), never shown; the label shown is the signed-in
user's (`lib.auth_config.user_label`) or the display name an anonymous reviewer typed, kept in
session state for the next note (on either page). Who may write (`lib.notes.may_write`):
whoever can open the link, unless the server runs with sign-in, where only signed-in users do.
Errors keep what the reviewer typed; only a note that was added clears the form.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lib.auth_config import AuthConfigError, user_label
from lib.errors import StudioError
from lib.ui import common
from lib.ui.owner import owner_id
from lib.ui.signin import auth_configured, signed_in

NAME = "notes_display_name"  # the anonymous reviewer's display name, for every page


def _signed_in_label() -> str | None:
    """The signed-in user's label, or None for an anonymous reviewer."""
    from lib.notes import MAX_LABEL_CHARS

    if not signed_in():
        return None
    try:
        return user_label(st.user.to_dict())[:MAX_LABEL_CHARS]
    except Exception:  # st.user without claims: a label is all that is missing
        return "signed-in user"


def _may_write() -> bool:
    from lib.notes import may_write

    try:
        sign_in_on = auth_configured()
    except AuthConfigError:  # the sign-in gate has stopped the page already
        return False
    return may_write(sign_in_on=sign_in_on, signed_in=signed_in())


def _add(run_id: str, prefix: str, hold: Callable[[], None] | None) -> None:
    """Add note's callback (before the page runs, so the thread below has the new note)."""
    from lib.notes import default_notes

    if hold is not None:
        hold()
    label = _signed_in_label()
    if label is None:
        label = st.session_state.get(f"{prefix}_note_name", "")
        st.session_state[NAME] = label
    try:
        default_notes().add(run_id, author=owner_id(), author_label=label,
                            text=st.session_state.get(f"{prefix}_note_text", ""),
                            verdict=st.session_state.get(f"{prefix}_note_verdict"))
    except StudioError as e:  # shown above the form; the form keeps what was typed
        st.session_state[f"{prefix}_note_error"] = str(e)
        return
    st.session_state[f"{prefix}_note_text"] = ""
    st.session_state[f"{prefix}_note_verdict"] = ""


def _retract(run_id: str, note_id: int, prefix: str, hold: Callable[[], None] | None) -> None:
    from lib.notes import default_notes

    if hold is not None:
        hold()
    try:
        default_notes().retract(run_id, note_id, author=owner_id())
    except StudioError as e:
        st.session_state[f"{prefix}_note_error"] = str(e)


def _remember_name(prefix: str) -> None:
    st.session_state[NAME] = st.session_state.get(f"{prefix}_note_name", "")


def _form(run_id: str, prefix: str, hold: Callable[[], None] | None) -> None:
    from lib.notes import MAX_LABEL_CHARS, MAX_NOTE_CHARS, VERDICT_IDS, verdict_label

    label = _signed_in_label()
    if label is None:
        # The widget's own state is dropped on the other page: seed it from the remembered name.
        st.session_state.setdefault(f"{prefix}_note_name", st.session_state.get(NAME, ""))
        st.text_input("Your display name (shown with your note)", key=f"{prefix}_note_name",
                      max_chars=MAX_LABEL_CHARS, on_change=_remember_name, args=(prefix,))
    else:
        st.text(f"Adding notes as {label}")  # plain text: the label comes from the provider
    # "" is "no verdict" (a None value would be Streamlit's "nothing chosen" placeholder).
    st.selectbox("Verdict (optional)", ["", *VERDICT_IDS], key=f"{prefix}_note_verdict",
                 format_func=lambda v: verdict_label(v) if v else "No verdict")
    st.text_area("Note", key=f"{prefix}_note_text", max_chars=MAX_NOTE_CHARS,
                 placeholder="What you checked, what looks wrong, what to try next…")
    st.button("Add note", key=f"{prefix}_note_add", on_click=_add, args=(run_id, prefix, hold))


def notes_panel(run_id: str | None, *, prefix: str,
                hold: Callable[[], None] | None = None) -> None:
    """The saved run's notes and, for those who may write, the form to add one."""
    from lib.notes import NOTES_CSS, default_notes, latest_verdict, note_html, verdict_label

    if not run_id:
        return
    st.divider()
    st.header("Reviewer notes")  # h2 under the page's h1 (axe: heading order)
    if f"{prefix}_note_error" in st.session_state:
        common.show_error(st.session_state.pop(f"{prefix}_note_error"))
    try:
        thread = default_notes().thread(run_id, viewer=owner_id())
    except StudioError as e:
        common.show_error(str(e))
        return
    verdict = latest_verdict(thread)
    st.caption(("Latest verdict: " + verdict_label(verdict) if verdict else "No verdict yet")
               + f" · {sum(not n.retracted for n in thread)} note(s). Notes are never edited; "
               "an author may retract their own, which stays visible, marked.")
    for note in thread:
        st.html(f'<style>{NOTES_CSS}</style><div class="studio-notes">{note_html(note)}</div>')
        if note.mine and not note.retracted:
            st.button("Retract my note", key=f"{prefix}_note_retract_{note.id}",
                      on_click=_retract, args=(run_id, note.id, prefix, hold))
    if _may_write():
        _form(run_id, prefix, hold)
    else:
        st.info("Sign in to add a note: this server takes notes from signed-in users only.")
