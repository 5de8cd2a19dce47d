"""The model worker's queue of jobs: priorities, one lane per owner, round robin within each.

Clicks and generation (priority 0) always go before prefetching (priority 1); within a
priority, owners are served in turn (one job of each owner with work queued, then the next
round), so one owner's burst cannot starve the others. Between the pieces of a long job, other
owners' salience clicks run at once, and their short generations too when they have used the
model less lately than the running job's owner (`ModelTime`): a reviewer's Generate does not
wait behind a flood of someone else's. Only data structures here: no threads
and no lock of its own. `lib.worker.ModelService` owns one queue and calls it under its lock;
kept apart so the serving order can be read (and reasoned about) without the threading.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from lib.cancel import CancelToken

PRIORITY_USER = 0
PRIORITY_PREFETCH = 1
# A generation this small takes seconds, not minutes: a light job (see `light_generation`).
LIGHT_PROMPT_CHARS = 8_000
LIGHT_NEW_TOKENS = 256

Job = Callable[[Any], Any]


def light_generation(prompt: str, max_new_tokens: int) -> bool:
    """Whether generating `max_new_tokens` from `prompt` is light: it may run between the
    pieces of another owner's job (`lib.worker.ModelService.submit(light=True)`)."""
    return len(prompt) <= LIGHT_PROMPT_CHARS and max_new_tokens <= LIGHT_NEW_TOKENS


@dataclass(eq=False)
class QueuedJob:
    """One job: `fn(model)`, the future its result goes to, and who asked for it."""

    priority: int
    order: int
    fn: Job
    future: Future
    owner: str | None = None
    replaces: str | None = None
    short: bool = False
    light: bool = False
    token: CancelToken = field(default_factory=CancelToken)


class JobQueue:
    """Queued (not yet running) jobs by priority, then owner. Callers hold the service's lock."""

    def __init__(self) -> None:
        # priority -> owner -> that owner's queued jobs in order. The owners' dict order is the
        # rotation: the owner served last moves to the end.
        self._lanes: dict[int, dict[str | None, deque[QueuedJob]]] = {}
        self._order = itertools.count()

    def add(self, priority: int, fn: Job, future: Future, owner: str | None,
            replaces: str | None, short: bool, light: bool = False) -> QueuedJob:
        """Queue a new job at the end of its owner's lane."""
        job = QueuedJob(priority, next(self._order), fn, future, owner, replaces, short, light)
        self._lanes.setdefault(priority, {}).setdefault(owner, deque()).append(job)
        return job

    def jobs(self) -> list[QueuedJob]:
        """Every queued job (in no particular order)."""
        return [job for by_owner in self._lanes.values() for jobs in by_owner.values()
                for job in jobs]

    def waiting(self, priority: int, owner: str | None) -> int:
        """How many jobs this owner has queued at this priority."""
        return len(self._lanes.get(priority, {}).get(owner, ()))

    def service_order(self) -> list[QueuedJob]:
        """Queued jobs in the order the worker will run them (priority, then round robin)."""
        out: list[QueuedJob] = []
        for priority in sorted(self._lanes):
            lanes = [list(jobs) for jobs in self._lanes[priority].values()]
            for depth in range(max((len(lane) for lane in lanes), default=0)):
                out.extend(lane[depth] for lane in lanes if depth < len(lane))
        return out

    def remove(self, job: QueuedJob) -> None:
        """Take `job` out of the queue, wherever it is in its lane (no-op if not queued)."""
        by_owner = self._lanes.get(job.priority, {})
        lane = by_owner.get(job.owner)
        if lane is not None and job in lane:
            lane.remove(job)
            if not lane:
                del by_owner[job.owner]

    def _take(self, job: QueuedJob) -> QueuedJob:
        """Remove `job` (first of its owner's lane) and move its owner to the end of the turn."""
        by_owner = self._lanes[job.priority]
        lane = by_owner.pop(job.owner)
        lane.popleft()
        if lane:
            by_owner[job.owner] = lane
        return job

    def next_job(self, skip: Collection[str | None] = ()) -> QueuedJob | None:
        """The job to run next (taken out of the queue), or None when it is empty; owners in
        `skip` (resting, see `DutyCycle`) keep their turn for later."""
        for priority in sorted(self._lanes):
            for lane in self._lanes[priority].values():
                if lane[0].owner not in skip:
                    return self._take(lane[0])
        return None

    def owners(self) -> set[str | None]:
        """The owners with queued jobs."""
        return {owner for by_owner in self._lanes.values() for owner in by_owner}

    def next_inline_job(self, busy_owners: Collection[str | None],
                        light_allowed: Callable[[str | None], bool] = lambda owner: False
                        ) -> QueuedJob | None:
        """The next user job of an owner not in `busy_owners` that may run between the pieces
        of a long job (taken out), or None: a short job (a salience click) always may; a light
        one (a short generation) when `light_allowed(owner)` (its owner has used the model
        less than the running job's owner)."""
        for owner, lane in self._lanes.get(PRIORITY_USER, {}).items():
            first = lane[0]
            if owner not in busy_owners and (
                    first.short or (first.light and light_allowed(owner))):
                return self._take(first)
        return None


