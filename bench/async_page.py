"""Async Playwright helpers shared by the load benchmark's sessions (normal and hostile).

`tests/browser/pageops.py` is the page contract; its one-call readers (`segments`, `overlay`,
`error_messages`, `live_url`, `app_text`) return the async page's coroutine unchanged, so they
are awaited here as they are. What needs more than one call gets an async twin here.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from tests.browser import pageops as ops
from tests.browser.harness import LOCAL_HOSTS

STEP_TIMEOUT_S = 120.0  # hang guard per step (a lost click shows as an error), not a target
TRACEBACK = "[data-testid='stException']"


async def until(read, ok, what: str, timeout_s: float = STEP_TIMEOUT_S):  # noqa: ANN001, ANN201
    """Await `read()` until `ok(value)`; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout_s
    value = await read()
    while not ok(value):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
        value = await read()
    return value


async def block_outside_hosts(context) -> None:  # noqa: ANN001
    """Abort every request that is not to this machine (the benchmark never leaves it)."""

    async def handle(route) -> None:  # noqa: ANN001
        parts = urlsplit(route.request.url)
        if parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            await route.abort()

    await context.route("**/*", handle)


async def new_context(browser):  # noqa: ANN001, ANN201
    """A fresh browser context (its own cookies: its own owner), outside hosts blocked."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await block_outside_hosts(context)
    return context


async def tracebacks(page) -> int:  # noqa: ANN001
    return await page.locator(TRACEBACK).count()


async def click_button(page, label: str, timeout_s: float = STEP_TIMEOUT_S) -> None:  # noqa: ANN001
    """`pageops.click_button`, awaited: wait for exactly one such button (a rerun being drawn
    can briefly show two), then click it."""
    button = page.get_by_role("button", name=label, exact=True)
    await until(button.count, lambda n: n == 1, f"exactly one '{label}' button", timeout_s)
    await button.click(timeout=timeout_s * 1000)


async def run_id_in_url(page, previous: str | None = None,  # noqa: ANN001
                        timeout_s: float = STEP_TIMEOUT_S) -> str:
    """The `run=` id the address bar shows, once it differs from `previous` (after Share)."""

    async def read() -> str | None:
        match = ops.RUN_ID.search(await ops.live_url(page))
        return match.group(1) if match else None

    return await until(read, lambda r: r is not None and r != previous, "a ?run= link",
                       timeout_s)
