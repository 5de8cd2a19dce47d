"""A click made while the model is still loading survives the load finishing.

When loading ends, the sidebar's status fragment starts one full rerun, which carries the query
string of the fragment's last tick: it can predate a click made meanwhile. The pages keep the
click (lib.ui.url_state.hold_all). A second tiny server shares the first one's saved runs and
holds its model load on a file (STUDIO_TEST_HOLD_LOAD) until the test releases it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import pageops as ops
from tests.browser.harness import REPO, AppServer

pytestmark = pytest.mark.browser


@pytest.fixture
def held_server(tiny_server: AppServer, tmp_path: Path) -> Iterator[tuple[AppServer, Path]]:
    gate = tmp_path / "release-the-load"
    server = AppServer(app=str(REPO / "app.py"), data_dir=tiny_server.data_dir,
                       env={"STUDIO_MODEL": "tiny", "STUDIO_ALLOWED_MODELS": "tiny",
                            "STUDIO_TEST_HOLD_LOAD": str(gate)}).start()
    yield server, gate
    gate.touch()
    server.stop()


def _computing(page) -> list[int]:  # noqa: ANN001
    return page.locator(f"{ops.SEGMENT}.computing").evaluate_all(
        "els => els.map(e => Number(e.getAttribute('data-segment-index')))")


def test_click_during_the_model_load_is_kept(tiny_server, held_server, new_context) -> None:  # noqa: ANN001
    server, gate = held_server
    # A shared run with every segment's scores, made on the loaded server.
    page = new_context().new_page()
    ops.open_app(page, tiny_server.url, params="g=words")
    segs = ops.generate(page, min_segments=3)
    a, b, c = (s["index"] for s in segs[:3])
    ops.click_segment(page, a)
    ops.wait_for_url_param(page, "sel", str(a))
    ops.poll(lambda: _computing(page), lambda x: x == [], "every segment's scores", 120)
    ops.click_button(page, "Share")
    run_id = ops.poll(lambda: ops.url_params(page).get("run", [None])[0], bool, "run= in the URL")

    # The link on the held server: shown from the saved scores while the model loads.
    viewer = new_context().new_page()
    ops.open_app(viewer, server.url, params=f"run={run_id}")
    ops.poll(lambda: ops.selected_segments(viewer), lambda s: s == [a], "the saved selection")
    assert "loading" in ops.app_text(viewer)
    ops.click_segment(viewer, b)
    ops.wait_for_url_param(viewer, "sel", str(b))
    # Release the load and click again at once: the status fragment's rerun at the end of
    # the load may carry the address from before this click.
    gate.touch()
    ops.click_segment(viewer, c)
    ops.poll(lambda: "Ready" in ops.app_text(viewer), bool, "the model to finish loading", 120)
    time.sleep(3)  # the rerun after the load, and a tick or two of anything left
    assert ops.url_params(viewer)["sel"] == [str(c)]
    assert ops.selected_segments(viewer) == [c]
    assert ops.overlay_marks(ops.overlay(viewer)) == {str(c)}
    ops.assert_no_traceback(viewer)
