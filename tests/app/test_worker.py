"""ModelService with fake loaders and jobs (one test on the tiny model); no Streamlit."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import pytest

from lib.errors import ModelLoadError
from lib.worker import (
    PRIORITY_PREFETCH,
    PRIORITY_USER,
    ModelService,
    prefetch_salience,
    request_salience,
)


class Gate:
    """A loader that blocks until released, so tests control when the model is 'ready'."""

    def __init__(self, model="M", error: Exception | None = None) -> None:
        self.release = threading.Event()
        self.model, self.error, self.calls = model, error, 0

    def __call__(self, spec, progress=None):
        self.calls += 1
        progress(0.5, "half way")
        self.release.wait(10)
        if self.error:
            raise self.error
        return self.model


def test_loads_once_and_reports_progress():
    gate = Gate()
    svc = ModelService("fake", gate)
    svc.start()
    svc.start()
    for _ in range(200):
        if svc.status()["message"] == "half way":
            break
        threading.Event().wait(0.01)
    st = svc.status()
    assert st["state"] == "loading" and st["progress"] == 0.5 and st["model"] is None
    gate.release.set()
    assert svc.wait_loaded(5) == "M"
    assert svc.status()["state"] == "ready" and gate.calls == 1


def test_load_error_is_kept_as_message_and_fails_jobs():
    gate = Gate(error=ModelLoadError("Model 'x' is unknown; pick one of: tiny."))
    gate.release.set()
    svc = ModelService("x", gate)
    fut = svc.submit(lambda m: 1)
    with pytest.raises(ModelLoadError, match="unknown"):
        fut.result(5)
    assert svc.status()["state"] == "error"
    assert "unknown" in svc.status()["error"]


def test_unexpected_loader_exception_becomes_short_message():
    gate = Gate(error=RuntimeError("secret stack detail"))
    gate.release.set()
    svc = ModelService("x", gate)
    with pytest.raises(ModelLoadError) as e:
        svc.wait_loaded(5)
    assert "secret stack detail" not in str(e.value)
    assert "RuntimeError" in str(e.value)


def test_user_jobs_go_before_prefetch_and_fifo_within_priority():
    gate = Gate()
    svc = ModelService("fake", gate)
    order: list[str] = []
    futs = [
        svc.submit(lambda m: order.append("p1"), priority=PRIORITY_PREFETCH, owner="a"),
        svc.submit(lambda m: order.append("u1"), priority=PRIORITY_USER, owner="a"),
        svc.submit(lambda m: order.append("p2"), priority=PRIORITY_PREFETCH, owner="b"),
        svc.submit(lambda m: order.append("u2"), priority=PRIORITY_USER, owner="b"),
    ]
    # Nothing runs while loading; positions follow the priority order.
    assert [svc.queue_position(f) for f in futs] == [2, 0, 3, 1]
    gate.release.set()
    for f in futs:
        f.result(5)
    assert order == ["u1", "u2", "p1", "p2"]
    assert svc.queue_position(futs[0]) is None


def test_job_receives_model_and_exceptions_reach_the_caller():
    gate = Gate(model={"name": "fake"})
    gate.release.set()
    svc = ModelService("fake", gate)
    assert svc.submit(lambda m: m["name"]).result(5) == "fake"
    with pytest.raises(ZeroDivisionError):
        svc.submit(lambda m: 1 / 0).result(5)
    # The worker survives a failing job.
    assert svc.submit(lambda m: 2).result(5) == 2


def test_cancel_prefetch_only_drops_that_owners_prefetch():
    gate = Gate()
    svc = ModelService("fake", gate)
    a_pre = svc.submit(lambda m: "a", priority=PRIORITY_PREFETCH, owner="a")
    b_pre = svc.submit(lambda m: "b", priority=PRIORITY_PREFETCH, owner="b")
    a_user = svc.submit(lambda m: "au", priority=PRIORITY_USER, owner="a")
    assert svc.cancel_prefetch("a") == 1
    gate.release.set()
    assert b_pre.result(5) == "b" and a_user.result(5) == "au"
    with pytest.raises(CancelledError):
        a_pre.result(5)


class FakeSeq:
    def __init__(self, ids):
        self.ids = ids


class FakeEngine:
    """Stands in for lib.pipeline: computing fills its cache (every method at once, as the
    engine does); `lookup` only reads it."""

    def __init__(self) -> None:
        self.cache: dict[tuple, dict[str, list[float]]] = {}
        self.calls: list[tuple] = []

    def _fill(self, model, seq, t):
        key = (model, tuple(seq.ids), tuple(sorted(t)))
        self.cache[key] = {"grad_l2": [float(sum(t))], "grad_dot_input": [-float(sum(t))]}
        return key

    def compute(self, model, seq, targets, method):
        self.calls.append(("one", tuple(targets), method))
        return self.cache[self._fill(model, seq, targets)][method]

    def compute_batch(self, model, seq, targets, method):
        self.calls.append(("batch", tuple(tuple(t) for t in targets), method))
        return [self.cache[self._fill(model, seq, t)][method] for t in targets]

    def lookup(self, model, seq, targets, method):
        hit = self.cache.get((model, tuple(seq.ids), tuple(sorted(targets))))
        return None if hit is None else hit[method]


def test_salience_hits_come_from_the_engine_cache_and_prefetch_fills_it():
    gate = Gate()
    gate.release.set()
    svc = ModelService("fake", gate)
    svc.wait_loaded(5)
    eng = FakeEngine()
    seq = FakeSeq([2, 5, 7, 9])
    first = request_salience(svc, seq, [2, 3], "grad_l2", eng.compute, owner="a",
                             lookup=eng.lookup)
    assert first.result(5) == [5.0]
    again = request_salience(svc, seq, [3, 2], "grad_l2", eng.compute, owner="a",
                             lookup=eng.lookup)
    assert again.done() and again.result() == [5.0]  # order of targets does not matter
    # The engine caches every method at once: switching method costs no model time.
    other = request_salience(svc, seq, [2, 3], "grad_dot_input", eng.compute, owner="a",
                             lookup=eng.lookup)
    assert other.done() and other.result() == [-5.0]
    assert len(eng.calls) == 1
    futs = prefetch_salience(svc, seq, [[2, 3], [1], [2]], "grad_dot_input",
                             eng.compute_batch, owner="a", batch_size=2, lookup=eng.lookup)
    for f in futs:
        f.result(5)
    # Only the two targets not cached yet were computed, in one batch.
    assert eng.calls[1:] == [("batch", ((1,), (2,)), "grad_dot_input")]
    hit = request_salience(svc, seq, [1], "grad_dot_input", eng.compute, owner="a",
                           lookup=eng.lookup)
    assert hit.done() and hit.result() == [-1.0]
    # Already-cached targets are not recomputed by a later prefetch.
    n = len(eng.calls)
    for f in prefetch_salience(svc, seq, [[1], [2]], "grad_l2", eng.compute_batch,
                               owner="a", lookup=eng.lookup):
        f.result(5)
    assert len(eng.calls) == n


def test_worker_uses_the_engines_cache_on_tiny():
    """With the real engine: a prefetched target is answered at once, with the engine's own
    scores (no second cache in the worker to disagree with it)."""
    from lib import pipeline

    model = pipeline.get_model("tiny")
    svc = ModelService("tiny", lambda spec, progress=None: model)
    svc.wait_loaded(60)
    seq = pipeline.sequence_for_target(model, "Say hi.", " Hello there friend")
    targets = [[i] for i in range(seq.prompt_length, len(seq.tokens))]
    for f in prefetch_salience(svc, seq, targets, "grad_l2",
                               pipeline.salience_batch, owner="t", batch_size=2):
        f.result(120)
    fut = request_salience(svc, seq, targets[-1], "grad_dot_input",
                           lambda *a: pytest.fail("computed again"), owner="t")
    assert fut.done()
    want = pipeline.cached_salience(model, seq, targets[-1], "grad_dot_input")
    assert want is not None and fut.result().scores == want.scores
    assert len(fut.result().scores) == len(seq.tokens)


# ---- fairness, replacement, caps, cancellation (issue 12 item 3) ---------------------------

def _ready_service() -> ModelService:
    gate = Gate()
    gate.release.set()
    svc = ModelService("fake", gate)
    svc.wait_loaded(5)
    return svc


def _loading_service() -> tuple[ModelService, Gate]:
    gate = Gate()
    return ModelService("fake", gate), gate


class LongJob:
    """A job of many pieces calling checkpoint() between them; each piece waits for `step`
    (bounded), so tests control its progress without timing assumptions."""

    def __init__(self, pieces: int = 200) -> None:
        self.pieces, self.done_pieces = pieces, 0
        self.started = threading.Event()
        self.step = threading.Event()
        self.log: list[str] = []

    def __call__(self, model):
        from lib.cancel import checkpoint

        self.started.set()
        for _ in range(self.pieces):
            self.step.wait(0.05)
            self.done_pieces += 1
            checkpoint()
        self.log.append("long done")
        return "long"


def test_owners_are_served_in_turn_not_in_arrival_order():
    svc, gate = _loading_service()
    order: list[str] = []
    futs = [svc.submit(lambda m, n=n: order.append(n), owner=n[0]) for n in ("a1", "a2", "a3")]
    futs.append(svc.submit(lambda m: order.append("b1"), owner="b"))
    futs.append(svc.submit(lambda m: order.append("c1"), owner="c"))
    assert [svc.queue_position(f) for f in futs] == [0, 3, 4, 1, 2]
    gate.release.set()
    for f in futs:
        f.result(5)
    assert order == ["a1", "b1", "c1", "a2", "a3"]


def test_a_newer_job_replaces_the_owners_older_queued_one():
    from lib.errors import Cancelled

    svc, gate = _loading_service()
    old = svc.submit(lambda m: "old", owner="a", replaces="salience")
    other_owner = svc.submit(lambda m: "b", owner="b", replaces="salience")
    other_key = svc.submit(lambda m: "gen", owner="a", replaces="generate")
    new = svc.submit(lambda m: "new", owner="a", replaces="salience")
    with pytest.raises(Cancelled, match="newer request"):
        old.result(1)
    gate.release.set()
    assert new.result(5) == "new" and other_owner.result(5) == "b"
    assert other_key.result(5) == "gen"


def test_a_newer_job_stops_the_owners_running_one_with_the_same_key():
    from lib.errors import Cancelled

    svc = _ready_service()
    long = LongJob()
    first = svc.submit(long, owner="a", replaces="salience")
    assert long.started.wait(5)
    second = svc.submit(lambda m: "second", owner="a", replaces="salience")
    long.step.set()
    with pytest.raises(Cancelled):
        first.result(10)
    assert long.done_pieces < long.pieces
    assert second.result(5) == "second"


def test_each_owner_has_a_small_cap_of_queued_jobs():
    from lib.errors import LimitError
    from lib.worker import MAX_QUEUED_USER_JOBS

    svc, gate = _loading_service()
    futs = [svc.submit(lambda m: 1, owner="a") for _ in range(MAX_QUEUED_USER_JOBS)]
    with pytest.raises(LimitError) as err:
        svc.submit(lambda m: 1, owner="a")
    assert err.value.field == "queue" and str(MAX_QUEUED_USER_JOBS) in str(err.value)
    other = svc.submit(lambda m: 2, owner="b")  # other owners are unaffected
    gate.release.set()
    assert [f.result(5) for f in futs] == [1] * MAX_QUEUED_USER_JOBS and other.result(5) == 2
    assert svc.submit(lambda m: 3, owner="a").result(5) == 3  # room again once they ran


def test_prefetch_stops_queueing_at_the_owners_cap():
    from lib.worker import MAX_QUEUED_PREFETCH_JOBS

    svc, gate = _loading_service()
    eng = FakeEngine()
    seq = FakeSeq(list(range(500)))
    futs = prefetch_salience(svc, seq, [[i] for i in range(1, 400)], "grad_l2",
                             eng.compute_batch, owner="a", batch_size=1, lookup=eng.lookup)
    assert len(futs) == MAX_QUEUED_PREFETCH_JOBS
    assert svc.pending_count() == MAX_QUEUED_PREFETCH_JOBS
    svc.cancel_prefetch("a")
    gate.release.set()


def test_forget_owner_drops_queued_jobs_and_stops_the_running_one():
    from lib.errors import Cancelled

    svc = _ready_service()
    long = LongJob()
    running = svc.submit(long, owner="gone")
    assert long.started.wait(5)
    queued = svc.submit(lambda m: "never", owner="gone")
    pre = svc.submit(lambda m: "never", owner="gone", priority=PRIORITY_PREFETCH)
    other = svc.submit(lambda m: "kept", owner="here")
    assert svc.forget_owner("gone") == 3
    long.step.set()
    for fut in (running, queued, pre):
        with pytest.raises(Cancelled):
            fut.result(10)
    assert other.result(5) == "kept"
    assert long.done_pieces < long.pieces


def test_cancel_a_running_long_job_between_pieces():
    from lib.errors import Cancelled

    svc = _ready_service()
    long = LongJob()
    fut = svc.submit(long, owner="a")
    assert long.started.wait(5)
    assert svc.cancel(fut) is True
    long.step.set()
    with pytest.raises(Cancelled):
        fut.result(10)
    assert long.done_pieces < long.pieces and long.log == []
    assert svc.cancel(fut) is False  # already done
    assert svc.submit(lambda m: "next", owner="a").result(5) == "next"


def test_cancel_a_queued_job():
    from lib.errors import Cancelled

    svc, gate = _loading_service()
    fut = svc.submit(lambda m: pytest.fail("ran"), owner="a")
    assert svc.cancel(fut) is True
    gate.release.set()
    with pytest.raises(Cancelled):
        fut.result(5)
    assert svc.pending_count() == 0


def test_other_owners_short_jobs_run_between_the_pieces_of_a_long_job():
    svc = _ready_service()
    long = LongJob(pieces=400)
    long_fut = svc.submit(long, owner="a")
    assert long.started.wait(5)

    def click(model):
        long.log.append(f"click at piece {long.done_pieces}")
        return "clicked"

    own_short = svc.submit(lambda m: long.log.append("a's own"), owner="a", short=True)
    not_short = svc.submit(lambda m: long.log.append("b's long"), owner="b")
    short = svc.submit(click, owner="c", short=True)
    assert short.result(30) == "clicked"
    assert not long_fut.done()  # the click was served while the long job was still running
    assert svc.queue_position(long_fut) == 0
    long.step.set()
    assert long_fut.result(60) == "long"
    own_short.result(5)
    not_short.result(5)
    assert long.log[0].startswith("click at piece ")
    assert long.log.index("long done") < long.log.index("a's own")
    assert long.log.index("long done") < long.log.index("b's long")


def test_short_job_run_inline_cannot_nest_further():
    from lib import cancel

    svc = _ready_service()
    long = LongJob(pieces=400)
    long_fut = svc.submit(long, owner="a")
    assert long.started.wait(5)
    seen: list[object] = []

    def inner(model):
        ctx = cancel.current()
        seen.append(ctx.between_pieces if ctx is not None else "no context")
        cancel.checkpoint()  # must not recurse into the worker
        return "inner"

    assert svc.submit(inner, owner="b", short=True).result(30) == "inner"
    assert seen == [None]
    long.step.set()
    assert long_fut.result(60) == "long"


def test_shutdown_takes_no_new_jobs_and_stops_the_running_one():
    from lib.errors import Cancelled, StudioError

    svc = _ready_service()
    long = LongJob()
    running = svc.submit(long, owner="a")
    assert long.started.wait(5)
    queued = svc.submit(lambda m: "never", owner="b")
    long.step.set()
    assert svc.shutdown(timeout=10) is True
    for fut in (running, queued):
        with pytest.raises(Cancelled):
            fut.result(1)
    late = svc.submit(lambda m: "late", owner="c")
    with pytest.raises(StudioError, match="shutting down"):
        late.result(1)


def test_shutdown_while_loading_returns():
    svc, gate = _loading_service()
    svc.start()
    fut = svc.submit(lambda m: 1, owner="a")
    assert svc.shutdown(timeout=5) is True
    from lib.errors import Cancelled

    with pytest.raises(Cancelled):
        fut.result(1)
    gate.release.set()


class StopException(Exception):
    """Named like Streamlit's: what a script thread sees when its run is abandoned."""


