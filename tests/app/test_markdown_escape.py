"""Untrusted text in Markdown-rendering calls (st.error/st.caption/st.markdown) stays literal:
no links or emphasis from URL values, run titles or model output; invisible characters shown."""

from __future__ import annotations

import re

import pytest

from tests.app.conftest import make_app, no_crash

pytestmark = pytest.mark.usefixtures("studio_env")

LINK = "[Sign in](https://ev.il/x)"
# Markdown that would do something if it reached the renderer unescaped.
ACTIVE_MD = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(|(?<!\\)\*\*|(?<!\\)<[a-z]|(?<!\\)`")


def _unescape(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md)


@pytest.mark.parametrize("text", [LINK, "**bold** `code` <b>x</b> _i_ ![img](x.png)",
                                  "back\\slash \\[x\\](y)", "a\u202eb\u200bc", "two\nlines"])
def test_md_escape_is_literal_and_reversible(text):
    from lib.text_safety import safe_plain
    from lib.ui.common import md_escape

    out = md_escape(text)
    assert not ACTIVE_MD.search(out), out
    assert "\u202e" not in out and "\u200b" not in out and "\n" not in out
    # Undoing the escapes gives back exactly what a reviewer should read.
    assert _unescape(out) == safe_plain(text).replace("\n", " ")


def test_run_title_shows_markers_and_no_markdown(monkeypatch):
    from lib.runs import default_store
    from lib.ui import owner as owner_mod

    me = "anon:" + "t" * 24
    default_store().save({"model": {"name": "tiny"}}, owner=me,
                         title="Invoice \u202eFDP.exe " + LINK)
    monkeypatch.setattr(owner_mod, "request_cookies", lambda: {"studio_owner": "t" * 24})
    at = make_app("app_pages/runs.py")
    at.run()
    no_crash(at)
    shown = [m.value for m in at.markdown if "Invoice" in m.value]
    assert len(shown) == 1, [m.value for m in at.markdown]
    assert "\u202e" not in shown[0] and "⟨U\\+202E⟩" in shown[0]
    assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", shown[0].strip("*")), shown[0]


def test_model_response_caption_is_not_markdown():
    at = make_app()
    at.run()
    at.radio(key="dbg_target_mode").set_value("typed").run()
    at.text_input(key="dbg_typed_target").set_value(" Avoid.").run()
    at.number_input(key="dbg_max_new").set_value(1)
    at.button(key="dbg_generate").click().run()
    no_crash(at)
    at.session_state["dbg_response"] = LINK + " **x**"
    at.run()
    no_crash(at)
    caps = [c.value for c in at.caption if "own response" in c.value]
    assert len(caps) == 1, [c.value for c in at.caption]
    assert not ACTIVE_MD.search(caps[0]), caps[0]
    assert _unescape(caps[0]).endswith(repr(LINK + " **x**"))
