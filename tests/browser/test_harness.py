"""The browser-test harness itself, proven on a throwaway Streamlit script (not the app).

If these fail, the app's browser tests cannot be trusted either way.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.browser.harness import AppServer, block_outside_hosts

pytestmark = pytest.mark.browser

# A components-v2 element (mounted in an open shadow root) with focusable segments.
SCRIPT = textwrap.dedent(
    """
    import streamlit as st

    seg = st.components.v2.component(
        "harness_segments",
        html="<div id='root'></div>",
        js='''
    export default function(component) {
      const { data, parentElement, setStateValue } = component;
      const root = parentElement.querySelector('#root');
      root.textContent = '';
      data.segments.forEach((t, i) => {
        const s = document.createElement('span');
        s.textContent = t; s.tabIndex = 0; s.dataset.segmentIndex = String(i);
        s.addEventListener('click', () => setStateValue('selected', i));
        root.appendChild(s);
      });
    }
    ''',
    )
    res = seg(data={"segments": ["one ", "two"]}, key="s", default={"selected": None},
              on_selected_change=lambda: None)
    st.write(f"picked={res.selected}")
    """
)


@pytest.fixture(scope="module")
def script_server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    folder = tmp_path_factory.mktemp("harness-app")
    (folder / "demo.py").write_text(SCRIPT)
    server = AppServer(app=str(folder / "demo.py"), data_dir=folder).start()
    yield server
    server.stop()


def test_shadow_root_component_is_clickable(script_server: AppServer, page) -> None:  # noqa: ANN001
    assert script_server.url.startswith("http://127.0.0.1:")
    page.goto(script_server.url)
    segments = page.locator("[data-segment-index]")
    segments.nth(1).wait_for()
    # The component lives in a shadow root: plain document.querySelector must not see it,
    # which is why the tests use Playwright's shadow-piercing locators.
    assert page.evaluate("() => document.querySelector('[data-segment-index]')") is None
    segments.nth(1).click()
    page.get_by_text("picked=1").wait_for()


def test_requests_to_other_hosts_are_aborted(new_context) -> None:  # noqa: ANN001
    context = new_context()
    blocked: list[str] = []
    block_outside_hosts(context, blocked)  # a second, inner route records what it blocked
    page = context.new_page()
    # .invalid never resolves; the route must abort before any DNS lookup or connection.
    # Hosts that only start like the local ones are outside hosts too.
    outside = ["http://example.invalid/", "http://127.0.0.1.example.invalid/",
               "http://localhost.invalid:8501/"]
    for url in outside:
        with pytest.raises(Exception, match="ERR_FAILED"):
            page.goto(url)
    assert blocked == outside
    context.unroute_all()  # the fixture would (rightly) fail this test for the attempts


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("import streamlit as st\nst.write('hi')\n")
    server = AppServer(app=str(tmp_path / "empty.py"), data_dir=tmp_path).start()
    assert server.proc is not None
    pgid = server.proc.pid
    server.stop()
    assert server.proc.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
