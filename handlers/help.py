"""/help: only the commands this person may use."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, filters

from bot.context import BotContext
from bot.i18n import Translator
from bot.menus import commands_for
from storage.repositories import Account


def command_list(account: Account | None, t: Translator) -> str:
    lines = [escape(t("What you can do:"))]
    lines += [f"/{c.name} — {escape(t(c.description))}" for c in commands_for(account)]
    return "\n".join(lines)


async def show_help(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        command_list(context.account, context.t), parse_mode=ParseMode.HTML
    )


def register(application: Application) -> None:
    application.add_handler(
        CommandHandler(["help", "bantuan"], show_help, filters=filters.UpdateType.MESSAGE)
    )
