"""HR's employee directory: /cari, cards, /hr_lepas (unlink) and /hr_admin (role).

Every button is re-checked on the server: the HR role of the presser, the target
employee from the database, the current state (a stale button does nothing).
"""

from __future__ import annotations

from html import escape

from telegram import (
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.i18n import get_translator
from bot.menus import Audience, publish_chat_menu
from bot.notify import notify_employee
from bot.rules.nip import normalize_nip
from handlers.access import require, stale_button
from handlers.cards import render_card
from handlers.replies import parse_id
from storage.repositories import (
    AccountRepository,
    EmployeeCard,
    EmployeeDirectory,
    EmployeeRepository,
    LinkRepository,
)

PREFIX = "hr:"
MAX_RESULTS = 10
# action -> needs a confirmation step first
ACTIONS = {"card", "unlink", "unlink!", "grant", "grant!", "revoke", "revoke!"}


def _button(text: str, action: str, employee_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=f"{PREFIX}{action}:{employee_id}")


def card_keyboard(card: EmployeeCard, context: BotContext) -> InlineKeyboardMarkup | None:
    t, me = context.t, context.account
    rows = []
    if card.telegram_user_id is not None:
        rows.append([_button(t("🔓 Unlink Telegram account"), "unlink", card.id)])
    if card.is_hr_admin:
        if me is None or me.employee_id != card.id:  # nobody withdraws their own role
            rows.append([_button(t("✖ Withdraw HR admin role"), "revoke", card.id)])
    elif card.active:
        rows.append([_button(t("⭐ Make HR admin"), "grant", card.id)])
    return InlineKeyboardMarkup(rows) if rows else None


def confirm_keyboard(context: BotContext, action: str, employee_id: int) -> InlineKeyboardMarkup:
    t = context.t
    return InlineKeyboardMarkup(
        [
            [
                _button(t("✅ Yes"), f"{action}!", employee_id),
                _button(t("↩ Back"), "card", employee_id),
            ]
        ]
    )


def confirm_text(card: EmployeeCard, context: BotContext, action: str) -> str:
    t = context.t
    name = f"<b>{escape(card.name)}</b>"
    questions = {
        "unlink": t("Unlink the Telegram account of {name}? They will be told.", name=name),
        "grant": t("Make {name} an HR admin? They will see all data.", name=name),
        "revoke": t("Withdraw the HR admin role from {name}?", name=name),
    }
    return questions[action]


async def _card_by_nip(update: Update, context: BotContext) -> EmployeeCard | None:
    """The card of the NIP after the command, or a reply saying what is wrong."""
    assert update.effective_message is not None
    t = context.t
    if not context.args:
        await update.effective_message.reply_text(
            t("Please add the NIP, for example: /{command} 198609262015051001",
              command=(update.effective_message.text or "/").split()[0][1:].split("@")[0])
        )  # fmt: skip
        return None
    nip = normalize_nip("".join(context.args))
    async with context.session() as session:
        card = await EmployeeDirectory(session).card_by_nip(nip)
    if card is None:
        await update.effective_message.reply_text(t("No employee has NIP {nip}.", nip=nip))
    return card


@require(Audience.HR_ADMIN)
async def search(update: Update, context: BotContext) -> None:
    message = update.effective_message
    assert message is not None
    t = context.t
    text = " ".join(context.args or []).strip()
    if len(text) < 3:
        await message.reply_text(
            t("Send /cari followed by a NIP or at least 3 letters of a name, e.g. /cari rahmat")
        )
        return
    async with context.session() as session:
        found = await EmployeeDirectory(session).search(text, limit=MAX_RESULTS + 1)
    if not found:
        await message.reply_text(t("Nobody matches “{text}”.", text=text))
        return
    if len(found) == 1:
        card = found[0]
        await message.reply_text(
            render_card(card, t, for_hr=True),
            parse_mode=ParseMode.HTML,
            reply_markup=card_keyboard(card, context),
        )
        return
    header = t("Results for “{text}”:", text=text)
    if len(found) > MAX_RESULTS:
        header += "\n" + t("Only the first {n} are shown; type more of the name.", n=MAX_RESULTS)
    buttons = [
        [_button(f"{card.name} — {card.unit}"[:60], "card", card.id)]
        for card in found[:MAX_RESULTS]
    ]
    await message.reply_text(header, reply_markup=InlineKeyboardMarkup(buttons))


@require(Audience.HR_ADMIN)
async def unlink_command(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    card = await _card_by_nip(update, context)
    if card is None:
        return
    if card.telegram_user_id is None:
        await update.effective_message.reply_text(
            context.t("{name} has no linked Telegram account.", name=card.name)
        )
        return
    await update.effective_message.reply_text(
        confirm_text(card, context, "unlink"),
        parse_mode=ParseMode.HTML,
        reply_markup=confirm_keyboard(context, "unlink", card.id),
    )


@require(Audience.HR_ADMIN)
async def role_command(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    card = await _card_by_nip(update, context)
    if card is None:
        return
    await update.effective_message.reply_text(
        render_card(card, context.t, for_hr=True),
        parse_mode=ParseMode.HTML,
        reply_markup=card_keyboard(card, context),
    )


@require(Audience.HR_ADMIN)
async def on_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and context.account is not None
    action, _, raw_id = query.data.removeprefix(PREFIX).partition(":")
    employee_id = parse_id(raw_id)
    if action not in ACTIONS or employee_id is None:
        await stale_button(update, context)
        return
    async with context.session() as session:
        card = await EmployeeDirectory(session).card(employee_id)
    if card is None:
        await stale_button(update, context)
        return
    t = context.t
    if action == "card":
        await query.answer()
        await query.edit_message_text(
            render_card(card, t, for_hr=True),
            parse_mode=ParseMode.HTML,
            reply_markup=card_keyboard(card, context),
        )
        return
    allowed = {
        "unlink": card.telegram_user_id is not None,
        "grant": not card.is_hr_admin and card.active,
        "revoke": card.is_hr_admin and card.id != context.account.employee_id,
    }
    base = action.rstrip("!")
    if not allowed[base]:
        await stale_button(update, context)
        return
    if not action.endswith("!"):
        await query.answer()
        await query.edit_message_text(
            confirm_text(card, context, base),
            parse_mode=ParseMode.HTML,
            reply_markup=confirm_keyboard(context, base, card.id),
        )
        return
    await (_do_unlink if base == "unlink" else _do_role)(update, context, card, base)


async def _do_unlink(update: Update, context: BotContext, card: EmployeeCard, _: str) -> None:
    query = update.callback_query
    assert query is not None and context.account is not None
    target_t = get_translator(card.language, context.settings.timezone)
    async with context.session() as session:
        telegram_user_id = await LinkRepository(session).unlink(
            card.id, actor_id=context.account.employee_id, actor_label="telegram"
        )
        if telegram_user_id is not None:
            await notify_employee(
                session,
                context,
                key=f"unlinked:{card.id}:{telegram_user_id}:{query.id}",
                chat_id=telegram_user_id,
                employee_id=card.id,
                text=target_t.gettext(
                    "Your Telegram account has been unlinked from your employee record by HR. "
                    "To link it again, send /start."
                ),
            )
    if telegram_user_id is None:
        await stale_button(update, context)
        return
    try:
        await context.bot.delete_my_commands(scope=BotCommandScopeChat(telegram_user_id))
    except TelegramError:
        pass  # the default menu applies anyway once the chat menu is gone
    await query.answer()
    await query.edit_message_text(
        context.t(
            "The Telegram account of {name} is unlinked.", name=f"<b>{escape(card.name)}</b>"
        ),
        parse_mode=ParseMode.HTML,
    )


async def _do_role(update: Update, context: BotContext, card: EmployeeCard, base: str) -> None:
    query = update.callback_query
    assert query is not None and context.account is not None
    granted = base == "grant"
    target_t = get_translator(card.language, context.settings.timezone)
    async with context.session() as session:
        repository = EmployeeRepository(session)
        employee = await repository.by_id(card.id)
        assert employee is not None
        changed = await repository.set_hr_admin(
            employee, granted, actor_id=context.account.employee_id, actor_label="telegram"
        )
        if changed and card.telegram_user_id is not None:
            await notify_employee(
                session,
                context,
                key=f"role:{card.id}:{base}:{query.id}",
                chat_id=card.telegram_user_id,
                employee_id=card.id,
                text=target_t.gettext("You are now an HR admin (BKPSDM) in this bot. Send /help.")
                if granted
                else target_t.gettext("Your HR admin role in this bot has been withdrawn."),
            )
        target = (
            await AccountRepository(session).load(card.telegram_user_id)
            if card.telegram_user_id is not None
            else None
        )
    if not changed:
        await stale_button(update, context)
        return
    if target is not None and card.telegram_user_id is not None:
        await publish_chat_menu(context.bot, card.telegram_user_id, target, target_t)
    name = f"<b>{escape(card.name)}</b>"
    await query.answer()
    await query.edit_message_text(
        context.t("{name} is now an HR admin.", name=name)
        if granted
        else context.t("{name} is no longer an HR admin.", name=name),
        parse_mode=ParseMode.HTML,
    )


def register(application: Application) -> None:
    message = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("cari", search, filters=message))
    application.add_handler(CommandHandler("hr_lepas", unlink_command, filters=message))
    application.add_handler(CommandHandler("hr_admin", role_command, filters=message))
    application.add_handler(CallbackQueryHandler(on_button, pattern=f"^{PREFIX}"))
