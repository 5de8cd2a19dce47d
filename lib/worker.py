"""One model per server, shared by every browser session, and one queue of model work.

The app never calls the model from a session's script thread directly: the model is loaded once
in a background thread (so pages render while it loads), and every model job runs on one worker
thread taken from a priority queue. Clicks and generation (priority 0) always go before
prefetching (priority 1); within a priority, jobs run first-come first-served, which keeps the
queue fair across sessions. Model threads run at a lower OS priority (lib/priority.py), so pages
that need no model stay responsive while the cores compute. No Streamlit here: `lib/ui/model_service.py` caches one service.
Scores are cached by the engine (`lib.pipeline`, every method at once), not here.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from lib.errors import ModelLoadError, StudioError
from lib.priority import lower_compute_priority

log = logging.getLogger(__name__)

PRIORITY_USER = 0
PRIORITY_PREFETCH = 1

Loader = Callable[..., Any]
Job = Callable[[Any], Any]


@dataclass(order=True)
class _QueuedJob:
    priority: int
    order: int
    fn: Job = field(compare=False)
    future: Future = field(compare=False)
    owner: str | None = field(compare=False, default=None)


class ModelService:
    """Loads one model in the background and runs model jobs on one worker thread.

    `loader(spec, progress=callback)` returns the model (`pipeline.get_model` in the app; a fake
    in tests). Loading starts with `start()`; any number of sessions may read `status()`.
    """

    def __init__(self, spec: str | None, loader: Loader) -> None:
        self.spec = spec
        self._loader = loader
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: list[_QueuedJob] = []
        self._order = itertools.count()
        self._running: _QueuedJob | None = None
        self._started = False
        self._model: Any = None
        self._state = "idle"  # idle -> loading -> ready | error
        self._progress = 0.0
        self._message = "Not started."
        self._error: str | None = None
        self._loaded = threading.Event()

    # ---- model loading -------------------------------------------------------------------
    def start(self) -> None:
        """Start loading the model and the worker thread (idempotent)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._state = "loading"
            self._message = "Loading the model…"
        threading.Thread(target=self._load, name="studio-model-load", daemon=True).start()
        threading.Thread(target=self._work, name="studio-model-worker", daemon=True).start()

    def _on_progress(self, fraction: float, message: str) -> None:
        with self._lock:
            self._progress = max(0.0, min(1.0, float(fraction)))
            self._message = str(message)

    def _load(self) -> None:
        lower_compute_priority()  # loading converts and compiles: background work too
        try:
            model = self._loader(self.spec, progress=self._on_progress)
        except StudioError as e:
            self._fail(str(e))
        except Exception as e:  # the loader's own bug: keep the server alive, log the details
            log.error("model load failed:\n%s", traceback.format_exc())
            self._fail(f"The model could not be loaded ({type(e).__name__}). "
                       "Ask the server's administrator to check the server log.")
        else:
            with self._cond:
                self._model = model
                self._state = "ready"
                self._progress = 1.0
                self._message = "Model ready."
                self._cond.notify_all()
        finally:
            self._loaded.set()

    def _fail(self, message: str) -> None:
        with self._cond:
            self._state = "error"
            self._error = message
            self._message = message
            self._cond.notify_all()

    def status(self) -> dict[str, Any]:
        """A snapshot any session may show: state, progress 0..1, message, error, model."""
        with self._lock:
            return {
                "state": self._state,
                "progress": self._progress,
                "message": self._message,
                "error": self._error,
                "model": self._model,
            }

    @property
    def model(self) -> Any:
        """The loaded model, or None while loading / after a failure."""
        with self._lock:
            return self._model

    def wait_loaded(self, timeout: float | None = None) -> Any:
        """Block until loading ends; return the model or raise ModelLoadError."""
        self.start()
        self._loaded.wait(timeout)
        with self._lock:
            if self._state == "ready":
                return self._model
            if self._state == "error":
                raise ModelLoadError(self._error or "The model could not be loaded.")
        raise ModelLoadError("The model is still loading; try again in a moment.")

    # ---- jobs ----------------------------------------------------------------------------
    def submit(self, fn: Job, *, priority: int = PRIORITY_USER, owner: str | None = None) -> Future:
        """Queue `fn(model)`; returns a Future. Jobs wait for the model to finish loading."""
        self.start()
        fut: Future = Future()
        with self._cond:
            heapq.heappush(self._queue, _QueuedJob(priority, next(self._order), fn, fut, owner))
            self._cond.notify_all()
        return fut

    def queue_position(self, future: Future) -> int | None:
        """How many jobs run before this one (0: running or next); None once done or unknown."""
        with self._lock:
            if self._running is not None and self._running.future is future:
                return 0
            pending = sorted(self._queue)
            for i, job in enumerate(pending):
                if job.future is future:
                    return i + (1 if self._running is not None else 0)
        return None

    def pending_count(self) -> int:
        with self._lock:
            return len(self._queue) + (1 if self._running is not None else 0)

    def cancel_prefetch(self, owner: str) -> int:
        """Drop this owner's queued prefetch jobs (not the running one); returns how many."""
        with self._lock:
            keep, dropped = [], []
            for job in self._queue:
                (dropped if job.owner == owner and job.priority >= PRIORITY_PREFETCH
                 else keep).append(job)
            heapq.heapify(keep)
            self._queue = keep
        for job in dropped:
            job.future.cancel()
        return len(dropped)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue or self._state in ("idle", "loading"):
                    self._cond.wait()
                job = heapq.heappop(self._queue)
                self._running = job
                model, state, error = self._model, self._state, self._error
            try:
                if not job.future.set_running_or_notify_cancel():
                    continue
                if state == "error":
                    job.future.set_exception(ModelLoadError(error or "The model is not loaded."))
                    continue
                try:
                    lower_compute_priority()  # cheap; XLA may have started new threads
                    job.future.set_result(job.fn(model))
                except BaseException as e:  # delivered to whoever waits on the future
                    if not isinstance(e, StudioError):
                        log.error("model job failed:\n%s", traceback.format_exc())
                    job.future.set_exception(e)
            finally:
                with self._lock:
                    self._running = None


Lookup = Callable[[Any, Any, Sequence[int], str], Any]


def cached_lookup(model: Any, seq: Any, targets: Sequence[int], method: str) -> Any | None:
    """The engine's cached scores (a `Salience`) or None; never computes."""
    from lib import pipeline  # imported late: pages must render while JAX loads

    return pipeline.cached_salience(model, seq, targets, method)


def request_salience(service: ModelService, seq: Any, targets: Sequence[int], method: str,
                     compute: Callable[..., Any], *, owner: str | None = None,
                     lookup: Lookup = cached_lookup) -> Future:
    """A user's salience request at priority 0; done at once when the engine has the scores.

    `compute(model, seq, targets, method)` returns the scores (a `Salience`) and is expected to
    fill the cache `lookup(model, seq, targets, method)` reads (the engine's does).
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

    return service.submit(job, priority=PRIORITY_USER, owner=owner)


def prefetch_salience(service: ModelService, seq: Any, targets: Sequence[Sequence[int]],
                      method: str, compute_batch: Callable[..., list], *, owner: str,
                      batch_size: int = 4, lookup: Lookup = cached_lookup) -> list[Future]:
    """Queue prefetch jobs (priority 1) for every target not cached yet, a few per job.

    Small batches let a click overtake prefetching between batches; each job re-checks the
    cache when it runs, so nothing is computed twice.
    """
    service.cancel_prefetch(owner)
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

        futures.append(service.submit(job, priority=PRIORITY_PREFETCH, owner=owner))
    return futures
