"""The error handler: log with the update, tell the person something went wrong."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, OperationalError
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.context import BotContext

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    # Only identifiers: updates carry personal data (names, phone numbers, feedback).
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if context.bot_data.settings is None:
        return
    if _database_unreachable(context.error):
        text = context.t("The service is having a disruption. Please try again in a few minutes.")
    else:
        text = context.t("Sorry, something went wrong on our side. Please try again.")
    try:
        await context.bot.send_message(update.effective_chat.id, text)
    except TelegramError:
        log.warning("could not tell chat %s about the error", update.effective_chat.id)


def _database_unreachable(error: BaseException | None) -> bool:
    """A database error, or a connection the driver could not make (asyncpg raises a bare
    ``ConnectionRefusedError`` while the server is down; SQLAlchemy does not wrap it).
    Telegram's own network errors are not ``OSError`` and stay the generic case."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, TelegramError):  # its causes are Telegram's connection, not ours
            return False
        if isinstance(error, OperationalError | DBAPIError | ConnectionError):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def register(application: Application) -> None:
    application.add_error_handler(on_error)
