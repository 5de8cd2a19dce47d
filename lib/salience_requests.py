"""A session's salience requests to the model worker: a click, and prefetching of the rest.

A click (`request_salience`) is a short user job, answered at once when the engine already has
the scores; prefetching (`prefetch_salience`) queues the other targets in small low-priority
batches so a click can overtake them. Kept apart from `lib.worker`, which knows nothing of
salience: it only queues and runs model jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from lib.errors import LimitError
from lib.jobs import PRIORITY_PREFETCH, PRIORITY_USER

if TYPE_CHECKING:
    from lib.worker import ModelService

Lookup = Callable[[Any, Any, Sequence[int], str], Any]


def cached_lookup(model: Any, seq: Any, targets: Sequence[int], method: str) -> Any | None:
    """The engine's cached scores (a `Salience`) or None; never computes."""
    from lib import pipeline  # imported late: pages must render while JAX loads

    return pipeline.cached_salience(model, seq, targets, method)


def request_salience(service: ModelService, seq: Any, targets: Sequence[int], method: str,
                     compute: Callable[..., Any], *, owner: str | None = None,
                     lookup: Lookup = cached_lookup, replaces: str | None = None) -> Future:
    """A user's salience request at priority 0; done at once when the engine has the scores.

    `compute(model, seq, targets, method)` returns the scores (a `Salience`) and is expected to
    fill the cache `lookup(model, seq, targets, method)` reads (the engine's does). It is a
    short job (it may run between the pieces of another owner's long one); pass `replaces`
    (e.g. "salience:<session>") so a newer click cancels this one while it waits.
    """
    model = service.model
    hit = lookup(model, seq, targets, method) if model is not None else None
    if hit is not None:
        fut: Future = Future()
        fut.set_result(hit)
        return fut

    def job(model: Any) -> Any:
        cached = lookup(model, seq, targets, method)  # a prefetch may have filled it meanwhile
        if cached is not None:
            return cached
        return compute(model, seq, list(targets), method)

    return service.submit(job, priority=PRIORITY_USER, owner=owner, replaces=replaces,
                          short=True)


def prefetch_salience(service: ModelService, seq: Any, targets: Sequence[Sequence[int]],
                      method: str, compute_batch: Callable[..., list], *, owner: str,
                      batch_size: int = 4, lookup: Lookup = cached_lookup,
                      replace: bool = True) -> list[Future]:
    """Queue prefetch jobs (priority 1) for every target not cached yet, a few per job.

    Small batches let a click overtake prefetching between batches; each job re-checks the
    cache when it runs, so nothing is computed twice. The owner's older queued prefetch jobs
    are dropped first, unless `replace=False` (more sequences of one prefetch: Compare's).
    """
    if replace:
        service.cancel_prefetch(owner)
    from lib.salience.methods import METHODS, one_gradient_methods

    if method in METHODS and method not in one_gradient_methods():
        # Integrated Gradients costs one gradient per step for each segment: it would hold
        # the worker for minutes, so it is computed on click only.
        return []
    model = service.model
    # Segments past the model's salience limit are skipped: a click on one says why, and one
    # such segment must not fail the prefetch of the others in its batch.
    limit = getattr(model, "max_salience_tokens", None)
    todo = [list(t) for t in targets
            if t and (limit is None or max(t) <= limit)
            and (model is None or lookup(model, seq, t, method) is None)]
    futures = []
    for i in range(0, len(todo), batch_size):
        chunk = todo[i:i + batch_size]

        def job(model: Any, chunk: list = chunk) -> int:
            missing = [t for t in chunk if lookup(model, seq, t, method) is None]
            if not missing:
                return 0
            compute_batch(model, seq, missing, method)
            return len(missing)

        try:
            futures.append(service.submit(job, priority=PRIORITY_PREFETCH, owner=owner))
        except LimitError:
            break  # enough queued for this owner: the rest is computed on click
    return futures
