"""Model work yields the CPU to the people using the app.

Generation and salience keep every core busy (XLA's compute threads). On a small server that
would make work that needs no model (moving a slider, opening a saved run) wait behind it. The
model threads therefore run at a lower OS priority (a higher `nice`): they still take every
idle cycle, but a page rerun or a browser gets the CPU first. Linux only (threads are tasks
there); elsewhere this does nothing. `STUDIO_WORKER_NICE` sets the value (0 turns it off).
"""

from __future__ import annotations

import os
import threading

DEFAULT_NICE = 10
# Thread names of XLA's CPU compute pools (Eigen intra-op and the newer pools).
_XLA_THREAD_PREFIXES = ("tf_XLA", "XLA", "xla")


def worker_nice() -> int:
    """The nice value for model threads from `STUDIO_WORKER_NICE` (0..19; default 10)."""
    raw = os.environ.get("STUDIO_WORKER_NICE", str(DEFAULT_NICE)).strip()
    try:
        value = int(raw)
    except ValueError:
        value = DEFAULT_NICE
    return max(0, min(19, value))


def compute_thread_ids() -> list[int]:
    """Native ids of this process's XLA compute threads (empty where /proc is missing)."""
    ids = []
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return ids
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue  # the thread ended meanwhile
        if name.startswith(_XLA_THREAD_PREFIXES):
            ids.append(int(tid))
    return ids


def lower_compute_priority(nice: int | None = None) -> int:
    """Give the calling thread and XLA's compute threads the nice value `nice` (default
    `worker_nice()`); never raises it back (an unprivileged process cannot). Returns how many
    threads changed. Call it from the model thread before and after model work: XLA may start
    its pools lazily."""
    nice = worker_nice() if nice is None else nice
    if nice <= 0 or not hasattr(os, "setpriority") or not os.path.isdir("/proc/self/task"):
        return 0
    changed = 0
    for tid in {threading.get_native_id(), *compute_thread_ids()}:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
                changed += 1
        except OSError:
            continue  # gone, or not ours to change
    return changed
