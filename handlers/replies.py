"""Sending and editing HTML messages with inline buttons, shared by the capabilities."""

from __future__ import annotations

__all__ = ["Buttons", "button_router", "edit_html", "markup", "parse_id", "send_html"]

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.context import BotContext
from bot.trainings import Buttons  # rows of (label, callback_data): a keyboard as plain data
from handlers.access import stale_button


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


ButtonAction = Callable[[Update, BotContext, list[Any]], Awaitable[None]]
# Ids in the database are 32-bit integers: a larger number in a button (forged, or from
# nowhere) is no id at all, and PostgreSQL would refuse it in a query.
MAX_ID = 2**31 - 1


def parse_id(text: str) -> int | None:
    """The number a button names, if it can be an id (digits, 0 … MAX_ID); else ``None``."""
    if not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def button_router(
    pattern: re.Pattern[str], actions: Mapping[str, ButtonAction], *, numbers: bool = False
) -> Callable[[Update, BotContext], Awaitable[None]]:
    """One callback for a capability's buttons: ``pattern`` captures the action name and
    ``:``-separated arguments (``numbers``: as integers); anything else is a stale button."""

    async def route(update: Update, context: BotContext) -> None:
        query = update.callback_query
        assert query is not None
        match = pattern.match(query.data or "")
        action = actions.get(match[1]) if match is not None else None
        if match is None or action is None:
            await stale_button(update, context)
            return
        parts = [part for part in match[2].split(":") if part]
        args: list[Any] = parts
        if numbers:
            ids = [parse_id(part) for part in parts]
            if any(value is None for value in ids):
                await stale_button(update, context)
                return
            args = ids
        await action(update, context, args)

    return route
