"""Page config, navigation and the sidebar that shows the server's model."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lib.errors import StudioError
from lib.ui import common
from lib.ui.clean_stop import ensure_clean_stop
from lib.ui.guard import guarded
from lib.ui.model_service import SPEC_KEY, allowed_specs, get_service
from lib.ui.owner import owner_id, remember_owner
from lib.ui.signin import gate, sign_out_control
from lib.ui.url_state import hold_all

ROOT = Path(__file__).resolve().parents[2]


def _sidebar() -> None:
    specs = allowed_specs()
    with st.sidebar:
        st.markdown("### Model")
        if len(specs) > 1:
            st.selectbox("Model (chosen by the server's allow-list)", specs, key=SPEC_KEY)
        _model_status()
        _limits()
        remember_owner()  # writes this browser's anonymous id into a cookie (never the URL)
        sign_out_control()  # only when sign-in is on (secrets.toml [auth])


def _limits() -> None:
    lim = common.limits()
    with st.expander("Limits"):
        lines = []
        if "max_prompt_tokens" in lim:
            lines += [f"- Prompt + new tokens for generation: **{lim['max_prompt_tokens']:,}** "
                      "tokens",
                      f"- Prompt + target for salience: **{lim['max_salience_tokens']:,}** "
                      "tokens"]
        else:
            lines.append("- Token limits: shown once the model has loaded")
        from lib.documents import MAX_DOCUMENT_BYTES
        from lib.input_limits import MAX_PROMPT_CHARS, MAX_VARIABLE_VALUE_CHARS

        lines += [f"- New tokens per generation: **1–{lim['max_new_tokens']}**",
                  f"- Prompt file upload: **{lim['upload_bytes'] / 1e6:g} MB**",
                  f"- Document upload: **{MAX_DOCUMENT_BYTES / 2**20:g} MB** file, "
                  f"**{MAX_VARIABLE_VALUE_CHARS:,}** characters of text",
                  f"- Typed prompt: **{MAX_PROMPT_CHARS:,}** characters"]
        if "run_bytes" in lim:
            runs = lim["store_runs"]
            lines += [f"- One saved run: **{common.size_text(lim['run_bytes'])}**",
                      f"- All saved runs on this server: **{common.size_text(lim['store_bytes'])}**"
                      f" ({common.size_text(lim['store_used'])} used by {runs:,} "
                      f"run{'' if runs == 1 else 's'})"]
        else:
            lines.append("- Saved runs: the store cannot be read; sharing will say why")
        lines += _notes_limits()
        st.markdown("\n".join(lines))


def _notes_limits() -> list[str]:
    """The reviewer notes' limits and who may write them."""
    from lib.notes import (
        DEFAULT_NOTES_PER_MINUTE,
        MAX_LABEL_CHARS,
        MAX_NOTE_CHARS,
        MAX_NOTES_PER_RUN,
        NOTES_PER_MINUTE_ENV,
    )
    from lib.run_quotas import limit_from_env
    from lib.ui.signin import auth_configured

    try:
        per_minute = limit_from_env(NOTES_PER_MINUTE_ENV, DEFAULT_NOTES_PER_MINUTE)
        sign_in = auth_configured()
    except StudioError:  # a bad setting: the page that uses it says so
        return ["- Notes on saved runs: a server setting is unusable; adding a note says why"]
    who = ("only signed-in users (this server asks everyone to sign in)" if sign_in else
           "anyone who can open the run's link (this server has no sign-in)")
    return [f"- Notes on a saved run: **{MAX_NOTE_CHARS:,}** characters each, display name "
            f"**{MAX_LABEL_CHARS}** characters, **{per_minute}** notes a minute per author, "
            f"**{MAX_NOTES_PER_RUN}** notes a run",
            f"- Who may add notes: {who}; notes are never edited, only their author may "
            "retract one, and deleting a run deletes its notes"]


def _model_status() -> None:
    svc = get_service()
    loading = svc.status()["state"] in ("idle", "loading")

    @st.fragment(run_every=1.0 if loading else None)
    def status_box() -> None:
        s = svc.status()
        model = s["model"]
        if s["state"] == "ready" and model is not None:
            st.markdown(f"**{common.md_escape(str(model.name))}**")
            st.caption(f"Ready · spec {common.md_escape(str(model.spec))} · weights "
                       f"{common.md_escape(str(model.fingerprint)[:12])}")
            if loading:
                # Loading just finished. One full rerun re-registers this fragment (and the
                # page's banner) without `run_every`: a timer left ticking would rerun the
                # fragment with the browser's older query string and undo URL updates.
                # That rerun carries this fragment's query string, which can predate a click
                # made meanwhile: the pages keep their state over it (lib.ui.url_state).
                hold_all()
                st.rerun(scope="app")
        elif s["state"] == "error":
            common.show_error(s["error"])
        else:
            st.caption(f"{common.md_escape(str(svc.spec))} loading…")
            st.progress(s["progress"], text=s["message"][:80])

    status_box()


def run_app() -> None:
    st.set_page_config(page_title="Salience Studio", page_icon="🔎", layout="wide")
    ensure_clean_stop()  # SIGTERM: finish saves, stop the model worker, exit 0 (lib.shutdown)
    pages = [
        st.Page(str(ROOT / "app_pages" / "debug.py"), title="Debug", icon="🔎", default=True,
                url_path="debug"),
        st.Page(str(ROOT / "app_pages" / "compare.py"), title="Compare", icon="⚖️",
                url_path="compare"),
        st.Page(str(ROOT / "app_pages" / "runs.py"), title="Saved runs", icon="🗂️",
                url_path="runs"),
    ]
    nav = st.navigation(pages)
    gate(landing=nav.url_path == "")  # optional sign-in: an anonymous visitor gets a prompt, never the page or the run
    owner_id()
    guarded(_sidebar)
    nav.run()
