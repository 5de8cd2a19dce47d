"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """The one Chromium of the test session. Playwright's sync API allows one running instance
    per process, so every browser test (tests/browser, tests/app, crash and sign-in tests) shares
    this one and makes its own contexts."""
    from playwright.sync_api import sync_playwright

    from tests.browser.harness import launch_browser

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()
