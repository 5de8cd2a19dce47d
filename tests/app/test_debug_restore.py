"""Share links: absolute URL, restoring before the model has loaded, and a different model.

The server's model service is replaced by one whose load blocks on an Event, so "before the model
has loaded" is a state the test holds, not a race it hopes to win.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from lib.worker import ModelService
from tests.app.conftest import errors, make_app, no_crash, overlay

pytestmark = pytest.mark.usefixtures("studio_env")


def _infos(at) -> list[str]:
    return [i.value for i in at.info]


@pytest.fixture(scope="module")
def shared_run(studio_env):  # noqa: ANN001, ANN201
    """A Debug view on tiny with one selected segment, shared; returns (run id, view, overlay)."""
    from lib.segments import segment_sequence

    at = make_app()
    at.context = {"url": "http://127.0.0.1:8501/"}
    at.run()
    at.number_input(key="dbg_max_new").set_value(6)
    at.button(key="dbg_generate").click().run()
    view = at.session_state["dbg_view"]
    out = [s for s in segment_sequence(view.seq, "words") if not s.in_prompt]
    assert len(out) >= 3, "the tiny model's output needs a few words for this test"
    at.session_state["dbg_sel"] = (out[0].index, out[0].index)
    at.run()
    shown = overlay(at)
    assert shown
    at.button(key="dbg_share").click().run()
    no_crash(at)
    run_id = at.session_state["dbg_shared"]
    # The share link is the browser's own address plus ?run=: absolute, copyable.
    assert at.session_state["dbg_share_url"] == f"http://127.0.0.1:8501/?run={run_id}"
    return run_id, view, out, shown


def _use_service(monkeypatch, svc: ModelService) -> None:  # noqa: ANN001
    """Every UI module that asks for the server's model service gets `svc`."""
    import importlib

    # Import them all before patching any: a module imported meanwhile would keep the fake.
    mods = [importlib.import_module(f"lib.ui.{name}")
            for name in ("model_service", "app_shell", "debug", "compare", "scores", "generate")]
    for mod in mods:
        monkeypatch.setattr(mod, "get_service", lambda spec=None: svc)


def _forbid_model_work(monkeypatch) -> None:  # noqa: ANN001
    from lib import pipeline

    def boom(*a, **k):
        raise AssertionError("model work while showing a shared run")

    for name in ("generate", "salience", "salience_batch"):
        monkeypatch.setattr(pipeline, name, boom)


def test_link_restores_stored_view_while_model_is_still_loading(monkeypatch, shared_run):
    run_id, view, out, saved_overlay = shared_run
    release = threading.Event()

    def slow_loader(spec, progress=None):  # noqa: ANN001, ANN202
        progress(0.3, "Reading weights")
        release.wait(60)
        raise AssertionError("unreachable in this test")

    svc = ModelService("tiny", slow_loader)
    svc.start()
    _use_service(monkeypatch, svc)
    _forbid_model_work(monkeypatch)
    try:
        at = make_app()
        at.query_params["run"] = run_id
        at.run()
        no_crash(at)
        assert svc.status()["state"] == "loading"
        assert not errors(at)
        assert at.session_state["dbg_view"].seq == view.seq
        assert at.session_state["dbg_sel"] == (out[0].index, out[0].index)
        assert overlay(at) == saved_overlay  # the stored scores, drawn without the model
        assert any("model is loading" in i for i in _infos(at))

        # A selection whose scores were not stored waits for the model and says so.
        at.session_state["dbg_sel"] = (out[0].index, out[2].index)
        at.run()
        no_crash(at)
        assert any("once the model has loaded" in i for i in _infos(at)), _infos(at)
        assert overlay(at) == [] or all(v == 0 for _, v in overlay(at))
    finally:
        release.set()


def test_other_model_fingerprint_shows_stored_view_and_refuses_to_recompute(
        monkeypatch, shared_run):
    run_id, view, out, saved_overlay = shared_run
    other = SimpleNamespace(spec="tiny", name="Some other model", fingerprint="0" * 16,
                            max_prompt_tokens=1024, max_salience_tokens=1024)
    svc = ModelService("tiny", lambda spec, progress=None: other)
    svc.wait_loaded(30)
    _use_service(monkeypatch, svc)
    _forbid_model_work(monkeypatch)
    at = make_app()
    at.query_params["run"] = run_id
    at.run()
    no_crash(at)
    assert overlay(at) == saved_overlay
    at.session_state["dbg_sel"] = (out[0].index, out[2].index)
    at.run()
    no_crash(at)
    assert any("is not the one that produced it" in i for i in _infos(at)), _infos(at)
    assert svc.pending_count() == 0  # nothing was queued for the other model
