"""Salience scores for the pages: the view's stored scores, the server's caches, the model.

Three places can hold a target's scores: the `View` (computed in this session or saved with a
run), the engine's cache (`pipeline.cached_salience`, filled by prefetching) and the model
itself. `scores_for` waits for them; `score_request` never waits (Compare fills its columns as
requests finish); `prefetch` asks the worker, at low priority, for every single output segment;
`collect_scores` gathers what prefetching finished, for a share link.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import streamlit as st

from lib.records import Segment
from lib.ui import common
from lib.ui.model_service import get_service, model_info
from lib.ui.owner import owner_id
from lib.view import View
from lib.worker import prefetch_salience, request_salience


def _compute(model: Any, seq: Any, targets: list[int], method: str,
             progress: common.JobProgress | None = None) -> Any:
    from lib import pipeline

    # A long document's salience runs as pieces (layer by layer) and reports each one.
    return pipeline.salience_batch(model, seq, [targets], method,
                                   progress=progress.update if progress else None)[0]


def _compute_batch(model: Any, seq: Any, targets: list[list[int]], method: str) -> Any:
    from lib import pipeline

    return pipeline.salience_batch(model, seq, targets, method)


def can_compute(view: View) -> bool:
    """The server's model is loaded and is the one that produced `view`."""
    svc = get_service()
    return svc.status()["state"] == "ready" and model_info(svc)["fingerprint"] == view.fingerprint


def explain_why_not(view: View) -> None:
    """Say why scores that were not saved with the run cannot be computed now."""
    svc = get_service()
    state = svc.status()["state"]
    if state == "error":
        st.warning("These scores were not saved with the run and the server's model could "
                   "not be loaded, so they cannot be computed.")
    elif state != "ready":
        st.info("These scores were not saved with the run; they will be computed once the "
                "model has loaded (press R or click the segment again in a moment).")
    else:
        info = model_info(svc)
        st.info(common.md_escape(
            f"These scores were not saved with the run, and the server's model ({info['name']}) "
            f"is not the one that produced it ({view.model_name}), so they cannot be recomputed "
            "here."))


def score_request(view: View, method: str, targets: list[int], column: int = 0
                  ) -> tuple[tuple[float, ...] | None, Future | None]:
    """Stored scores at once, or a queued request for them (never waits). When the server
    cannot compute them (loading, other weights) it says why and returns (None, None)."""
    got = view.score_for(method, targets)
    if got is not None:
        return got, None
    if not can_compute(view):
        explain_why_not(view)
        return None, None
    fut = request_salience(get_service(), view.seq, targets, method, _compute, owner=owner_id(),
                           replaces=common.session_key(f"salience:{column}"))
    return None, fut


def scores_for(view: View, method: str, targets: list[int]) -> tuple[float, ...] | None:
    """Stored scores, else the server's cache, else compute (only with the same weights), with
    progress and a Cancel button (which stops the job in the worker between its pieces)."""
    got = view.score_for(method, targets)
    if got is not None:
        return got
    request = (view.fingerprint, tuple(view.seq.ids), tuple(targets), method)
    if common.was_cancelled(request):
        st.info("Cancelled. Click a segment (or this one again) to compute its salience.")
        return None
    if not can_compute(view):
        explain_why_not(view)
        return None
    progress = common.JobProgress()

    def compute(model: Any, seq: Any, targets: list[int], method: str) -> Any:
        return _compute(model, seq, targets, method, progress)

    fut = request_salience(get_service(), view.seq, targets, method, compute, owner=owner_id(),
                           replaces=common.session_key("salience"))
    sal = common.wait_for(fut, get_service(), "Computing salience for the selected segment",
                          progress, cancel_key=request)
    view.add_scores(method, targets, sal.scores)
    return view.score_for(method, targets)


def prefetch(view: View, out_segs: list[Segment], granularity: str, method: str,
             state_key: str) -> None:
    """Ask for every output segment's scores in the background (once per view and settings);
    `prefetching(state_key)` says whether those jobs are still running."""
    prefetch_views([view], [out_segs], granularity, method, state_key)


