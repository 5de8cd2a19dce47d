"""Page config, navigation and the sidebar that shows the server's model."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lib.ui.guard import guarded
from lib.ui.model_service import SPEC_KEY, allowed_specs, get_service
from lib.ui.owner import owner_id, remember_owner_in_url

ROOT = Path(__file__).resolve().parents[2]


def _sidebar() -> None:
    specs = allowed_specs()
    with st.sidebar:
        st.markdown("### Model")
        if len(specs) > 1:
            st.selectbox("Model (chosen by the server's allow-list)", specs, key=SPEC_KEY)
        _model_status()


def _model_status() -> None:
    svc = get_service()
    loading = svc.status()["state"] in ("idle", "loading")

    @st.fragment(run_every=1.0 if loading else None)
    def status_box() -> None:
        s = svc.status()
        model = s["model"]
        if s["state"] == "ready" and model is not None:
            st.markdown(f"**{model.name}**")
            st.caption(f"Ready · spec `{model.spec}` · weights `{str(model.fingerprint)[:12]}`")
            if loading:  # it just finished: redraw the page so buttons know
                st.rerun(scope="app")
        elif s["state"] == "error":
            st.error(s["error"])
        else:
            st.caption(f"`{svc.spec}` loading…")
            st.progress(s["progress"], text=s["message"][:80])

    status_box()


def run_app() -> None:
    st.set_page_config(page_title="Salience Studio", page_icon="🔎", layout="wide")
    pages = [
        st.Page(str(ROOT / "pages" / "debug.py"), title="Debug", icon="🔎", default=True,
                url_path="debug"),
        st.Page(str(ROOT / "pages" / "compare.py"), title="Compare", icon="⚖️",
                url_path="compare"),
        st.Page(str(ROOT / "pages" / "runs.py"), title="Saved runs", icon="🗂️",
                url_path="runs"),
    ]
    nav = st.navigation(pages)
    owner_id()
    remember_owner_in_url()  # a reload keeps this browser's list of saved runs
    guarded(_sidebar)
    nav.run()
