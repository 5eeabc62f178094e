"""Quiet hours in the sender (a fake wall clock): non-urgent rows wait, urgent ones go."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bot.app import build_application
from bot.config import Settings
from bot.delivery import Sender, get_sender
from bot.emulator import RunningEmulator
from tests.delivery.conftest import drain, enqueue, row_by_key
from tests.support.telegram import TOKEN

pytestmark = pytest.mark.e2e
USER = 6695001
WIB = ZoneInfo("Asia/Jakarta")


def wib(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=WIB).astimezone(dt.UTC)


async def test_non_urgent_waits_from_22_00_until_06_00_urgent_goes_at_once(
    emulator: RunningEmulator, bot: Bot, sessionmaker: async_sessionmaker[AsyncSession]
):
    await emulator.client.create_user(USER, "Nurhayati")
    clock = [wib(2, 22, 0)]
    sender = Sender(
        sessionmaker,
        quiet_start=dt.time(21, 0),
        quiet_end=dt.time(6, 0),
        timezone="Asia/Jakarta",
        wall_clock=lambda: clock[0],
    )
    await enqueue(sessionmaker, "stage:1:sk_terbit", USER, {"text": "SK terbit"})
    await enqueue(sessionmaker, "reminder:urgent", USER, {"text": "Mulai 30 menit"}, urgent=True)

    assert sender.in_quiet_hours()
    assert await sender.run_once(bot) == 1
    assert await sender.run_once(bot) == 0
    assert [m["plain_text"] for m in await emulator.client.bot_messages(USER)] == ["Mulai 30 menit"]
    assert (await row_by_key(sessionmaker, "stage:1:sk_terbit")).status == "pending"

    clock[0] = wib(3, 5, 59)
    assert await sender.run_once(bot) == 0
    clock[0] = wib(3, 6, 0)
    counts = await drain(sender, bot, sessionmaker)
    assert counts["sent"] == 2 and counts["pending"] == 0
    assert [m["plain_text"] for m in await emulator.client.bot_messages(USER)] == [
        "Mulai 30 menit",
        "SK terbit",
    ]


async def test_without_quiet_hours_everything_goes(
    emulator: RunningEmulator, bot: Bot, sessionmaker: async_sessionmaker[AsyncSession]
):
    await emulator.client.create_user(USER, "Nurhayati")
    sender = Sender(
        sessionmaker,
        quiet_start=dt.time(21, 0),
        quiet_end=dt.time(21, 0),
        wall_clock=lambda: wib(2, 23, 0),
    )
    await enqueue(sessionmaker, "stage:1", USER, {"text": "SK terbit"})
    assert not sender.in_quiet_hours()
    assert (await drain(sender, bot, sessionmaker))["sent"] == 1


async def test_the_application_passes_rates_and_quiet_hours_to_the_sender(
    emulator: RunningEmulator, database_url: str
):
    settings = Settings(
        bot_token=TOKEN,
        database_url=database_url,
        telegram_base_url=emulator.base_url,
        telegram_base_file_url=emulator.base_file_url,
        send_rate_global=20,
        quiet_hours_start=dt.time(22, 0),
        quiet_hours_end=dt.time(5, 30),
        _env_file=None,
    )
    app = build_application(settings)
    app.bot_data.extras["delivery"] = {"per_chat_rate": 0.5}  # a caller's own value wins
    await app.initialize()
    assert app.post_init is not None and app.post_shutdown is not None
    await app.post_init(app)
    try:
        sender = get_sender(app)
        assert sender is not None
        margin = sender.pacer.margin
        assert (sender.pacer.capacity, sender.pacer.window) == (20, 1 + margin)  # 20 a second
        assert sender.pacer.chat_interval == 2 + margin
        assert (sender.quiet_start, sender.quiet_end) == (dt.time(22, 0), dt.time(5, 30))
        assert sender.timezone == "Asia/Jakarta"
        app.bot_data.extras["clock"] = lambda: wib(2, 23, 0)
        assert sender.in_quiet_hours()
        app.bot_data.extras["clock"] = lambda: wib(3, 5, 30)
        assert not sender.in_quiet_hours()
    finally:
        await app.shutdown()
        await app.post_shutdown(app)
