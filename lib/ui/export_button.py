"""A download button whose file is built only when it is clicked (components v2, inline JS).

Why not `st.download_button` with a builder function (Streamlit's deferred download): the file
it builds is kept by no session, and Streamlit deletes such files at the second clean-up
after it is made. Every script run of every session ends with a clean-up, and this app's
fragments rerun each second while scores compute, so with a few reviewers at work the file
was often gone before the browser fetched it (a 404: the click did nothing).

Here the click asks Python (a trigger), the run that follows builds the file and hands its
text to this component once, and the component saves it in the browser (a Blob and an
`<a download>`). Nothing is built on other reruns. The text travels as component data, never
as HTML, and is saved as a file, never shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st

from lib.errors import StudioError
from lib.ui import common

log = logging.getLogger("salience_studio.export")

_CSS = """
.export-button button { display: inline-flex; align-items: center; justify-content: center;
  min-height: 2.5rem; padding: .25rem .75rem; border-radius: .5rem; cursor: pointer;
  border: 1px solid rgba(49,51,63,.2); background: var(--st-background-color, #fff);
  color: inherit; font: inherit; line-height: 1.6; }
.export-button button:hover { border-color: var(--st-primary-color); }
.export-button button:focus-visible { outline: 3px solid #c77700; outline-offset: 2px; }
.export-button button[aria-busy="true"] { cursor: progress; opacity: .7; }
"""

_JS = r"""
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const d = data || {};
  let root = parentElement.querySelector(".export-button");
  if (!root) {
    root = document.createElement("div");
    root.className = "export-button";
    const button = document.createElement("button");
    button.type = "button";
    button.addEventListener("click", () => {
      if (root.dataset.pending) return;
      const ask = Math.random().toString(36).slice(2, 12);
      root.dataset.pending = ask;
      button.setAttribute("aria-busy", "true");
      button.textContent = "Preparing…";
      setTriggerValue("ask", ask);
    });
    root.appendChild(button);
    parentElement.appendChild(root);
  }
  const button = root.querySelector("button");
  button.setAttribute("aria-label", d.label || "Export");
  if (typeof d.content === "string" && d.ask && d.ask === root.dataset.pending) {
    const blob = new Blob([d.content], { type: d.mime || "application/octet-stream" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url; a.download = d.file_name || "export"; a.style.display = "none";
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    delete root.dataset.pending;
  } else if (d.failed && d.ask === root.dataset.pending) {
    delete root.dataset.pending;
  }
  if (!root.dataset.pending) {
    button.removeAttribute("aria-busy");
    button.textContent = d.label || "Export";
  }
}
"""

_component = st.components.v2.component("salience_studio.export_button", css=_CSS, js=_JS)


def export_button(label: str, build: Callable[[], str], *, file_name: str, mime: str,
                  key: str) -> None:
    """A button that downloads `build()` as `file_name`; `build` runs only after a click."""
    asked = f"{key}_asked"

    def on_ask() -> None:
        value = st.session_state.get(key)
        try:
            ask = value.get("ask") if value is not None else None
        except AttributeError:
            ask = getattr(value, "ask", None)
        if ask:
            st.session_state[asked] = str(ask)[:40]

    ask = st.session_state.get(asked)
    data: dict[str, object] = {"label": label, "file_name": file_name, "mime": mime}
    if ask is not None:
        data["ask"] = ask
        try:
            data["content"] = build()
        except StudioError as e:
            data["failed"] = True
            common.show_error(f"{label} failed: {e}")
        except Exception:
            log.exception("building %s failed", file_name)
            data["failed"] = True
            common.show_error(f"{label} failed on the server (details are in its log); "
                              "try again, and tell the administrator if it keeps failing.")
    _component(key=key, data=data, on_ask_change=on_ask)
    # Handed over (or failed): later reruns build nothing. A run stopped before this line
    # keeps the request for the next one.
    if ask is not None and st.session_state.get(asked) == ask:
        del st.session_state[asked]

