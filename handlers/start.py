"""/start and linking: by shared phone number (one-tap button) or activation code.

``/start`` from an unknown person greets them and asks for their phone number;
``/start CODE`` (also the deep link ``t.me/<bot>?start=CODE``) redeems an activation
code; a shared contact links by phone. A linked employee is greeted by name.
"""

from __future__ import annotations

from html import escape

from telegram import (
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.context import BotContext
from bot.linking import LinkResult, LinkStatus, link_by_code, link_by_phone
from bot.menus import publish_chat_menu
from handlers.help import command_list
from storage.repositories import AccountRepository


def bold(text: str) -> str:
    return f"<b>{escape(text)}</b>"


def contact_keyboard(context: BotContext) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(context.t("📱 Share my phone number"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder=context.t("Tap the button below"),
    )


def greeting(context: BotContext, *, just_linked: bool = False) -> str:
    t, account = context.t, context.account
    assert account is not None and account.linked
    first = (
        t("Your account is now linked. Welcome, {name}.", name=bold(account.name or ""))
        if just_linked
        else t("Welcome back, {name}.", name=bold(account.name or ""))
    )
    where = t(
        "{position}, {unit}",
        position=escape(account.position or "-"),
        unit=escape(account.unit or "-"),
    )
    return "\n\n".join([first, where, command_list(account, t)])


async def ask_for_phone(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    t = context.t
    text = "\n\n".join(
        [
            bold(t("Welcome to the ASN Transfer & Performance bot of Kota Bukittinggi.")),
            escape(
                t(
                    "To link your account, tap «Share my phone number» below. "
                    "It must be the number registered with {hr_contact}.",
                    hr_contact=context.settings.hr_contact,
                )
            ),
            escape(t("Received an activation code from HR? Send /start followed by the code.")),
        ]
    )
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=contact_keyboard(context)
    )


async def report_link_result(update: Update, context: BotContext, result: LinkResult) -> None:
    """Tell the person how their attempt went, without revealing what exists."""
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    t = context.t
    if result.status is LinkStatus.LINKED:
        async with context.session() as session:
            context.account = await AccountRepository(session).load(update.effective_user.id)
        context.use_language(context.language)
        await message.reply_text(
            greeting(context, just_linked=True),
            parse_mode=ParseMode.HTML,
            reply_markup=ReplyKeyboardRemove(),
        )
        await publish_chat_menu(context.bot, message.chat_id, context.account, context.t)
        return
    if result.status is LinkStatus.RATE_LIMITED:
        assert result.retry_at is not None
        local = t.local(result.retry_at)
        when = (
            t.time(local)
            if local.date() == t.local(message.date).date()
            else t.datetime(result.retry_at)
        )
        await message.reply_text(
            t(
                "Too many unsuccessful attempts. For your security, please try again after {when}.",
                when=when,
            ),
            reply_markup=ReplyKeyboardRemove(),
        )
        return
    if result.status is LinkStatus.NOT_OWN_CONTACT:
        text = t("Please share your own phone number with the button below, not someone else's.")
    elif result.status is LinkStatus.EMPLOYEE_TAKEN and update.effective_message.contact:
        text = t(
            "The employee record for this number is already linked to another Telegram "
            "account. If that was not you, please contact {hr_contact} right away.",
            hr_contact=context.settings.hr_contact,
        )
    else:
        text = t(
            "Sorry, your account could not be linked with that. Make sure your phone number is "
            "the one registered with {hr_contact}, or ask them for an activation code.",
            hr_contact=context.settings.hr_contact,
        )
    if result.attempts_left > 0:
        text += "\n" + t.ngettext(
            "{n} attempt left this hour.", "{n} attempts left this hour.", result.attempts_left
        )
    await message.reply_text(text, reply_markup=contact_keyboard(context))


async def start(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None and update.effective_user is not None
    account = context.account
    if account is not None and account.linked:
        await update.effective_message.reply_text(
            greeting(context), parse_mode=ParseMode.HTML, reply_markup=ReplyKeyboardRemove()
        )
        await publish_chat_menu(context.bot, update.effective_message.chat_id, account, context.t)
        return
    if not context.args:
        await ask_for_phone(update, context)
        return
    async with context.session() as session:
        result = await link_by_code(session, update.effective_user.id, "".join(context.args))
    await report_link_result(update, context, result)


async def shared_contact(update: Update, context: BotContext) -> None:
    message = update.effective_message
    assert message is not None and message.contact is not None
    assert update.effective_user is not None
    account = context.account
    if account is not None and account.linked:
        await message.reply_text(
            context.t(
                "This Telegram account is already linked to {name}.", name=account.name or ""
            ),
            reply_markup=ReplyKeyboardRemove(),
        )
        return
    async with context.session() as session:
        result = await link_by_phone(
            session, update.effective_user.id, message.contact.user_id, message.contact.phone_number
        )
    await report_link_result(update, context, result)


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("start", start, filters=private))
    application.add_handler(MessageHandler(private & filters.CONTACT, shared_contact))
