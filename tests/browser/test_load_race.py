"""A click made while the model is still loading survives the load finishing.

When loading ends, the sidebar's status fragment starts one full rerun, which carries the query
string of the fragment's last tick: it can predate a click made meanwhile. The pages keep the
click (lib.ui.url_state.hold_all). This test's own tiny server holds its model load on a file
(STUDIO_TEST_HOLD_LOAD) until the test releases it, and opens a saved run (the Debug fixture)
meanwhile: a link works while the model loads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.runs import RunStore
from tests.browser import pageops as ops
from tests.browser.harness import REPO, AppServer

pytestmark = pytest.mark.browser
FIXTURE = REPO / "tests" / "fixtures" / "saved_run_debug_v1.json"


@pytest.fixture
def held_server(tmp_path: Path) -> Iterator[tuple[AppServer, Path, str]]:
    gate = tmp_path / "release-the-load"
    data = tmp_path / "data"
    data.mkdir()
    record = json.loads(FIXTURE.read_text(encoding="utf-8"))
    run_id = RunStore(data / "runs.sqlite3").save(record, owner="f" * 24, title="fixture",
                                                   kind="debug")
    server = AppServer(app=str(REPO / "app.py"), data_dir=data,
                       env={"STUDIO_MODEL": "tiny", "STUDIO_ALLOWED_MODELS": "tiny",
                            "STUDIO_TEST_HOLD_LOAD": str(gate)}).start()
    yield server, gate, run_id
    gate.touch()
    server.stop()


def test_click_during_the_model_load_is_kept(held_server, page) -> None:  # noqa: ANN001
    server, gate, run_id = held_server
    ops.open_app(page, server.url, params=f"run={run_id}")
    segs = ops.poll(lambda: ops.segments(page), lambda s: len(s) >= 2, "the saved output", 120)
    assert "loading" in ops.app_text(page)
    assert ops.selected_segments(page) == [segs[0]["index"]]  # the saved selection
    b, c = segs[1]["index"], segs[0]["index"]
    ops.click_segment(page, b)
    ops.wait_for_url_param(page, "sel", str(b))
    # Release the load and click again at once: the status fragment's rerun at the end of
    # the load may carry the address from before this click.
    gate.touch()
    ops.click_segment(page, c)
    ops.poll(lambda: "Ready" in ops.app_text(page), bool, "the model to finish loading", 360)
    time.sleep(3)  # the rerun after the load, and a tick or two of anything left
    assert ops.url_params(page)["sel"] == [str(c)]
    assert ops.selected_segments(page) == [c]
    ops.assert_no_traceback(page)
