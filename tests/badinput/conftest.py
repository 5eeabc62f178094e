from __future__ import annotations

import pytest

from bot.config import Settings
from tests.support.telegram import TOKEN


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)