def prefetch_views(views: list[View], outs: list[list[Segment]], granularity: str, method: str,
                   state_key: str) -> None:
    """`prefetch` for several views together (Compare's columns): one request, since an
    owner's new prefetch replaces its older one."""
    ready = [can_compute(v) for v in views]
    if not any(ready):
        return
    key = tuple((id(v), len(v.seq.tokens), granularity, tuple(s.index for s in o), method)
                for v, o in zip(views, outs, strict=True))
    if st.session_state.get(state_key) == key:
        return
    st.session_state[state_key] = key
    jobs: list[Future] = []
    first = ready.index(True)  # its request drops the owner's older prefetch; the others add
    for k, (view, out_segs) in enumerate(zip(views, outs, strict=True)):
        if ready[k]:
            targets = [list(s.token_indices) for s in out_segs if s.token_indices]
            jobs += prefetch_salience(get_service(), view.seq, targets, method, _compute_batch,
                                      owner=owner_id(), replace=k == first)
    st.session_state[f"{state_key}_jobs"] = jobs


def prefetching(state_key: str) -> bool:
    """Some of the prefetch jobs asked for under `state_key` have not finished."""
    return any(not f.done() for f in st.session_state.get(f"{state_key}_jobs", ()))


def collect_scores(view: View, out_segs: list[Segment]) -> dict:
    """Scores of single output segments that prefetching finished, for sharing."""
    from lib import pipeline

    model = get_service().model
    extra: dict = {}
    if model is None or model.fingerprint != view.fingerprint:
        return extra
    for method in common.methods():
        for s in out_segs:
            t = sorted(s.token_indices)
            if not t or view.score_for(method, t) is not None:
                continue
            hit = pipeline.cached_salience(model, view.seq, t, method)
            if hit is not None:
                extra[(method, tuple(t))] = tuple(float(x) for x in hit.scores)
    return extra


def known_scores(view: View, out_segs: list[Segment], method: str) -> dict[int, tuple[float, ...]]:
    """Token scores of every single output segment computed so far (stored with the view,
    clicked, or prefetched into the engine's cache), by segment index. Never computes."""
    found: dict[int, tuple[float, ...]] = {}
    model = get_service().model
    same = model is not None and model.fingerprint == view.fingerprint
    for s in out_segs:
        if not s.token_indices:
            continue
        got = view.score_for(method, s.token_indices)
        if got is None and same:
            from lib import pipeline

            hit = pipeline.cached_salience(model, view.seq, s.token_indices, method)
            got = None if hit is None else tuple(float(x) for x in hit.scores)
        if got is not None:
            found[s.index] = got
    return found


def completeness_note(view: View, method: str, targets: list[int]) -> dict[str, Any] | None:
    """For Integrated Gradients: how far the scores' sum is from f(x) - f(baseline), so the
    reviewer sees whether the path's steps (and the precision) were enough. Returns
    `{"steps", "completeness_gap"}` for the share record and the exports (None otherwise)."""
    from lib import pipeline
    from lib.salience.methods import METHODS

    info = METHODS.get(method)
    model = get_service().model
    if info is None or not info.needs.interpolation_steps or model is None or \
            model.fingerprint != view.fingerprint:
        return None
    result = pipeline.cached_integrated_gradients(model, view.seq, targets)
    if result is None:
        return None
    gap = result.completeness_gap
    record = {"steps": result.steps, "completeness_gap": gap}
    if gap is None:
        st.caption("Completeness: nothing was interpolated for this segment.")
        return record
    text = (f"Completeness gap {gap:.1%} with {result.steps} steps: the scores sum to "
            f"{gap:.1%} off the change in the target's loss from the baseline to the prompt "
            f"({result.loss - result.baseline_loss:+.4g}).")
    if gap > 0.05:
        st.warning(text + " Above 5%, read the colours as rough: the path was not resolved "
                   "finely enough (or the model's precision limits it).")
    else:
        st.caption(text)
    return record
