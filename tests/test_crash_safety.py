"""Saved runs survive a crash: SIGKILL mid-save never loses an acknowledged run or half-writes one.

Two levels:
- the store alone: a child process saves in a tight loop and prints each id once `save` returned
  (its acknowledgement); it is SIGKILLed at random moments, so most kills land inside a
  transaction. Quick, no browser.
- the real server (`browser`): `streamlit run app.py` on `tiny`; Playwright presses **Share** in
  two tabs over and over; a run counts as acknowledged once its `?run=` id is shown on the page.
  The server's whole process group is SIGKILLed while shares are in flight, restarted on the same
  data folder, and the loop goes on. At the end every acknowledged run must open intact, through
  `RunStore.get` and through the restarted server.
- a plain `kill -TERM` of the real server during a generation or a save: exit status 0, no
  traceback or native abort in its log, acknowledged runs open after a restart.

Randomness is seeded (reproducible kill times); waits are hang guards, never timing assertions.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lib.runs import RunStore

REPO = Path(__file__).resolve().parents[1]


def _check_intact(db: Path, acked: dict[str, dict | None]) -> None:
    """Every acknowledged id opens with its exact record; the file and every row are whole."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for run_id, size, text in conn.execute("SELECT id, size, record FROM runs"):
            # No row is half-written, acknowledged or not.
            assert isinstance(json.loads(text), dict), run_id
            assert size in (len(text.encode("utf-8", "surrogatepass")), len(text)), run_id
    finally:
        conn.close()
    store = RunStore(db)
    for run_id, expected in acked.items():
        run = store.get(run_id)
        assert run is not None, f"acknowledged run {run_id} was lost"
        if expected is not None:
            assert run.record == expected, f"acknowledged run {run_id} changed"


# ---- the store under SIGKILL ------------------------------------------------------------------
_SAVER = r"""
import sys
from lib.runs import RunStore

# Limits far above what the loop reaches: this test is about torn writes, not quotas.
store = RunStore(sys.argv[1], saves_per_minute=10**9, max_owner_runs=10**9,
                 max_owner_bytes=10**15)
n = 0
while True:
    record = {"n": n, "pad": "x\u202e\x00é" * 5000, "scores": [i / 7 for i in range(2000)]}
    run_id = store.save(record, owner="crash", title=f"run {n}")
    print(f"{run_id} {n}", flush=True)  # acknowledged only after save() returned
    n += 1
"""


def _record_for(n: int) -> dict:
    return {"n": n, "pad": "x\u202e\x00é" * 5000, "scores": [i / 7 for i in range(2000)]}


