"""First group: an update delivered twice (the same ``update_id``) is handled once.

Telegram sends an update again when it did not see it confirmed (a ``getUpdates`` offset
never sent because the bot died, a lost webhook answer). Before any other handler, the
update's id is claimed in ``processed_updates`` in a short transaction of its own (one
``INSERT … ON CONFLICT DO NOTHING``); when the id is already there the update stops here.
Claiming first also covers two copies handled at the same time (``concurrent_updates``).
If the claim fails (the database is down) the error handler tells the person once and
nothing else runs for that update.

The scheduler's tick calls :func:`prune` to forget ids older than a week, at most once an
hour.
"""

from __future__ import annotations

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


async def claim(update: Update, context: BotContext) -> None:
    engine = context.bot_data.engine
    if engine is None:  # the database is not open: nothing to remember with
        return
    try:
        async with engine.begin() as connection:
            first = await claim_update(connection, update.update_id)
    except Exception as exc:  # the error handler tells the person; nothing else replies
        await context.application.process_error(update, exc)
        raise ApplicationHandlerStop from None
    if not first:
        log.info("update %s delivered again: ignored", update.update_id)
        raise ApplicationHandlerStop


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
