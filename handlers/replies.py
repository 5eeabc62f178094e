"""Sending and editing HTML messages with inline buttons, shared by the capabilities."""

from __future__ import annotations

__all__ = ["Buttons", "edit_html", "markup", "send_html"]

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.context import BotContext
from bot.trainings import Buttons  # rows of (label, callback_data): a keyboard as plain data


def markup(rows: Buttons) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


async def edit_html(
    update: Update, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Edit the message whose button was pressed; an unchanged message is not an error."""
    assert update.callback_query is not None
    try:
        await update.callback_query.edit_message_text(
            text, parse_mode=ParseMode.HTML, reply_markup=reply_markup
        )
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


async def send_html(
    update: Update,
    context: BotContext,
    text: str,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> None:
    """A new HTML message in the chat of the update."""
    assert update.effective_chat is not None
    await context.bot.send_message(
        update.effective_chat.id, text, parse_mode=ParseMode.HTML, reply_markup=reply_markup
    )
