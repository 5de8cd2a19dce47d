"""Page bodies run inside `guarded`: expected errors show their message, others a short one."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import streamlit as st

from lib.errors import StudioError

log = logging.getLogger("salience_studio.ui")


def is_control_flow(e: BaseException) -> bool:
    # st.rerun / st.stop / st.switch_page raise exceptions that Streamlit must see.
    name = type(e).__name__
    return name in {"RerunException", "StopException", "ScriptControlException"} or any(
        c.__name__ == "ScriptControlException" for c in type(e).__mro__)


def guarded(body: Callable[[], None]) -> None:
    """Run a page body; never show a traceback in the browser."""
    try:
        body()
    except StudioError as e:
        from lib.ui.common import show_error

        show_error(str(e))
    except Exception as e:
        if is_control_flow(e):
            raise
        log.error("page failed:\n%s", traceback.format_exc())
        st.error(f"Something went wrong on this page ({type(e).__name__}). Your inputs are kept; "
                 "try again, and if it keeps happening tell the server's administrator "
                 "(details are in the server log).")
