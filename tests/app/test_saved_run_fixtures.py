"""Share links saved before the UI was split into parts still open unchanged.

The fixtures were written by the app's own code on 2026-12-01 (record version 1, the schema of
commit 2f78acb): a Debug run with one selected word and its scores, and a two-variant Compare
run. They are opened from a link with model work forbidden: what shows is what was saved.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.conftest import errors, make_app, no_crash, overlay

pytestmark = pytest.mark.usefixtures("studio_env")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _record(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _store(record: dict, kind: str) -> str:
    from lib.runs import default_store

    return default_store().save(record, owner="f" * 24, title="fixture", kind=kind)


@pytest.fixture
def no_model_work(monkeypatch):  # noqa: ANN201
    from lib import pipeline

    def boom(*a, **k):
        raise AssertionError("model work while showing a saved run")

    for name in ("generate", "salience", "salience_batch"):
        monkeypatch.setattr(pipeline, name, boom)


def test_saved_debug_run_from_the_old_schema_opens_unchanged(no_model_work):
    from lib.segments import segment_scores, segment_sequence
    from lib.view import view_from_record

    rec = _record("saved_run_debug_v1.json")
    run_id = _store(rec, "debug")
    at = make_app()
    at.query_params["run"] = run_id
    at.run()
    no_crash(at)
    assert not errors(at)
    lo, hi = rec["ui"]["selection"]
    assert at.session_state["dbg_sel"] == (lo, hi)
    assert at.session_state["dbg_g"] == "words" and at.session_state["dbg_m"] == "grad_l2"
    assert at.text_area(key="dbg_raw").value == rec["prompt"]
    assert at.query_params["sel"] == str(lo) and at.query_params["run"] == run_id
    # The overlay shows the stored scores, summed per word.
    view = view_from_record(rec)
    segs = segment_sequence(view.seq, "words")
    targets = sorted(t for s in segs if lo <= s.index <= hi for t in s.token_indices)
    want = segment_scores(segs, view.score_for("grad_l2", targets))
    shown = dict(overlay(at))
    assert shown == pytest.approx({s.index: v for s, v in zip(segs, want, strict=True)})


def test_saved_compare_run_from_the_old_schema_opens_unchanged(no_model_work):
    rec = _record("saved_run_compare_v1.json")
    run_id = _store(rec, "compare")
    at = make_app("app_pages/compare.py")
    at.query_params["run"] = run_id
    at.run()
    no_crash(at)
    assert not errors(at)
    col, lo, hi = rec["ui"]["selection"]
    assert at.session_state["cmp_sel"] == (col, lo, hi)
    assert at.session_state["cmp_n"] == 2
    assert [v.prompt for v in at.session_state["cmp_views"]] == [v["prompt"]
                                                                  for v in rec["views"]]
    assert at.query_params["sel"] == f"{col}:{lo}"
    assert overlay(at), "the selected column's stored scores colour its prompt"
