"""What ``/healthz`` calls the outbox's lag: quiet hours hold messages without a lag."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.rules.quiet import last_quiet_end
from storage.repositories.health import outbox_lag_seconds
from storage.repositories.outbox import OutboxRepository

WIB = "Asia/Jakarta"
NIGHT = (dt.time(21, 0), dt.time(6, 0))


def test_last_quiet_end() -> None:
    # 07:30 WIB: the night ended at 06:00 WIB today (23:00 UTC the day before).
    at = dt.datetime(2026, 11, 28, 0, 30, tzinfo=dt.UTC)
    assert last_quiet_end(at, WIB, *NIGHT) == dt.datetime(2026, 11, 27, 23, 0, tzinfo=dt.UTC)
    # 05:00 WIB (still night): the previous morning's end.
    at = dt.datetime(2026, 11, 27, 22, 0, tzinfo=dt.UTC)
    assert last_quiet_end(at, WIB, *NIGHT) == dt.datetime(2026, 11, 26, 23, 0, tzinfo=dt.UTC)
    assert last_quiet_end(at, WIB, dt.time(0, 0), dt.time(0, 0)) is None


async def test_lag_counts_held_messages_from_the_end_of_the_night(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    now = dt.datetime(2026, 11, 28, 0, 30, tzinfo=dt.UTC)  # 07:30 WIB
    night_end = now - dt.timedelta(minutes=90)
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        # Queued at 22:00 WIB, held by the quiet hours.
        await repo.enqueue(
            "t:night",
            1,
            {"text": "a"},
            kind="t",
            not_before=now - dt.timedelta(hours=9, minutes=30),
        )
        assert await outbox_lag_seconds(session, now) == 9.5 * 3600
        assert await outbox_lag_seconds(session, now, held_until=night_end) == 90 * 60
        # In quiet hours only urgent ones count.
        assert await outbox_lag_seconds(session, now, urgent_only=True) == 0.0
        await repo.enqueue(
            "t:urgent",
            2,
            {"text": "b"},
            kind="t",
            urgent=True,
            not_before=now - dt.timedelta(hours=2),
        )
        assert await outbox_lag_seconds(session, now, urgent_only=True) == 2 * 3600
        assert await outbox_lag_seconds(session, now, held_until=night_end) == 2 * 3600
        # Not yet due: no lag.
        assert await outbox_lag_seconds(session, now - dt.timedelta(hours=10)) == 0.0
