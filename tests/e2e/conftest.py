"""End to end: the real application polls the local Bot API emulator over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

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


@pytest.fixture
async def live_bot(emulator: RunningEmulator, database_url: str) -> AsyncIterator[LiveBot]:
    settings = Settings(
        bot_token=TOKEN,
        database_url=database_url,
        telegram_base_url=emulator.base_url,
        telegram_base_file_url=emulator.base_file_url,
        _env_file=None,
    )
    app = build_application(settings)
    await app.initialize()
    assert app.post_init is not None and app.updater is not None
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield LiveBot(app, emulator, settings)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
