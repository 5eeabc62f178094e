"""End to end: the real application polls the local Bot API emulator over HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from bot.emulator import RunningEmulator, run_emulator
from bot.emulator.client import EmulatorClient
from tests.support.telegram import TOKEN


@dataclass
class LiveBot:
    app: Application
    emulator: RunningEmulator
    settings: Settings

    @property
    def client(self) -> EmulatorClient:
        return self.emulator.client


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with run_emulator(bot_username="bukittinggi_asn_bot") as running:
        yield running


async def start_live_bot(
    emulator: RunningEmulator, settings: Settings, *, delivery: dict[str, Any] | None = None
) -> LiveBot:
    """The real application, polling the emulator (as ``run_polling`` would start it);
    ``delivery``: the outbox sender's options (``extras["delivery"]``, read by ``post_init``)."""
    app = build_application(settings)
    if delivery is not None:
        app.bot_data.extras["delivery"] = dict(delivery)
    await app.initialize()
    assert app.post_init is not None and app.updater is not None
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    return LiveBot(app, emulator, settings)


async def stop_live_bot(bot: LiveBot) -> None:
    """Stop like a restart would; safe to call twice."""
    app = bot.app
    if not app.running:
        return
    assert app.updater is not None and app.post_shutdown is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    await app.post_shutdown(app)


def live_settings(emulator: RunningEmulator, database_url: str, **overrides: Any) -> Settings:
    """The settings of a bot polling ``emulator`` (``overrides``: other settings)."""
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "database_url": database_url,
        "telegram_base_url": emulator.base_url,
        "telegram_base_file_url": emulator.base_file_url,
        # No quiet hours unless a test sets them: pushes must not depend on the time of day.
        "quiet_hours_start": dt.time(0, 0),
        "quiet_hours_end": dt.time(0, 0),
    }
    return Settings(**{**values, **overrides}, _env_file=None)


@pytest.fixture
async def live_bot(emulator: RunningEmulator, database_url: str) -> AsyncIterator[LiveBot]:
    settings = live_settings(emulator, database_url)
    bot = await start_live_bot(emulator, settings)
    try:
        yield bot
    finally:
        await stop_live_bot(bot)
