"""What ``/healthz`` and ``/metrics`` read from the database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage


async def database_answers(session: AsyncSession) -> bool:
    return await session.scalar(text("SELECT 1")) == 1


async def outbox_lag_seconds(
    session: AsyncSession,
    now: dt.datetime,
    *,
    urgent_only: bool = False,
    held_until: dt.datetime | None = None,
) -> float:
    """How long the oldest message that may be sent now has been due (0 when none waits).
    In quiet hours only urgent messages may go, so only they count; after them the others
    are due from the end of the quiet hours (``held_until``), not from when they were queued."""
    m = OutboxMessage
    waiting = select(func.min(m.not_before)).where(m.status == "pending", m.not_before <= now)
    oldest = await session.scalar(waiting.where(m.urgent.is_(True)))
    if not urgent_only:
        held = await session.scalar(waiting.where(m.urgent.is_(False)))
        if held is not None and held_until is not None:
            held = max(held, held_until)
        oldest = held if oldest is None or (held is not None and held < oldest) else oldest
    if oldest is None:
        return 0.0
    return max(0.0, (now - oldest).total_seconds())
