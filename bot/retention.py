"""Retention (UU 27/2022): what the bot has delivered is not kept longer than needed.

:func:`purge_expired_contents` is called from the scheduler's tick (hourly is enough). It:

* purges the **content of finished outbox messages** (sent, failed, blocked, uncertain,
  cancelled) that finished more than ``MESSAGE_RETENTION_DAYS`` (default 90) days ago: the
  payload becomes ``{"purged": true}`` and ``content_purged_at`` is set; status, times, error
  and ids stay, so HR's figures (``/hr_kirim``, ``/hr_siaran``, the announcement reports and
  XLSX files) are unchanged;
* deletes **drafts** nobody touched for a day and an hour (the person no longer sees them
  after a day; until now they were only removed when seen again), judged on the real time,
  the drafts' own clock;
* blanks the Telegram **file id of finished uploads** older than the retention period (the
  data file HR sent can no longer be fetched through the bot; its name and counts stay).

Each kind is done in batches of at most :data:`RETENTION_BATCH` rows per call, in the caller's
transaction (never committed here), so one call never holds the tables long; a backlog (e.g.
the first run on an old database) is worked off over the next calls, or at once with
:func:`purge_all_expired`. What is kept, and why, is in ``docs/personal-data.md``.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from storage.models import utcnow
from storage.repositories.outbox import OutboxRepository
from storage.repositories.personal_data import STALE_DRAFT_AGE, RetentionRepository

log = logging.getLogger(__name__)

RETENTION_BATCH = 1000


def retention_cutoff(settings: Settings, now: dt.datetime) -> dt.datetime:
    """Contents of messages finished before this are purged."""
    return now - dt.timedelta(days=settings.message_retention_days)


async def purge_expired_contents(
    session: AsyncSession, settings: Settings, now: dt.datetime, *, batch: int = RETENTION_BATCH
) -> int:
    """One retention pass at ``now`` (aware UTC): how many rows were purged or deleted in all
    (outbox contents, drafts, upload file ids; at most ``batch`` of each)."""
    before = retention_cutoff(settings, now)
    messages = await OutboxRepository(session).purge_contents(before, batch, now=now)
    retention = RetentionRepository(session)
    # Drafts are stamped with the real time (not the application's clock, which tests move).
    drafts = await retention.delete_stale_drafts(utcnow() - STALE_DRAFT_AGE, batch)
    files = await retention.forget_upload_files(before, batch)
    if messages or drafts or files:
        log.info(
            "retention: %d message contents purged, %d stale drafts deleted, "
            "%d upload file ids forgotten",
            messages,
            drafts,
            files,
        )
    return messages + drafts + files


async def purge_all_expired(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: dt.datetime,
    *,
    batch: int = RETENTION_BATCH,
) -> int:
    """Retention passes, each in its own short transaction, until nothing is left; the total."""
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            done = await purge_expired_contents(session, settings, now, batch=batch)
        total += done
        if done == 0:
            return total
