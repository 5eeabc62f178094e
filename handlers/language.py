"""/bahasa: choose Bahasa Indonesia or English; the choice is stored, the menu follows."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.i18n import SUPPORTED_LANGUAGES
from bot.menus import publish_chat_menu
from handlers.access import stale_button
from storage.repositories import AccountRepository

CALLBACK_PREFIX = "bahasa:"
LANGUAGE_NAMES = {"id": "🇮🇩 Bahasa Indonesia", "en": "🇬🇧 English"}


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(LANGUAGE_NAMES[code], callback_data=CALLBACK_PREFIX + code)]
            for code in SUPPORTED_LANGUAGES
        ]
    )


async def ask_language(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        context.t("Choose your language:"), reply_markup=language_keyboard()
    )


async def choose_language(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    # callback_data comes from the client: accept only a language we ship.
    code = query.data.removeprefix(CALLBACK_PREFIX)
    if code not in SUPPORTED_LANGUAGES:
        await stale_button(update, context)
        return
    async with context.session() as session:
        await AccountRepository(session).set_language(update.effective_user.id, code)
    context.use_language(code)
    t = context.t
    await query.answer()
    await query.edit_message_text(t("Language set to English."))
    if context.account is not None and context.account.linked and query.message is not None:
        await publish_chat_menu(context.bot, query.message.chat.id, context.account, t)


def register(application: Application) -> None:
    application.add_handler(
        CommandHandler(["bahasa", "language"], ask_language, filters=filters.UpdateType.MESSAGE)
    )
    application.add_handler(CallbackQueryHandler(choose_language, pattern=f"^{CALLBACK_PREFIX}"))
