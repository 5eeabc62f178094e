"""Fixtures for the Bot API emulator tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram
from telegram.request import HTTPXRequest

from bot.emulator import RunningEmulator, run_emulator

from ._support import BOT_USERNAME, TOKEN, USER_ID


@pytest.fixture
async def emu() -> AsyncIterator[RunningEmulator]:
    async with run_emulator(bot_username=BOT_USERNAME, bot_first_name="ASN Bukittinggi") as e:
        yield e


@pytest.fixture
async def user(emu: RunningEmulator) -> int:
    await emu.client.create_user(USER_ID, "Ani", "Putri", username="ani_p", language_code="id")
    return USER_ID


@pytest.fixture
async def bot(emu: RunningEmulator) -> AsyncIterator[telegram.Bot]:
    b = telegram.Bot(
        TOKEN,
        base_url=emu.base_url,
        base_file_url=emu.base_file_url,
        request=HTTPXRequest(read_timeout=5, connect_timeout=2),
        get_updates_request=HTTPXRequest(read_timeout=5, connect_timeout=2),
    )
    async with b:
        yield b
