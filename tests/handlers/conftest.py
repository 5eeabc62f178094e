from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from tests.support.telegram import TOKEN, CapturingRequest

Recorder = TypeVar("Recorder", bound=CapturingRequest)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


@asynccontextmanager
async def running_app(
    settings: Settings, request: Recorder
) -> AsyncIterator[tuple[Application, Recorder]]:
    """The real application with its HTTP layer replaced by ``request`` (a recorder)."""
    application = build_application(settings, request=request)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    try:
        yield application, request
    finally:
        await application.shutdown()
        assert application.post_shutdown is not None
        await application.post_shutdown(application)


@pytest.fixture
async def captured(settings: Settings) -> AsyncIterator[tuple[Application, CapturingRequest]]:
    async with running_app(settings, CapturingRequest()) as running:
        yield running
