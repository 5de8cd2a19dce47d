"""SIGTERM: running saves finish, the model worker stops at a checkpoint, exit status 0."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lib import shutdown

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import os, signal, sqlite3, sys, threading, time
from lib import shutdown
from lib.cancel import checkpoint
from lib.runs import RunStore
from lib.worker import ModelService

store = RunStore(sys.argv[1])
svc = ModelService("fake", lambda spec, progress=None: "M")
svc.wait_loaded(10)
shutdown.register_closer("model", svc.shutdown)
assert shutdown.install_sigterm_handler()

started = threading.Event()
def long_job(model):
    started.set()
    for _ in range(100_000):  # far longer than the test: only a cancel ends it
        time.sleep(0.01)
        checkpoint()
svc.submit(long_job, owner="a")
assert started.wait(10)

# Another connection holds the write lock for a moment, so the save below is still running
# (inside save_guard, waiting for the lock) when the signal arrives.
locker = sqlite3.connect(sys.argv[1], isolation_level=None, check_same_thread=False)
locker.execute("BEGIN IMMEDIATE")
def release():
    time.sleep(1.0)
    locker.execute("COMMIT")
threading.Thread(target=release).start()
threading.Thread(target=lambda: store.save({"acknowledged": True}, owner="a", title="t")).start()
for _ in range(1000):
    if shutdown.saves_running():
        break
    time.sleep(0.005)
assert shutdown.saves_running() == 1
print("ready", flush=True)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(60)  # the handler exits the process long before this
print("handler did not exit", flush=True)
sys.exit(3)
"""


def test_sigterm_lets_the_running_save_finish_and_exits_0(tmp_path):
    db = tmp_path / "runs.sqlite3"
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(db)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ready" in proc.stdout and "handler did not exit" not in proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    from lib.runs import RunStore

    store = RunStore(db)
    runs = store.list_for_owner("a")
    assert len(runs) == 1 and store.get(runs[0].id).record == {"acknowledged": True}


def test_saves_are_refused_once_shutdown_began(monkeypatch, tmp_path):
    from lib.errors import StudioError
    from lib.runs import RunStore

    store = RunStore(tmp_path / "runs.sqlite3")
    monkeypatch.setattr(shutdown, "_stopping", False)
    monkeypatch.setattr(shutdown, "_closers", [])
    closed: list[float] = []
    shutdown.register_closer("x", lambda timeout: closed.append(timeout))
    shutdown.register_closer("x", lambda timeout: pytest.fail("registered twice"))
    assert shutdown.shutdown(wait_s=5) is True and len(closed) == 1
    with pytest.raises(StudioError, match="shutting down, so nothing was saved"):
        store.save({"late": 1}, owner="a", title="t")
    assert store.usage() == (0, 0)


def test_a_closer_that_times_out_or_fails_does_not_block_the_others(monkeypatch):
    monkeypatch.setattr(shutdown, "_stopping", False)
    monkeypatch.setattr(shutdown, "_closers", [])
    seen: list[str] = []

    def boom(timeout: float) -> None:
        raise RuntimeError("broken closer")

    shutdown.register_closer("slow", lambda t: seen.append("slow") or False)
    shutdown.register_closer("boom", boom)
    shutdown.register_closer("last", lambda t: seen.append("last"))
    assert shutdown.shutdown(wait_s=1) is False
    assert seen == ["slow", "last"]


def test_install_refuses_other_threads():
    import threading

    errors: list[BaseException] = []

    def run() -> None:
        try:
            shutdown.install_sigterm_handler()
        except RuntimeError as e:
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    assert errors and "main thread" in str(errors[0])
    assert signal.getsignal(signal.SIGTERM) is not shutdown.handle_signal
