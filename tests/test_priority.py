"""Model threads run at a lower OS priority than the threads that serve pages (lib/priority.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lib.priority import DEFAULT_NICE, worker_nice

ROOT = Path(__file__).resolve().parents[1]

# A fresh interpreter: niceness only ever goes up, so the test must not change pytest's threads.
_SCRIPT = textwrap.dedent("""
    import json, os, threading
    import lib  # sets the JAX backend
    import jax.numpy as jnp
    from lib.priority import compute_thread_ids
    from lib.worker import ModelService

    def job(model):
        x = jnp.ones((256, 256))
        (x @ x).block_until_ready()  # starts XLA's compute threads if they are not running yet
        return threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0)

    svc = ModelService("fake", lambda spec, progress=None: "M")
    svc.start()
    svc.wait_loaded(30)
    svc.submit(job).result(60)
    worker_tid, worker_nice = svc.submit(job).result(60)
    xla = [os.getpriority(os.PRIO_PROCESS, t) for t in compute_thread_ids()]
    print(json.dumps({"worker": worker_nice, "worker_tid": worker_tid, "xla": xla,
                      "main": os.getpriority(os.PRIO_PROCESS, threading.get_native_id())}))
""")


def _run(env_nice: str | None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STUDIO_WORKER_NICE", None)
    if env_nice is not None:
        env["STUDIO_WORKER_NICE"] = env_nice
    result = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread priority is Linux")
def test_model_threads_yield_to_page_threads():
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base >= DEFAULT_NICE:
        pytest.skip(f"this test process already runs at nice {base}")
    out = _run(None)
    assert out["worker"] == DEFAULT_NICE
    assert out["xla"] and all(n == DEFAULT_NICE for n in out["xla"]), out
    assert out["main"] == base  # the threads that serve pages keep their priority


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread priority is Linux")
def test_nice_zero_turns_it_off():
    base = os.getpriority(os.PRIO_PROCESS, 0)
    out = _run("0")
    assert out["worker"] == base and all(n == base for n in out["xla"])


@pytest.mark.parametrize(("raw", "expected"), [("5", 5), (" 19 ", 19), ("40", 19), ("-3", 0),
                                               ("high", DEFAULT_NICE)])
def test_worker_nice_setting(monkeypatch, raw, expected):
    monkeypatch.setenv("STUDIO_WORKER_NICE", raw)
    assert worker_nice() == expected