# How fast an owner's model time is forgotten: after this many seconds it counts half.
MODEL_TIME_HALF_LIFE_S = 60.0


class ModelTime:
    """Each owner's recent model time in seconds, decayed exponentially (half-life
    `MODEL_TIME_HALF_LIFE_S`): who has been using the worker lately. Times are passed in
    (`time.monotonic()` in the worker), so the arithmetic is plain to test."""

    def __init__(self, half_life_s: float = MODEL_TIME_HALF_LIFE_S) -> None:
        if half_life_s <= 0:
            raise ValueError(f"half_life_s must be positive; got {half_life_s!r}")
        self._half_life = half_life_s
        self._used: dict[str | None, tuple[float, float]] = {}  # owner -> (seconds, as of)

    def charge(self, owner: str | None, seconds: float, now: float) -> None:
        """Add `seconds` of model time to `owner` at time `now`."""
        self._used[owner] = (self.used(owner, now) + max(0.0, seconds), now)

    def used(self, owner: str | None, now: float) -> float:
        """`owner`'s decayed model time at `now` (0 for an owner never charged)."""
        seconds, since = self._used.get(owner, (0.0, now))
        return seconds * 0.5 ** (max(0.0, now - since) / self._half_life)

    def forget(self, owner: str | None) -> None:
        self._used.pop(owner, None)


# While others use the worker, one owner keeps it busy at most this share of the time.
BUSY_SHARE = 0.5
SHARED_WINDOW_S = 30.0  # "others use it": they asked for or ran model work this recently


class DutyCycle:
    """While several owners use the worker, none keeps it busy more than `share` of the time:
    after a job that computed for d seconds, its owner rests d * (1 - share) / share before
    their next job starts, unless no other owner asked for or ran model work within `window_s`.
    Round robin alone lets a flood of one owner's jobs keep the worker busy back to back, and
    a busy worker slows everyone's page reruns (cores, and Python's GIL); the rest leaves them
    room. Times are passed in, as in `ModelTime`."""

    def __init__(self, share: float = BUSY_SHARE, window_s: float = SHARED_WINDOW_S) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1]; got {share!r}")
        if window_s < 0:
            raise ValueError(f"window_s must not be negative; got {window_s!r}")
        self._share, self._window = share, window_s
        self._rest_until: dict[str | None, float] = {}
        self._seen: dict[str | None, float] = {}

    def touch(self, owner: str | None, now: float) -> None:
        """`owner` asked for model work at `now`."""
        self._seen[owner] = now

    def finished(self, owner: str | None, computed_s: float, now: float) -> None:
        """`owner`'s job computed for `computed_s` seconds and ended at `now`."""
        self._seen[owner] = now
        self._rest_until[owner] = now + max(0.0, computed_s) * (1 - self._share) / self._share

    def resting(self, now: float) -> dict[str | None, float]:
        """Owners whose rest is not over while someone else uses the worker: owner -> until."""
        recent = [o for o, t in self._seen.items() if t >= now - self._window]
        return {o: t for o, t in self._rest_until.items()
                if t > now and any(other != o for other in recent)}

    def pick(self, queue: JobQueue, now: float) -> tuple[QueuedJob | None, float]:
        """The next job of an owner who is not resting (taken out), else (None, seconds until
        the first queued owner's rest ends)."""
        resting = self.resting(now)
        job = queue.next_job(skip=resting)
        if job is not None:
            return job, 0.0
        ends = [resting[o] for o in queue.owners() if o in resting]
        return None, (min(ends) - now) if ends else 0.0

    def forget(self, owner: str | None) -> None:
        self._rest_until.pop(owner, None)
        self._seen.pop(owner, None)
