"""/saya: the linked employee's own card."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, filters

from bot.context import BotContext
from bot.menus import Audience
from handlers.access import require
from handlers.cards import render_card
from storage.repositories import EmployeeDirectory


@require(Audience.LINKED)
async def my_card(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None and context.account is not None
    assert context.account.employee_id is not None
    async with context.session() as session:
        card = await EmployeeDirectory(session).card(context.account.employee_id)
    assert card is not None
    await update.effective_message.reply_text(
        render_card(card, context.t, for_hr=False), parse_mode=ParseMode.HTML
    )


def register(application: Application) -> None:
    application.add_handler(
        CommandHandler(["saya", "profil"], my_card, filters=filters.UpdateType.MESSAGE)
    )
