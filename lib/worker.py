"""One model per server, shared by every browser session, and one queue of model work.

The model loads once in a background thread (pages render meanwhile); every model job runs on
one worker thread, never on a session's script thread. The serving order is `lib.jobs`': clicks
and generation before prefetching, owners in turn, a few queued jobs per owner, no owner busy
more than half the time while others use it (`DutyCycle`). A newer job that `replaces` an older
one of the same owner cancels it; `forget_owner` drops a departed owner's jobs.

Each job runs inside `lib.cancel.running(JobContext(token, between_pieces=...))`: long work
calls `lib.cancel.checkpoint()` between pieces, which stops a cancelled job (`Cancelled`) and
runs other owners' clicks inline, and their short generations when they used the model less
lately than the running job's owner (`lib.jobs.ModelTime`). Model threads run at a lower OS
priority (lib/priority.py). No Streamlit here: `lib/ui/model_service.py` caches one service;
scores are cached by the engine (`lib.pipeline`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from lib import cancel as cancel_mod
from lib.cancel import JobContext
from lib.errors import Cancelled, LimitError, ModelLoadError, StudioError
from lib.jobs import (
    PRIORITY_PREFETCH,
    PRIORITY_USER,
    DutyCycle,
    Job,
    JobQueue,
    ModelTime,
    QueuedJob,
)
from lib.priority import lower_compute_priority
from lib.salience_requests import Lookup, cached_lookup, prefetch_salience, request_salience

# The public names, the queue's and the salience requests' included: callers import them here.
__all__ = ["MAX_INLINE_PER_CHECKPOINT", "MAX_QUEUED_PREFETCH_JOBS", "MAX_QUEUED_USER_JOBS",
           "PRIORITY_PREFETCH", "PRIORITY_USER", "Job", "JobQueue", "Loader", "Lookup",
           "ModelService", "QueuedJob", "cached_lookup", "prefetch_salience", "request_salience"]

log = logging.getLogger(__name__)
# STUDIO_LOG_JOBS=1: one server-log line per model job (owner, kind, wait, run time, outcome),
# for operators who need to see who holds the worker.
_LOG_JOBS = os.environ.get("STUDIO_LOG_JOBS") == "1"

# Queued (not yet running) jobs one owner may have: the Compare page queues up to 3 at once.
MAX_QUEUED_USER_JOBS = 4
MAX_QUEUED_PREFETCH_JOBS = 64
# Short jobs of other owners run inline at one checkpoint of a long job, at most this many.
MAX_INLINE_PER_CHECKPOINT = 2

Loader = Callable[..., Any]


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
        self._queue = JobQueue()  # priorities, then owners in turn (lib/jobs.py)
        self._running: list[QueuedJob] = []  # outermost first; inline jobs after it
        self._model_time = ModelTime()  # who used the worker lately (lib/jobs.py)
        self._duty = DutyCycle()  # no owner keeps it busy more than half the time (lib/jobs.py)
        self._computed = 0.0  # the outermost running job's own compute time so far
        self._resumed = 0.0  # when the outermost running job last (re)started computing
        self._started = False
        self._stopping = False
        self._worker: threading.Thread | None = None
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
            if self._started or self._stopping:
                return
            self._started = True
            self._state = "loading"
            self._message = "Loading the model…"
            self._worker = threading.Thread(target=self._work, name="studio-model-worker",
                                            daemon=True)
        threading.Thread(target=self._load, name="studio-model-load", daemon=True).start()
        self._worker.start()

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

    # ---- the queue (all under self._lock) --------------------------------------------------
    def _drop(self, jobs: Sequence[QueuedJob]) -> list[QueuedJob]:
        """Take queued jobs out of the queue (under the lock); `_fail` their futures after."""
        for job in jobs:
            self._queue.remove(job)
            job.token.cancel()
        return list(jobs)

    @staticmethod
    def _fail_cancelled(jobs: Sequence[QueuedJob], message: str) -> None:
        """Outside the lock: done-callbacks of the futures may call back into the service."""
        for job in jobs:
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(Cancelled(message))

    # ---- jobs ----------------------------------------------------------------------------
    def submit(self, fn: Job, *, priority: int = PRIORITY_USER, owner: str | None = None,
               replaces: str | None = None, short: bool = False, light: bool = False) -> Future:
        """Queue `fn(model)`; returns a Future. Jobs wait for the model to finish loading.

        `replaces`: a key; this owner's queued or running job with the same key is cancelled
        (a newer click or generation makes the older one moot). `short`: the job is quick
        (e.g. one salience click) and may run between the pieces of another owner's long job.
        `light`: the job takes seconds (a short generation); it may run between the pieces of
        another owner's job when its owner has used the model less lately than that one.
        Raises LimitError when the owner already has the most queued jobs allowed.
        """
        self.start()
        fut: Future = Future()
        stale: list[QueuedJob] = []
        try:
            with self._cond:
                return self._enqueue(fut, fn, priority, owner, replaces, short, light, stale)
        finally:
            self._fail_cancelled(stale, "Cancelled: a newer request replaced this one.")

    def _enqueue(self, fut: Future, fn: Job, priority: int, owner: str | None,
                 replaces: str | None, short: bool, light: bool,
                 stale: list[QueuedJob]) -> Future:
        """Under the lock: refuse when stopping, replace stale jobs, apply the cap."""
        if self._stopping:
            fut.set_exception(StudioError(
                "The server is shutting down and takes no new model work; reload the page "
                "in a minute."))
            return fut
        if replaces is not None and owner is not None:
            stale.extend(self._drop([job for job in self._queue.jobs()
                                     if job.owner == owner and job.replaces == replaces]))
            for job in self._running:
                if job.owner == owner and job.replaces == replaces:
                    job.token.cancel()
        if owner is not None:
            cap = MAX_QUEUED_USER_JOBS if priority <= PRIORITY_USER else (
                MAX_QUEUED_PREFETCH_JOBS)
            waiting = self._queue.waiting(priority, owner)
            if waiting >= cap:
                kind = "model jobs" if priority <= PRIORITY_USER else "prefetch jobs"
                raise LimitError(
                    f"You already have {waiting} {kind} waiting for the model (the limit "
                    f"is {cap}). Wait for them to finish, or cancel them, then try again.",
                    field="queue",
                )
        self._queue.add(priority, fn, fut, owner, replaces, short, light)
        self._duty.touch(owner, time.monotonic())
        self._cond.notify_all()
        return fut

    def queue_position(self, future: Future) -> int | None:
        """How many jobs run before this one (0: running or next); None once done or unknown."""
        with self._lock:
            if any(job.future is future for job in self._running):
                return 0
            for i, job in enumerate(self._queue.service_order()):
                if job.future is future:
                    return i + (1 if self._running else 0)
        return None

    def pending_count(self) -> int:
        with self._lock:
            return len(self._queue.jobs()) + len(self._running)

    def cancel(self, future: Future) -> bool:
        """Cancel one job: dropped if queued, stopped at its next checkpoint if running.

        Its future gets `lib.errors.Cancelled`. False if the job is unknown or already done.
        """
        with self._cond:
            queued = [job for job in self._queue.jobs() if job.future is future]
            self._drop(queued)
            running = [job for job in self._running
                       if job.future is future and not job.future.done()]
            for job in running:
                job.token.cancel()
        self._fail_cancelled(queued, "Cancelled: the job was stopped before it started.")
        return bool(queued or running)

    def forget_owner(self, owner: str) -> int:
        """The owner is gone: drop all their queued jobs and stop their running one.

        Returns how many jobs were dropped or told to stop.
        """
        with self._cond:
            mine = self._drop([job for job in self._queue.jobs() if job.owner == owner])
            running = [job for job in self._running if job.owner == owner]
            if not running:
                self._model_time.forget(owner)
                self._duty.forget(owner)
            for job in running:
                job.token.cancel()
        self._fail_cancelled(mine, "Cancelled: the session that asked for this job has ended.")
        return len(mine) + len(running)

    def cancel_prefetch(self, owner: str) -> int:
        """Drop this owner's queued prefetch jobs (not the running one); returns how many."""
        with self._lock:
            dropped = [job for job in self._queue.jobs()
                       if job.owner == owner and job.priority >= PRIORITY_PREFETCH]
            for job in dropped:
                self._queue.remove(job)
        for job in dropped:
            job.future.cancel()
        return len(dropped)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Take no new jobs, drop the queued ones, stop the running one at its next checkpoint,
        and wait up to `timeout` seconds for the worker to finish. True if it did."""
        with self._cond:
            self._stopping = True
            dropped = self._drop(self._queue.jobs())
            for job in self._running:
                job.token.cancel()
            self._cond.notify_all()
            worker = self._worker
        self._fail_cancelled(dropped, "Cancelled: the server is shutting down.")
        if worker is None or worker is threading.current_thread():
            return True
        worker.join(timeout)
        return not worker.is_alive()

    # ---- the worker ------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (
                    not self._queue.jobs() or self._state in ("idle", "loading")
                ):
                    self._cond.wait()
                if self._stopping:
                    return
                job, rest = self._duty.pick(self._queue, time.monotonic())
                if job is None:  # only resting owners have work queued
                    self._cond.wait(rest)
                    continue
                self._running.append(job)
                model, state, error = self._model, self._state, self._error
                self._resumed, self._computed = time.monotonic(), 0.0
            try:
                self._run(job, model, state, error, inline=False)
            finally:
                with self._cond:
                    now = self._charge(job.owner, self._resumed)
                    self._duty.finished(job.owner, self._computed, now)
                    self._running.remove(job)
                    self._cond.notify_all()

    def _charge(self, owner: str | None, since: float) -> float:
        """Under the lock: charge `owner` the model time from `since` to now; returns now."""
        now = time.monotonic()
        self._model_time.charge(owner, now - since, now)
        if self._running and self._running[0].owner == owner:
            self._computed += now - since  # the outermost job's own share (not its inline ones)
        return now

    def _between_pieces(self) -> None:
        """A long job's checkpoint hook: run a few other owners' queued jobs that may go
        between pieces (clicks; short generations of owners who used the model less lately
        than this job's owner). Time spent on them is charged to them, not to this job."""
        with self._cond:
            outer = self._running[0].owner if self._running else None
            self._charge(outer, self._resumed)
        try:
            for _ in range(MAX_INLINE_PER_CHECKPOINT):
                with self._cond:
                    if self._stopping or self._state != "ready":
                        return
                    busy = {running.owner for running in self._running}
                    now = time.monotonic()
                    outer_used = self._model_time.used(outer, now)
                    job = self._queue.next_inline_job(
                        busy, lambda owner, now=now, limit=outer_used:
                        self._model_time.used(owner, now) < limit)
                    if job is None:
                        return
                    self._running.append(job)
                    model = self._model
                    started = time.monotonic()
                try:
                    self._run(job, model, "ready", None, inline=True)
                finally:
                    with self._cond:
                        self._charge(job.owner, started)
                        self._running.remove(job)
                        self._cond.notify_all()
        finally:
            with self._cond:
                self._resumed = time.monotonic()

    def _run(self, job: QueuedJob, model: Any, state: str, error: str | None, *,
             inline: bool) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        if state == "error":
            job.future.set_exception(ModelLoadError(error or "The model is not loaded."))
            return
        if job.token.cancelled:
            job.future.set_exception(Cancelled())
            return
        # Inline jobs get no hook of their own: no nesting deeper than one level.
        context = JobContext(job.token, between_pieces=None if inline else self._between_pieces)
        started, outcome = time.monotonic(), "done"
        try:
            lower_compute_priority()  # cheap; XLA may have started new threads
            with cancel_mod.running(context):
                result = job.fn(model)
        except BaseException as e:  # delivered to whoever waits on the future
            outcome = type(e).__name__
            if not isinstance(e, StudioError):
                log.error("model job failed:\n%s", traceback.format_exc())
            job.future.set_exception(e)
        else:
            job.future.set_result(result)
        finally:
            if _LOG_JOBS:
                kind = "short" if job.short else "light" if job.light else "long"
                log.warning("model job %s owner=%s priority=%d %s%s ran %.2f s: %s",
                            job.order, (job.owner or "-")[:14], job.priority, kind,
                            " inline" if inline else "", time.monotonic() - started, outcome)
