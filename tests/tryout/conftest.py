"""The "coba" chat page in a real browser: one :class:`bot.tryout.Tryout` per test module
(its own SQLite file with the demo data, the emulator, the page and the real bot), headless
Chromium from Debian's packages (``/usr/bin/chromium``) driven by Playwright's async API, and
a fresh phone-sized page per test whose end state is kept as a screenshot under
``test-artifacts/screenshots/`` (failed tests too).

Playwright is imported only inside the fixtures: the test module skips (with the reason) when
Playwright or Chromium is missing, before any of this runs.

Everything here runs in the module's event loop (``loop_scope="module"``): the Tryout's server
and bot, Playwright's connection and the tests share it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.tryout import Tryout, sqlite_url

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
ACTION_TIMEOUT = 15_000  # ms: a click or a fill waits this long for its element

_saved: list[Path] = []


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tryout(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Tryout]:
    """The tryout, started on a free port with its own SQLite file (whatever database the rest
    of the suite runs on: the tryout always uses SQLite, that is the feature)."""
    path = tmp_path_factory.mktemp("coba") / "coba.db"
    running = Tryout(sqlite_url(path), port=0)
    try:
        await running.start()
        yield running
    finally:
        await running.stop()
        await running.close_engine()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    try:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()
    finally:
        await playwright.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Any, tryout: Tryout, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A new phone-sized page on the tryout (a browser context of its own per test); its
    full-page screenshot is saved when the test ends, and an uncaught script error fails it."""
    context = await browser.new_context(viewport=PHONE, accept_downloads=True)
    context.set_default_timeout(ACTION_TIMEOUT)
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    await opened.goto(tryout.url)
    try:
        yield opened
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{request.node.name}.png"
        try:
            await opened.screenshot(path=str(shot), full_page=True)
            _saved.append(shot)
            print(f"screenshot: {shot}")
        finally:
            await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _saved:
        terminalreporter.write_sep("-", "coba page screenshots")
        for shot in _saved:
            terminalreporter.write_line(str(shot.relative_to(ROOT)))
