"""Telling the stage changes an import left pending, right after the import.

An import (in chat or on the command line) writes its stage changes as events nobody has
been told of yet (``notified_at`` unset), in the import's own transaction.
:func:`tell_pending` then runs ``bot.mutations.process_events`` over them, a batch per
transaction, until none is left: each batch marks its events and queues their messages in
the outbox together, so a crash in between loses and doubles nothing (the scheduler's tick
takes what is left), and two processes doing it at once queue every message once (the
events are claimed one by one; the outbox keys are unique).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.mutations import process_events
from storage.repositories.mutations import MutationRepository

BATCH = 200  # events per transaction: short transactions, the sender starts early
MAX_BATCHES = 1_000  # a bound, in case other processes keep adding events meanwhile


async def tell_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    batch: int = BATCH,
    after_batch: Callable[[int], None] | None = None,
) -> int:
    """Tell the people of every stage change not told yet; how many messages were queued.

    ``after_batch(queued)`` runs after each committed batch (e.g. to wake the sender).
    """
    total = 0
    for _ in range(MAX_BATCHES):
        async with sessionmaker() as session, session.begin():
            queued = await process_events(session, settings, now=now, limit=batch)
            more = bool(await MutationRepository(session).pending_events(limit=1))
        total += queued
        if after_batch is not None:
            after_batch(queued)
        if not more:
            break
    return total
