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
    if isinstance(context.error, OperationalError | DBAPIError):
        text = context.t("The service is having a disruption. Please try again in a few minutes.")
    else:
        text = context.t("Sorry, something went wrong on our side. Please try again.")
    try:
        await context.bot.send_message(update.effective_chat.id, text)
    except TelegramError:
        log.warning("could not tell chat %s about the error", update.effective_chat.id)


def register(application: Application) -> None:
    application.add_error_handler(on_error)
