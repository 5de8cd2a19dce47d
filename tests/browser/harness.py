"""Real app server + Debian chromium for browser tests and the load benchmark.

Kept free of pytest so `bench/load_sessions.py` can use it too. Everything binds or talks to
127.0.0.1 only; the browser aborts any request to another host (and records it).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Bounds against hangs, not performance assertions: a cold server on 2 shared cores plus
# JAX import can take a while; the embedded model's first load converts a GGUF.
SERVER_START_TIMEOUT_S = 180.0
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AppServer:
    """One `streamlit run` process in its own process group (so teardown kills all of it)."""

    app: str = "app.py"
    env: Mapping[str, str] = field(default_factory=dict)
    data_dir: Path | None = None
    port: int = 0
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = SERVER_START_TIMEOUT_S) -> AppServer:
        ARTIFACTS.mkdir(exist_ok=True)
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="studio-data-"))
        self.port = self.port or free_port()
        env = dict(os.environ)
        env.update({"STUDIO_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1"})
        env.update(self.env)
        tag = env.get("STUDIO_MODEL", "default")
        self.log_path = self.log_path or ARTIFACTS / f"server-{tag}-{self.port}.log"
        cmd = [
            sys.executable, "-m", "streamlit", "run", self.app,
            "--server.address", "127.0.0.1",
            "--server.port", str(self.port),
            "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
            # No file watcher: saves CPU on shared cores and avoids reruns while others edit.
            "--server.fileWatcherType", "none",
        ]  # fmt: skip
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child writes to it until stop()
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        try:
            self._wait_healthy(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self, timeout_s: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        health = f"{self.url}/_stcore/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"app server exited with status {self.proc.returncode} before it was healthy;"
                    f" log tail:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(health, timeout=2) as resp:
                    if resp.status == 200 and resp.read().strip() == b"ok":
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"app server not healthy after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        """SIGTERM the whole process group, SIGKILL what is left after a grace period."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # start_new_session=True: the child leads its own group
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue


def launch_browser(playwright):  # noqa: ANN001, ANN201 - playwright's types are runtime-generated
    """Debian's chromium with the project's flags.

    Playwright's `launch` gives every browser a fresh temporary user-data dir of its own
    (deleted on close); `--user-data-dir` is not allowed here by design.
    """
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(
            f"{CHROMIUM} is missing: run `apt-get update && apt-get install -y chromium`"
            " (scripts/test.sh does this; never `playwright install`)."
        )
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
    )


# Requests the browser may make without the test seeing them: its own data/blob/about URLs and
# the app server on this machine. Everything else is routed to `handle` (and aborted).
_NOT_LOCAL = re.compile(r"^(?!(?:data|blob|about):)(?!(?:https?|wss?)://(?:127\.0\.0\.1|localhost"
                        r"|\[::1\])(?::\d+)?(?:[/?#]|$))")


def block_outside_hosts(context, blocked: list[str]) -> None:  # noqa: ANN001
    """Abort every request that is not to 127.0.0.1; record it so tests can assert on it.

    Only outside requests are intercepted (a pattern the browser side matches): routing the
    app's own requests through this Python handler would delay each one until the test next
    calls Playwright, long enough to lose races the app does not have (a deferred download's
    file is dropped by the server's cleanup before the delayed fetch arrives)."""

    def handle(route) -> None:  # noqa: ANN001
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS:
            route.continue_()  # the pattern should not have matched; never block the app
        else:
            blocked.append(url)
            route.abort()

    context.route(_NOT_LOCAL, handle)
