"""A clean stop on SIGTERM: no new model work, running saves finish, exit status 0.

A plain interpreter exit after `kill -TERM` let XLA's C++ threads die during finalisation
(`terminate called ...`, SIGABRT). Instead, the handler installed here

1. refuses new saves (`RunStore.save` asks `saves_open()` inside `save_guard()`),
2. shuts down every registered closer (the ModelService: no new jobs, queued ones cancelled,
   the running one stopped at its next `lib.cancel.checkpoint()`), each with a bounded wait,
3. waits (bounded) for saves already running to commit, so an acknowledged run is on disk,
4. flushes logs and standard streams and leaves with `os._exit(0)`, skipping the interpreter
   finalisation in which the native threads crashed.

`install_sigterm_handler()` must run on the main thread (Python's rule for signal handlers);
lib/ui/app_shell.py gets it there through Streamlit's event loop. No Streamlit here.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lib.errors import StudioError

log = logging.getLogger("salience_studio.shutdown")

DEFAULT_WAIT_S = 20.0
WAIT_ENV = "STUDIO_SHUTDOWN_WAIT_S"

_lock = threading.Condition()
_closers: list[tuple[str, Callable[[float], object]]] = []
_saves_running = 0
_stopping = False
_installed = False


def register_closer(name: str, close: Callable[[float], object]) -> None:
    """Call `close(timeout_s)` on shutdown (e.g. `ModelService.shutdown`); kept once by name."""
    with _lock:
        if all(existing != name for existing, _ in _closers):
            _closers.append((name, close))


def stopping() -> bool:
    with _lock:
        return _stopping


@contextmanager
def save_guard() -> Iterator[None]:
    """Around one save: refused once shutdown began; shutdown waits for it to finish."""
    global _saves_running
    with _lock:
        if _stopping:
            raise StudioError("The server is shutting down, so nothing was saved. Reload the "
                              "page in a minute and press Share again.")
        _saves_running += 1
    try:
        yield
    finally:
        with _lock:
            _saves_running -= 1
            _lock.notify_all()


def _wait_budget() -> float:
    raw = os.environ.get(WAIT_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_WAIT_S
    except ValueError:
        value = DEFAULT_WAIT_S
    return value if value > 0 else DEFAULT_WAIT_S


def shutdown(wait_s: float | None = None) -> bool:
    """Stop taking work, close what registered, wait for running saves. True if all finished
    within the budget (the caller exits either way)."""
    global _stopping
    budget = _wait_budget() if wait_s is None else wait_s
    deadline = time.monotonic() + budget
    with _lock:
        _stopping = True
        closers = list(_closers)
    clean = True
    for name, close in closers:
        left = max(deadline - time.monotonic(), 0.0)
        try:
            if close(left) is False:
                clean = False
                log.warning("shutdown: %s did not finish within %.1f s", name, left)
        except Exception:  # one failing closer must not keep the others (or the exit) back
            clean = False
            log.exception("shutdown: closing %s failed", name)
    with _lock:
        while _saves_running and time.monotonic() < deadline:
            _lock.wait(max(deadline - time.monotonic(), 0.0))
        if _saves_running:
            clean = False
            log.warning("shutdown: %d save(s) still running after %.1f s", _saves_running,
                        budget)
    return clean


def _flush() -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed stream must not stop the exit
            pass


def saves_running() -> int:
    """How many saves are in flight now (the handler waits for them)."""
    return _saves_running


def handle_signal(signum: int, frame: Any) -> None:  # noqa: ARG001 - signal handler signature
    if stopping():
        return  # a second signal while we wait: the first one is already exiting
    log.warning("received signal %d: stopping (no new model jobs; running saves finish)", signum)
    clean = shutdown()
    log.warning("stopped %s; exiting", "cleanly" if clean else "after the wait ran out")
    _flush()
    os._exit(0)


def install_sigterm_handler() -> bool:
    """Install the handler for SIGTERM (and SIGINT). Main thread only; True if installed now."""
    global _installed
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("install_sigterm_handler() must run on the main thread")
    with _lock:
        if _installed:
            return False
        _installed = True
    signal.signal(signal.SIGTERM, handle_signal)
    signal.signal(signal.SIGINT, handle_signal)
    return True
