from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from tests.support.telegram import TOKEN, CapturingRequest


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


@pytest.fixture
async def captured(settings: Settings) -> AsyncIterator[tuple[Application, CapturingRequest]]:
    """The real application with its HTTP layer replaced by a recorder."""
    request = CapturingRequest()
    application = build_application(settings, request=request)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    yield application, request
    await application.shutdown()
    assert application.post_shutdown is not None
    await application.post_shutdown(application)
