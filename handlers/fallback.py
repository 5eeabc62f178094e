"""Whatever no capability understood: a short, polite pointer to /help."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.context import BotContext
from handlers.access import stale_button


async def unknown_command(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        context.t("Sorry, I do not know that command. Send /help to see what you can do.")
    )


async def unknown_message(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        context.t("Sorry, I did not understand that. Send /help to see what you can do.")
    )


def register(application: Application) -> None:
    private_messages = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
    application.add_handler(MessageHandler(private_messages & filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(private_messages, unknown_message))
    application.add_handler(CallbackQueryHandler(stale_button))
