"""Fixtures for real-browser tests: one app server per model, one chromium, a fresh context per test.

- `tiny_server`: `streamlit run app.py` with STUDIO_MODEL=tiny (session-scoped, started on first use).
- `embedded_server`: the same with STUDIO_MODEL=embedded, for `slow` tests only (one for all).
- `browser`: Debian's /usr/bin/chromium via Playwright (never `playwright install`).
- `context` / `page`: fresh per test; requests to any host but 127.0.0.1 are aborted and fail
  the test; on failure a screenshot of every page goes to test-artifacts/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.browser.harness import (
    ARTIFACTS,
    REPO,
    AppServer,
    block_outside_hosts,
)

APP = REPO / "app.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" not in item.nodeid.replace(os.sep, "/"):
            continue
        if item.get_closest_marker("browser") is None:
            raise pytest.UsageError(f"{item.nodeid}: browser tests must be marked `browser`")
        if "embedded_server" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "slow"
        ):
            raise pytest.UsageError(f"{item.nodeid}: tests on the embedded model must be `slow`")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    # Let fixtures see whether the test body failed (for failure screenshots).
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


def _start(env: dict[str, str], data_dir: Path) -> AppServer:
    if not APP.exists():
        pytest.fail(f"{APP} does not exist: the browser tests need the app")
    return AppServer(app=str(APP), env=env, data_dir=data_dir).start()


@pytest.fixture(scope="session")
def tiny_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    server = _start(
        {"STUDIO_MODEL": "tiny", "STUDIO_ALLOWED_MODELS": "tiny"},
        tmp_path_factory.mktemp("studio-data-tiny"),
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    # Fresh data dir (saved runs), but the converted-model cache is shared with normal use so the
    # GGUF is converted once per machine, not once per test run.
    from lib.paths import cache_dir

    server = _start(
        {
            "STUDIO_MODEL": "embedded",
            "STUDIO_ALLOWED_MODELS": "embedded",
            "STUDIO_CACHE_DIR": str(cache_dir()),
        },
        tmp_path_factory.mktemp("studio-data-embedded"),
    )
    yield server
    server.stop()


def _record_events(page: object, events: list[str]) -> None:
    """Log a page's console messages, script errors, navigations and crashes (a failure's
    screenshot alone cannot tell a blank page's cause)."""
    import time

    def add(what: str) -> None:
        events.append(f"{time.strftime('%H:%M:%S')} page {id(page) % 10000}: {what[:2000]}")

    page.on("console", lambda m: add(f"console.{m.type}: {m.text}"))
    page.on("pageerror", lambda e: add(f"pageerror: {e}"))
    page.on("crash", lambda _p: add("crash"))
    page.on("framenavigated", lambda f: add(f"navigated: {f.url}") if f == page.main_frame
            else None)
    page.on("response", lambda r: add(f"HTTP {r.status}: {r.request.method} {r.url}")
            if r.status >= 400 else None)
    page.on("requestfailed", lambda r: add(f"request failed: {r.url} {r.failure}"))
    page.on("websocket", lambda ws: (add(f"websocket open: {ws.url}"),
                                     ws.on("close", lambda _w: add("websocket closed"))))


@pytest.fixture
def new_context(browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., object]]:  # noqa: ANN001
    """Factory for fresh browser contexts (no shared cookies/storage); all closed at the end."""
    made: list[tuple[object, list[str]]] = []
    events: list[str] = []  # what the pages said (console, errors, navigations): kept on failure

    def make(**kwargs: object) -> object:
        kwargs.setdefault("viewport", {"width": 1400, "height": 1000})
        context = browser.new_context(**kwargs)
        context.set_default_timeout(30_000)
        blocked: list[str] = []
        block_outside_hosts(context, blocked)
        context.on("page", lambda page: _record_events(page, events))
        made.append((context, blocked))
        return context

    yield make

    failed = request.node.stash.get(_FAILED, False)
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    for n, (context, blocked) in enumerate(made):
        outside.extend(blocked)
        if failed:
            for m, page in enumerate(context.pages):
                path = ARTIFACTS / f"FAILED-{_artifact_name(request.node.nodeid)}-{n}-{m}.png"
                try:
                    page.screenshot(path=str(path), full_page=True)
                except Exception:  # noqa: BLE001 - a screenshot must not hide the real failure
                    pass
        context.close()
    if failed and events:
        name = _artifact_name(request.node.nodeid)
        (ARTIFACTS / f"FAILED-{name}-events.txt").write_text("\n".join(events), encoding="utf-8")
    if outside:
        pytest.fail(f"the page tried to reach hosts other than 127.0.0.1: {sorted(set(outside))}")


@pytest.fixture
def page(new_context: Callable[..., object]) -> object:
    return new_context().new_page()