def test_store_survives_sigkill_mid_save(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite3"
    rng = random.Random(20250101)
    acked: dict[str, dict | None] = {}
    for _ in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(db)], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda c=child, out=lines: out.extend(c.stdout),
                                  daemon=True)
        reader.start()
        # Let it start saving, then kill it at a random moment of its save loop.
        deadline = time.monotonic() + 60
        while not lines and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        assert lines, "the saver never acknowledged a save"
        time.sleep(rng.uniform(0.05, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        reader.join(timeout=30)
        for line in lines:
            if line.endswith("\n"):  # a torn last line was never a full acknowledgement
                run_id, n = line.split()
                acked[run_id] = _record_for(int(n))
    assert len(acked) >= 6
    _check_intact(db, acked)


# ---- the real server under SIGKILL ------------------------------------------------------------
_RUN_ID = re.compile(r"run=([A-Za-z0-9_-]{22,64})")
_LINKS_JS = """() => [
  ...Array.from(document.querySelectorAll('input, textarea')).map(e => e.value),
  ...Array.from(document.querySelectorAll('a[href]')).map(e => e.href),
].join('\\n')"""


def _shown_run_ids(page) -> set[str]:  # noqa: ANN001
    """Every run id the page shows (link box, text, links, its own URL).

    Ids are random, so one the page shows can only come from a save that returned: that is the
    Share acknowledgement, whatever widget the page uses to show the link.
    """
    try:
        shown = "\n".join([page.url, page.locator("[data-testid='stApp']").inner_text(),
                            page.evaluate(_LINKS_JS)])
    except Exception:  # noqa: BLE001 - the server was just killed: the page is going away
        return set()
    return set(_RUN_ID.findall(shown))


def _text_or_empty(page) -> str:  # noqa: ANN001
    """The app's text, or "" while a slow server has not drawn it yet."""
    try:
        return page.locator("[data-testid='stApp']").inner_text(timeout=5_000)
    except Exception:  # noqa: BLE001 - still loading: poll again
        return ""


def _seed_run(data_dir: Path) -> str:
    """A real Debug record (from the schema fixture) to open, so sharing needs no generation."""
    rows = json.loads((REPO / "tests/fixtures/runs-schema-v1.expected.json").read_text())
    debug = next(r for r in rows if r["kind"] == "debug" and "sequence" in r["record"])
    return RunStore(data_dir / "runs.sqlite3").save(
        debug["record"], owner="anon:crashseed", title="seed", kind="debug"
    )


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: the server leads its group
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.mark.browser
def test_real_server_sigkill_during_shares(tmp_path: Path, browser) -> None:  # noqa: ANN001
    from playwright.sync_api import Error as PlaywrightError

    from tests.browser import pageops as ops
    from tests.browser.harness import (
        ARTIFACTS,
        AppServer,
        block_outside_hosts,
    )

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    seed = _seed_run(data_dir)
    env = {"STUDIO_MODEL": "tiny", "STUDIO_ALLOWED_MODELS": "tiny"}
    rng = random.Random(4242)
    acked: set[str] = set()
    blocked: list[str] = []
    iterations, tabs = 3, 2  # 3 kills, then a last start that must serve every run

    servers: list[AppServer] = []

    def share_buttons(pages):  # noqa: ANN001, ANN202
        return [p.get_by_role("button", name="Share", exact=True).first for p in pages]

    try:
        for it in range(iterations + 1):
            server = AppServer(app="app.py", env=env, data_dir=data_dir).start()
            servers.append(server)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(30_000)
            block_outside_hosts(context, blocked)
            pages = [context.new_page() for _ in range(tabs)]
            for page in pages:  # the tabs load side by side
                page.goto(f"{server.url}/?run={seed}", wait_until="commit")
            for n, (page, button) in enumerate(zip(pages, share_buttons(pages), strict=True)):
                try:
                    button.wait_for(timeout=120_000)
                except PlaywrightError as e:
                    ARTIFACTS.mkdir(exist_ok=True)
                    page.screenshot(path=str(ARTIFACTS / f"FAILED-crash-start{it}-tab{n}.png"))
                    raise AssertionError(
                        f"start {it}, tab {n}: no Share button on the restored run; page: "
                        f"{ops.app_text(page)[:1500]!r}\nserver log:\n{server.log_tail()}"
                    ) from e
            if it == iterations:
                break  # the last start is checked below
            # Press Share in every tab and wait for each new id (a click during a rerun would
            # interrupt it); then press once more and kill with saves in flight.
            for _ in range(1):
                before = [_shown_run_ids(page) for page in pages]
                for button in share_buttons(pages):
                    button.click()
                for page, old in zip(pages, before, strict=True):
                    new_ids = ops.poll(lambda p=page, o=old: _shown_run_ids(p) - o - {seed},
                                       bool, "a new ?run= id after Share", timeout_s=90)
                    acked |= new_ids
                for page in pages:
                    ops.assert_no_traceback(page)
            for button in share_buttons(pages):
                # From JS, so nothing waits on the page; a tab still redrawing after its
                # last share may have no button at this instant: the kill comes anyway.
                try:
                    button.evaluate("b => b.click()", timeout=5_000)
                except PlaywrightError:
                    pass
            pages[0].wait_for_timeout(rng.uniform(0.0, 400.0))  # keeps Playwright running
            assert server.proc is not None
            _kill_group(server.proc)
            for page in pages:  # what the page showed before the kill was acknowledged
                acked |= _shown_run_ids(page) - {seed}
            try:
                context.close()
            except PlaywrightError:
                pass
        # The restarted server opens acknowledged runs (no model needed to show them).
        for page in pages:
            page.close()
        page = context.new_page()
        for run_id in sorted(acked)[:3]:
            page.goto(f"{servers[-1].url}/?run={run_id}", wait_until="commit",
                      timeout=120_000)
            ops.poll(lambda: _text_or_empty(page), lambda t, r=run_id: f"Saved run {r}" in t,
                     f"run {run_id} to open after the crashes", timeout_s=120)
            ops.assert_no_traceback(page)
        context.close()
    finally:
        for server in servers:
            server.stop()

    assert not blocked, f"the page tried to reach outside hosts: {blocked}"
    # Both tabs share one browser (one owner) and the same restored record, so since the store
    # gives an owner's identical record its existing id, they may get one id per start.
    assert len(acked) >= iterations
    _check_intact(data_dir / "runs.sqlite3", dict.fromkeys(acked))


# ---- the real server under a plain SIGTERM ------------------------------------------------------
_CRASH_MARKERS = ("Traceback", "terminate called", "FATAL", "Aborted", "core dumped")


def _sigterm_and_wait(server) -> int:  # noqa: ANN001
    """`kill -TERM <server pid>` (the process only, as an operator or systemd would)."""
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    return server.proc.wait(timeout=120)


@pytest.mark.browser
@pytest.mark.parametrize("moment", ["generation", "save"])
def test_real_server_sigterm_exits_0_and_keeps_acknowledged_runs(tmp_path: Path, browser,
                                                                  moment: str) -> None:  # noqa: ANN001
    """A plain stop while a generation runs, or right after Share: exit status 0, no traceback
    or native abort in the log, and every acknowledged run opens after a restart."""
    from tests.browser import pageops as ops
    from tests.browser.harness import AppServer, block_outside_hosts

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    seed = _seed_run(data_dir)
    env = {"STUDIO_MODEL": "tiny", "STUDIO_ALLOWED_MODELS": "tiny"}
    server = AppServer(app="app.py", env=env, data_dir=data_dir).start()
    acked: set[str] = set()
    blocked: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    block_outside_hosts(context, blocked)
    restarted = None
    try:
        page = context.new_page()
        if moment == "generation":
            ops.open_app(page, server.url)
            button = page.get_by_role("button", name="Generate", exact=True)
            button.wait_for(timeout=120_000)
            ops.generate(page)  # one full generation first: the model is loaded and compiled
            button.evaluate("b => b.click()")  # the next one is running when the signal comes
            page.wait_for_timeout(300)
        else:
            page.goto(f"{server.url}/?run={seed}", wait_until="commit")
            share = page.get_by_role("button", name="Share", exact=True).first
            share.wait_for(timeout=120_000)
            share.click()
            acked |= ops.poll(lambda: _shown_run_ids(page) - {seed}, bool,
                              "a new ?run= id after Share", timeout_s=90)
            share.evaluate("b => b.click()")  # another save in flight when the signal comes
            page.wait_for_timeout(50)
        status = _sigterm_and_wait(server)
        log = server.log_path.read_text(errors="replace") if server.log_path else ""
        assert status == 0, f"exit status {status}; log tail:\n{server.log_tail(60)}"
        found = [m for m in _CRASH_MARKERS if m in log]
        assert not found, f"{found} in the server log:\n{server.log_tail(60)}"
        acked |= _shown_run_ids(page) - {seed}
        context.close()

        restarted = AppServer(app="app.py", env=env, data_dir=data_dir).start()
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        block_outside_hosts(context, blocked)
        page = context.new_page()
        for run_id in sorted(acked | {seed}):
            page.goto(f"{restarted.url}/?run={run_id}", wait_until="commit", timeout=120_000)
            ops.poll(lambda: _text_or_empty(page), lambda t, r=run_id: f"Saved run {r}" in t,
                     f"run {run_id} to open after the restart", timeout_s=120)
            ops.assert_no_traceback(page)
    finally:
        try:
            context.close()
        except Exception:  # noqa: BLE001 - already closed above
            pass
        server.stop()
        if restarted is not None:
            restarted.stop()
    assert not blocked, f"the page tried to reach outside hosts: {blocked}"
    _check_intact(data_dir / "runs.sqlite3", dict.fromkeys(acked))