def test_an_abandoned_wait_cancels_its_job():
    from lib.errors import Cancelled
    from lib.ui.common import wait_for

    svc = _ready_service()
    long = LongJob()
    fut = svc.submit(long, owner="a")
    assert long.started.wait(5)

    class Abandoning:
        def get(self):
            raise StopException()  # the next st.* call of an abandoned run raises like this

    with pytest.raises(StopException):
        wait_for(fut, svc, "Generating", Abandoning())
    long.step.set()
    with pytest.raises(Cancelled):
        fut.result(10)
    assert long.done_pieces < long.pieces


def test_a_failing_wait_does_not_cancel_other_jobs():
    from lib.ui.common import cancel_if_abandoned

    svc, gate = _loading_service()
    fut = svc.submit(lambda m: "kept", owner="a")
    with pytest.raises(ZeroDivisionError), cancel_if_abandoned(svc, [fut]):
        raise ZeroDivisionError("a page error, not an abandoned run")
    gate.release.set()
    assert fut.result(5) == "kept"


def test_session_key_carries_the_sessions_id():
    from streamlit.testing.v1 import AppTest

    from lib.ui.common import session_key

    script = ("import streamlit as st\n"
              "from lib.ui.common import session_key\n"
              "from streamlit.runtime.scriptrunner import get_script_run_ctx\n"
              "st.write(session_key('generate') + '|' + get_script_run_ctx().session_id)\n")
    at = AppTest.from_string(script, default_timeout=30)
    at.run()
    key, session = at.markdown[0].value.split("|")
    assert key == f"generate:{session}" and session
    assert session_key("generate") == "generate:no-session"  # outside a script run


def test_a_light_job_of_a_lighter_owner_runs_between_the_pieces_of_a_long_job():
    """One owner's long job (a flood of generations, an 8k document) does not hold another
    owner's short generation: it runs at the long job's next checkpoint, because its owner has
    used the model less lately than the running job's owner."""
    svc = _ready_service()
    long = LongJob(pieces=400)
    long_fut = svc.submit(long, owner="a")
    assert long.started.wait(5)

    def generation(model):
        long.log.append(f"b's generation at piece {long.done_pieces}")
        return "generated"

    own_light = svc.submit(lambda m: long.log.append("a's own"), owner="a", light=True)
    light = svc.submit(generation, owner="b", light=True)
    assert light.result(30) == "generated"
    assert not long_fut.done()  # served while the long job was still running
    long.step.set()
    assert long_fut.result(60) == "long"
    own_light.result(5)
    assert long.log[0].startswith("b's generation at piece ")
    assert long.log.index("long done") < long.log.index("a's own")  # never its own owner's
