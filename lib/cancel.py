"""Cooperative cancellation for long model work, shared by the worker and the engine.

One compiled call cannot be interrupted, so long work (a long document's salience, a batch of
segments) runs as a host loop of smaller compiled pieces and calls `checkpoint()` between them.
The worker runs each job inside `running(job_context)`; `checkpoint()` then

1. raises `lib.errors.Cancelled` if the job's token was cancelled (its owner pressed Cancel,
   started a newer job, or left), and
2. calls the context's `between_pieces` hook, through which the worker may run other owners'
   short jobs before this one continues, so one long document never holds everyone's clicks.

Outside a worker job (CLI, tests) `checkpoint()` does nothing, so engine code calls it freely.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from lib.errors import Cancelled


class CancelToken:
    """A flag one side sets and the running job reads between pieces (thread-safe)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class JobContext:
    """What a running job can see of its worker: its token and the between-pieces hook."""

    token: CancelToken = field(default_factory=CancelToken)
    between_pieces: Callable[[], None] | None = None


_local = threading.local()


def current() -> JobContext | None:
    """The context of the job running on this thread, or None outside worker jobs."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


@contextmanager
def running(context: JobContext) -> Iterator[JobContext]:
    """Run the body as the job `context` belongs to (nests: a job run from a hook is inner)."""
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(context)
    try:
        yield context
    finally:
        stack.pop()


def checkpoint() -> None:
    """Between two pieces of long work: stop if cancelled, else let the worker serve others."""
    context = current()
    if context is None:
        return
    if context.token.cancelled:
        raise Cancelled()
    if context.between_pieces is not None:
        context.between_pieces()
        if context.token.cancelled:
            raise Cancelled()
