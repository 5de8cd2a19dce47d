"""Saved runs page: only the current owner's runs; a link is the only way into anyone else's."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from lib.errors import StudioError
from lib.ui.common import md_escape
from lib.ui.owner import owner_id


def _note_summaries(owner: str) -> dict:
    """Note count and latest verdict per run ({} if the store cannot say: the list still
    shows)."""
    from lib.notes import default_notes

    try:
        return default_notes().summaries_for_owner(owner)
    except StudioError:
        return {}


def _notes_line(summary: object) -> str:
    from lib.notes import verdict_label

    count = getattr(summary, "count", 0)
    if not count:
        return "No notes"
    verdict = getattr(summary, "verdict", None)
    line = f"{count} note{'' if count == 1 else 's'}"
    return line + (f" · latest verdict: {verdict_label(verdict)}" if verdict else "")


def render_runs_page() -> None:
    from lib.runs import default_store

    st.title("Saved runs")
    owner = owner_id()
    store = default_store()
    runs = store.list_for_owner(owner)
    summaries = _note_summaries(owner)
    if not runs:
        st.info("You have not shared or saved any runs from this browser yet. Press Share on the "
                "Debug or Compare page to save one.")
        return
    st.caption("Only you see this list. Anyone you send a run's link to can open that run.")
    for r in runs:
        page = "compare" if r.kind == "compare" else "debug"
        with st.container(border=True):
            c1, c2 = st.columns([3, 2])
            c1.markdown(f"**{md_escape(r.title)}**")
            c1.caption(f"{r.kind} · model {md_escape(str(r.model))} · {r.created_at}")
            c1.caption(_notes_line(summaries.get(r.id)))
            try:
                c1.page_link(f"app_pages/{page}.py", label="Open", query_params={"run": r.id})
            except StreamlitAPIException:  # page run on its own (tests): a plain link
                c1.markdown(f"[Open](./{page}?run={r.id})")
            new_title = c2.text_input("Title", value=r.title, key=f"runs_title_{r.id}",
                                      max_chars=200)
            b1, b2 = c2.columns(2)
            if b1.button("Rename", key=f"runs_rename_{r.id}"):
                if not new_title.strip():
                    st.error("The title is empty; type a title before pressing Rename.")
                elif store.rename(r.id, owner=owner, title=new_title.strip()):
                    st.rerun()
            if b2.button("Delete", key=f"runs_delete_{r.id}"):
                st.session_state["runs_confirm"] = r.id
            if st.session_state.get("runs_confirm") == r.id:
                st.warning("Delete this run? Links to it will stop working, and its "
                           "reviewers' notes are deleted with it.")
                if st.button("Yes, delete it", key=f"runs_yes_{r.id}"):
                    store.delete(r.id, owner=owner)
                    st.session_state.pop("runs_confirm", None)
                    st.rerun()

