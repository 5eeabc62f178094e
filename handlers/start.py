"""/start: greet the person; a linked employee is greeted by name and position."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, filters

from bot.context import BotContext
from bot.menus import publish_chat_menu
from handlers.help import command_list


def bold(text: str) -> str:
    return f"<b>{escape(text)}</b>"


async def start(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    t, account = context.t, context.account
    if account is None or not account.linked:
        text = "\n\n".join(
            [
                bold(t("Welcome to the ASN Transfer & Performance bot of Kota Bukittinggi.")),
                t(
                    "Your Telegram account is not linked to an employee record yet. "
                    "Until it is, please contact {hr_contact}.",
                    hr_contact=escape(context.settings.hr_contact),
                ),
                command_list(account, t),
            ]
        )
    else:
        text = "\n\n".join(
            [
                t(
                    "Welcome back, {name}.",
                    name=bold(account.name or ""),
                ),
                t(
                    "{position}, {unit}",
                    position=escape(account.position or "-"),
                    unit=escape(account.unit or "-"),
                ),
                command_list(account, t),
            ]
        )
        await publish_chat_menu(context.bot, update.effective_message.chat_id, account, t)
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML)


def register(application: Application) -> None:
    application.add_handler(CommandHandler("start", start, filters=filters.UpdateType.MESSAGE))
