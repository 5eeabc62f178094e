"""The application starts the sender in post_init and stops it cleanly at shutdown."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.delivery import get_sender
from bot.emulator import RunningEmulator
from storage.db import create_engine, create_sessionmaker
from storage.models import OutboxMessage
from tests.delivery.conftest import enqueue, rows
from tests.support.telegram import TOKEN

pytestmark = pytest.mark.e2e
USER = 6690001


async def test_post_init_starts_the_sender_wake_drains_and_shutdown_gives_rows_back(
    emulator: RunningEmulator, database_url: str
):
    settings = Settings(
        bot_token=TOKEN,
        database_url=database_url,
        telegram_base_url=emulator.base_url,
        telegram_base_file_url=emulator.base_file_url,
        quiet_hours_start=dt.time(0, 0),  # no quiet hours: independent of the time of day
        quiet_hours_end=dt.time(0, 0),
        _env_file=None,
    )
    app = build_application(settings)
    # Slow pacing and a long idle poll: only wake() can make the first message go out soon,
    # and the next two are still waiting for their slot when the bot shuts down.
    app.bot_data.extras["delivery"] = {"per_chat_rate": 0.2, "poll_interval": 60}
    await app.initialize()
    assert app.post_init is not None and app.post_shutdown is not None
    await app.post_init(app)
    sender = get_sender(app)
    assert sender is not None and sender.pacer.chat_interval == 5 + sender.pacer.margin
    await app.start()
    try:
        await emulator.client.create_user(USER, "Nurhayati")
        sessionmaker = app.bot_data.sessionmaker
        assert sessionmaker is not None
        for n in range(3):
            await enqueue(sessionmaker, f"stage:{n}", USER, {"text": f"Tahap {n}"})
        sender.wake()
        first = await emulator.client.wait_for_bot_message(USER, timeout=10)
        assert first["plain_text"] == "Tahap 0"
    finally:
        await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)

    assert get_sender(app) is None
    statuses = [(r.idempotency_key, r.status, r.lease_until) for r in await rows_of(database_url)]
    assert statuses == [
        ("stage:0", "sent", None),
        ("stage:1", "pending", None),
        ("stage:2", "pending", None),
    ]
    assert len(await emulator.client.bot_messages(USER)) == 1


async def rows_of(database_url: str) -> list[OutboxMessage]:
    engine = create_engine(database_url)
    try:
        return await rows(create_sessionmaker(engine))
    finally:
        await engine.dispose()
