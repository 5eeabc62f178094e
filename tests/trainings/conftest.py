"""Layer 2 for trainings in chat: the real application, requests captured."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram.ext import Application

from bot.config import Settings
from tests.handlers.conftest import running_app
from tests.support.telegram import TOKEN
from tests.trainings.support import DocumentCapturingRequest


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


@pytest.fixture
async def captured(
    settings: Settings,
) -> AsyncIterator[tuple[Application, DocumentCapturingRequest]]:
    async with running_app(settings, DocumentCapturingRequest()) as (application, request):
        request.clear()
        yield application, request
