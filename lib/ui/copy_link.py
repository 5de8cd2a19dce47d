"""A share link shown in full with a visible "Copy link" button (components v2, inline JS).

The URL goes into an <input>'s `value` and the button label via `textContent`, never as HTML.
`navigator.clipboard` needs a secure context (https or localhost); elsewhere the input's text is
selected and copied with the older `execCommand`, and the reviewer can always copy it by hand.
"""

from __future__ import annotations

import streamlit as st

_CSS = """
.copy-link { display: flex; gap: .5rem; align-items: center; width: 100%; }
.copy-link input { flex: 1; min-width: 0; font-family: var(--st-code-font, monospace);
  font-size: .9rem; padding: .45rem .6rem; border: 1px solid rgba(49,51,63,.3);
  border-radius: .4rem; background: var(--st-secondary-background-color); color: inherit; }
.copy-link button { padding: .45rem .9rem; border-radius: .4rem; cursor: pointer;
  border: 1px solid var(--st-primary-color); background: var(--st-primary-color); color: #fff;
  font-weight: 600; white-space: nowrap; }
.copy-link button:focus-visible, .copy-link input:focus-visible {
  outline: 3px solid #c77700; outline-offset: 2px; }
"""

_JS = r"""
export default function (component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector(".copy-link");
  if (!root) {
    root = document.createElement("div");
    root.className = "copy-link";
    const input = document.createElement("input");
    input.type = "text"; input.readOnly = true;
    input.setAttribute("aria-label", "Share link");
    input.setAttribute("data-share-link", "");
    const button = document.createElement("button");
    button.type = "button";
    button.addEventListener("click", async () => {
      const url = input.value;
      let ok = false;
      try { await navigator.clipboard.writeText(url); ok = true; } catch (e) {
        input.focus(); input.select();
        try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
      }
      button.textContent = ok ? "Copied ✓" : "Select and copy";
      setTimeout(() => { button.textContent = "Copy link"; }, 2500);
    });
    input.addEventListener("focus", () => input.select());
    root.appendChild(input); root.appendChild(button);
    parentElement.appendChild(root);
  }
  root.querySelector("input").value = (data && data.url) || "";
  root.querySelector("button").textContent = "Copy link";
}
"""

_component = st.components.v2.component("salience_studio.copy_link", css=_CSS, js=_JS)


def copy_link(url: str, *, key: str) -> None:
    """Show `url` in full with a Copy button, and a plain link to open it in a new tab."""
    _component(key=key, data={"url": url})
    # The URL is ours (page address + a validated run id); escape Markdown anyway.
    shown = url.replace("\\", "\\\\").replace("]", "\\]").replace(")", "%29")
    # Markdown, not a caption: a link in a caption's muted colour fails WCAG contrast (2.96:1).
    st.markdown(f"[Open this link in a new tab]({shown})")
