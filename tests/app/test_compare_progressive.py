"""Compare after a click: every column's scores are requested at once, the clicked column's
first, and each column is filled from its own request (no column waits on a slower one)."""

from __future__ import annotations

import threading

import pytest

from tests.app.conftest import errors, make_app, no_crash

pytestmark = pytest.mark.usefixtures("studio_env")


def test_clicked_column_is_requested_first_and_every_column_gets_its_scores(monkeypatch):
    from lib import pipeline
    from lib.segments import segment_sequence
    from lib.ui import scores

    at = make_app("app_pages/compare.py")
    at.run()
    at.number_input(key="cmp_max_new").set_value(3)
    at.button(key="cmp_generate").click().run()
    no_crash(at)
    views = at.session_state["cmp_views"]
    asked: list[int] = []
    lock = threading.Lock()
    real = scores.request_salience

    def recording(svc, seq, targets, method, compute, **kw):
        with lock:
            asked.extend(i for i, v in enumerate(views) if v.seq is seq)
        return real(svc, seq, targets, method, compute, **kw)

    monkeypatch.setattr(scores, "request_salience", recording)
    at.selectbox(key="cmp_g").set_value("tokens").run()
    outs = [[s for s in segment_sequence(v.seq, "tokens") if not s.in_prompt] for v in views]
    last = outs[2][0]
    at.session_state["cmp_sel"] = (2, last.index, last.index)
    at.run()
    no_crash(at)
    assert not errors(at)
    assert asked and asked[0] == 2, asked
    # The clicked column's scores are the engine's own for that target.
    model = pipeline.get_model("tiny")
    targets = sorted(last.token_indices)
    want = pipeline.salience(model, views[2].seq, targets, "grad_l2").scores
    assert at.session_state["cmp_views"][2].score_for("grad_l2", targets) == pytest.approx(want)
    # Every column that asked got its scores stored.
    for j in set(asked):
        assert any(k[0] == "grad_l2" for k in at.session_state["cmp_views"][j].scores), j
