"""First group: an update delivered twice (the same ``update_id``) is handled once.

Telegram sends an update again when it did not see it confirmed (a ``getUpdates`` offset
never sent because the bot died, a lost webhook answer). Before any other handler:

- the process remembers the last ``RECENT`` ids it took on; a copy of one of them stops here
  without touching the database, also when both copies arrive at once (``concurrent_updates``);
- on PostgreSQL, where several processes may share the work, the id is also claimed in
  ``processed_updates`` in a short transaction of its own (one ``INSERT … ON CONFLICT DO
  NOTHING``); an id another process claimed stops here. If the claim fails (the database is
  down) the error handler tells the person once and nothing else runs for that update.

SQLite is one process by design (polling), so memory is enough there, and it spares the
single write lock one more write per update (under 200 supervisors pressing at once that
write cost about a tenth of the answers their busy timeout). After a restart the memory is
empty: python-telegram-bot confirms a batch as soon as it has fetched it, so what Telegram
sends again after a crash is what the dead process had not taken on yet.

The scheduler's tick calls :func:`prune` to forget claimed ids older than a week, at most
once an hour.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.context import BotContext
from storage.repositories.updates import claim_update, prune_processed_updates

log = logging.getLogger(__name__)

DEDUPE_GROUP = -3  # before the conversation router (-2) and the account group (-1)
PRUNE_EVERY = dt.timedelta(hours=1)
_EXTRAS_PRUNED_AT = "processed_updates_pruned_at"
_EXTRAS_RECENT = "recent_updates"
RECENT = 10_000  # ids kept in memory: far more than can arrive twice within minutes


class RecentUpdates:
    """The last ``size`` update ids this process took on."""

    def __init__(self, size: int = RECENT) -> None:
        self.size = size
        self._ids: collections.OrderedDict[int, None] = collections.OrderedDict()

    def add(self, update_id: int) -> bool:
        """Remember ``update_id``; ``False`` when it was already remembered."""
        if update_id in self._ids:
            return False
        self._ids[update_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True

    def forget(self, update_id: int) -> None:
        self._ids.pop(update_id, None)


def _recent(application: Application) -> RecentUpdates:
    extras = application.bot_data.extras
    found = extras.get(_EXTRAS_RECENT)
    if not isinstance(found, RecentUpdates):
        found = extras[_EXTRAS_RECENT] = RecentUpdates()
    return found


def _ignored(update: Update) -> ApplicationHandlerStop:
    log.info("update %s delivered again: ignored", update.update_id)
    return ApplicationHandlerStop()


async def claim(update: Update, context: BotContext) -> None:
    recent = _recent(context.application)
    if not recent.add(update.update_id):
        raise _ignored(update)
    engine = context.bot_data.engine
    if engine is None or engine.dialect.name == "sqlite":  # one process: memory is enough
        return
    try:
        async with engine.begin() as connection:
            first = await claim_update(connection, update.update_id)
    except Exception as exc:  # the error handler tells the person; nothing else replies
        recent.forget(update.update_id)  # not taken on: a copy may try again
        await context.application.process_error(update, exc)
        raise ApplicationHandlerStop from None
    if not first:
        raise _ignored(update)


async def prune(application: Application, now: dt.datetime) -> None:
    """Forget old update ids if the last prune was an hour ago or more. Never raises."""
    extras = application.bot_data.extras
    last = extras.get(_EXTRAS_PRUNED_AT)
    engine = application.bot_data.engine
    if engine is None or (isinstance(last, dt.datetime) and now - last < PRUNE_EVERY):
        return
    try:
        async with engine.begin() as connection:
            removed = await prune_processed_updates(connection, now)
    except Exception:
        log.exception("pruning processed updates failed; the next tick retries")
        return
    extras[_EXTRAS_PRUNED_AT] = now
    if removed:
        log.info("forgot %s processed update ids", removed)


def register(application: Application) -> None:
    application.add_handler(TypeHandler(Update, claim), group=DEDUPE_GROUP)
