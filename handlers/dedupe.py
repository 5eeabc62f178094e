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

On PostgreSQL the end of an update's handlers is recorded too (:func:`finish`, called by
``bot.app.BotApplication`` after each update). In webhook mode (:mod:`bot.webhook`) the
update is taken on before its handlers run (:func:`take_on`), which tells a copy of an
update another process has finished (answer 200, nothing to do) from one it is still
handling (answer 503: Telegram sends it again later). A copy of an update left unfinished
for ``STALE`` (its process died half-way) is taken over and handled: an update is lost
neither when a process dies nor when the load balancer sends it twice. ``STALE`` is longer
than any handler takes (an import of 10,000 rows takes seconds).

The scheduler's hourly housekeeping calls :func:`prune` to forget claimed ids older than a
week.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.context import BotContext
from storage.models import utcnow
from storage.repositories.updates import (
    BUSY,
    DONE,
    NEW,
    claim_update,
    finish_update,
    prune_processed_updates,
)
from storage.repositories.updates import take_on as take_on_in_database

log = logging.getLogger(__name__)

DEDUPE_GROUP = -3  # before the conversation router (-2) and the account group (-1)
_EXTRAS_RECENT = "recent_updates"
RECENT = 10_000  # ids kept in memory: far more than can arrive twice within minutes
STALE = dt.timedelta(seconds=60)
_EXTRAS_TAKEN = "updates_taken_on"  # taken on by the webhook, before the handlers
_EXTRAS_UNFINISHED = "updates_unfinished"  # claimed in the database, end not recorded yet


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


def _ids(application: Application, key: str) -> set[int]:
    extras = application.bot_data.extras
    found = extras.get(key)
    if not isinstance(found, set):
        found = extras[key] = set()
    return found


def _shared(application: Application) -> bool:
    """Whether other processes may share the updates (PostgreSQL)."""
    engine = application.bot_data.engine
    return engine is not None and engine.dialect.name != "sqlite"


async def take_on(application: Application, update_id: int) -> str:
    """Webhook mode, before the handlers: ``new`` (handle it), ``done`` (handled already,
    here or by another process) or ``busy`` (another process is handling it). Raises when
    the database cannot be reached (the webhook answers 503: Telegram tries again)."""
    recent = _recent(application)
    if not recent.add(update_id):
        return DONE  # this process has it: finished, or it will be
    if _shared(application):
        engine = application.bot_data.engine
        assert engine is not None
        try:
            async with engine.begin() as connection:
                verdict = await take_on_in_database(connection, update_id, utcnow(), STALE)
        except Exception:
            recent.forget(update_id)
            raise
        if verdict != NEW:
            if verdict == BUSY:  # should its process die, a later copy looks again
                recent.forget(update_id)
            log.info("update %s delivered again: %s elsewhere", update_id, verdict)
            return verdict
        _ids(application, _EXTRAS_UNFINISHED).add(update_id)
    _ids(application, _EXTRAS_TAKEN).add(update_id)
    return NEW


async def finish(application: Application, update_id: int) -> None:
    """Record that the handlers of an update this process claimed are done. Never raises."""
    unfinished = _ids(application, _EXTRAS_UNFINISHED)
    if update_id not in unfinished:
        return
    unfinished.discard(update_id)
    engine = application.bot_data.engine
    if engine is None:
        return
    try:
        async with engine.begin() as connection:
            await finish_update(connection, update_id)
    except Exception:  # a copy would wait STALE, then be handled again
        log.warning("update %s: could not record its end", update_id)


def _ignored(update: Update) -> ApplicationHandlerStop:
    log.info("update %s delivered again: ignored", update.update_id)
    return ApplicationHandlerStop()


async def claim(update: Update, context: BotContext) -> None:
    taken = _ids(context.application, _EXTRAS_TAKEN)
    if update.update_id in taken:  # the webhook took it on already
        taken.discard(update.update_id)
        return
    recent = _recent(context.application)
    if not recent.add(update.update_id):
        raise _ignored(update)
    engine = context.bot_data.engine
    if engine is None or not _shared(context.application):  # one process: memory is enough
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
    _ids(context.application, _EXTRAS_UNFINISHED).add(update.update_id)


async def prune(application: Application, now: dt.datetime) -> None:
    """Forget update ids older than a week (the scheduler's hourly housekeeping)."""
    engine = application.bot_data.engine
    if engine is None or not _shared(application):  # SQLite keeps the ids in memory only
        return
    async with engine.begin() as connection:
        removed = await prune_processed_updates(connection, now)
    if removed:
        log.info("forgot %s processed update ids", removed)


def register(application: Application) -> None:
    application.add_handler(TypeHandler(Update, claim), group=DEDUPE_GROUP)
