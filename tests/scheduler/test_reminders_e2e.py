"""End to end: the running bot's tick queues a reminder, the sender delivers it to the chat."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.i18n import get_translator
from bot.scheduler import run_tick
from tests.e2e.conftest import LiveBot
from tests.scheduler.conftest import add_people, add_training, outbox, wib

pytestmark = pytest.mark.e2e
USER = 6790001


async def test_a_reminder_arrives_once_with_its_two_buttons(live_bot: LiveBot):
    app = live_bot.app
    sessionmaker = app.bot_data.sessionmaker
    assert sessionmaker is not None
    await live_bot.client.create_user(USER, "Nurhayati")
    [person] = await add_people(sessionmaker, 1, first_chat=USER, language="id")
    # Monday 2 March 2026, 09:00 WIB; the training starts 7 days and 10 minutes later.
    now = wib(2026, 3, 2, 9, 0)
    starts = now + dt.timedelta(days=7, minutes=10)
    training = await add_training(
        sessionmaker, starts, [person], title="Orientasi Jabatan Baru", place="Aula BKPSDM"
    )
    clock = [now]
    app.bot_data.extras["clock"] = lambda: clock[0]

    assert await run_tick(app) == 0
    clock[0] = now + dt.timedelta(minutes=10, seconds=5)  # H-7 has just passed
    assert await run_tick(app) == 1

    message = await live_bot.client.wait_for_bot_message(USER, timeout=10)
    t = get_translator("id")
    assert "Orientasi Jabatan Baru" in message["plain_text"]
    assert "Senin, 9 Maret 2026 pukul 09.10 WIB" in message["plain_text"]
    assert "Aula BKPSDM" in message["plain_text"]
    [[yes, no]] = message["reply_markup"]["inline_keyboard"]
    assert (yes["text"], yes["callback_data"]) == (t("✅ Attending"), f"latih:{training}:hadir")
    assert (no["text"], no["callback_data"]) == (t("❌ Not attending"), f"latih:{training}:absen")

    # The next tick (and the job's own ticks meanwhile) send nothing more.
    clock[0] += dt.timedelta(seconds=30)
    assert await run_tick(app) == 0
    await asyncio.sleep(1.5)
    assert len(await live_bot.client.bot_messages(USER)) == 1
    [row] = await outbox(sessionmaker)
    assert row.status == "sent" and row.kind == "training_reminder"
