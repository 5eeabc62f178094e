"""/status (alias /mutasi): a linked ASN follows their own transfers (mutasi).

Each active mutation (not ``selesai`` / ``dibatalkan``) is one card (``bot.mutations.card_html``),
newest first, after a short heading when there are several. The **Riwayat** button
(``mut:riwayat``) lists the finished and cancelled ones. Without an active mutation the reader
is told so politely and whom to ask (``HR_CONTACT``); the button is still there when they have
past ones.

The button carries no id: whoever presses it sees their own history, and whether they are
still linked is read from the database again (``@require``). Everything stays in private
chats: the history goes to the presser's own chat, never to a group. Every message is kept
under Telegram's 4096 characters: a long card is cut at a line boundary (each line of a card
is well-formed HTML on its own), the history shows at most ``HISTORY_SHOWN`` entries and says
how many more there are.
"""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.i18n import Translator
from bot.menus import Audience
from bot.mutations import MESSAGE_MAX, card_html, clip_lines, history_line
from handlers.access import require
from storage.repositories.mutations import MutationRepository, MutationView

HISTORY = "mut:riwayat"
HISTORY_SHOWN = 10  # past mutations listed at most


def history_button(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t("📜 History"), callback_data=HISTORY)]])


def no_active_text(t: Translator, hr_contact: str) -> str:
    """Plain text: nothing in process, and whom to ask."""
    return t(
        "You have no transfer (mutasi) in process at the moment. "
        "For questions about transfers, please contact {hr_contact}.",
        hr_contact=hr_contact,
    )


def several_heading(t: Translator, count: int) -> str:
    """Plain text: the line above several cards."""
    return t.ngettext(
        "Your transfer in process:",
        "Your {n} transfers in process, newest first:",
        count,
    )


def history_html(past: list[MutationView], t: Translator, limit: int = MESSAGE_MAX) -> str:
    """The finished and cancelled mutations, most recently ended first: at most
    ``HISTORY_SHOWN`` of them, as many as fit in ``limit``, then how many were left out."""
    ordered = sorted(past, key=lambda view: (view.stage_changed_at, view.id), reverse=True)
    heading = t("Your past transfers:")
    text = f"<b>{escape(heading)}</b>"
    shown = 0
    for view in ordered[:HISTORY_SHOWN]:
        remaining = len(ordered) - shown - 1
        more = _more_line(t, remaining) if remaining else ""
        candidate = f"{text}\n\n{history_line(view, t)}"
        if len(candidate) + len(more) + 2 > limit:
            break
        text, shown = candidate, shown + 1
    if shown < len(ordered):
        text += "\n\n" + _more_line(t, len(ordered) - shown)
    return clip_lines(text, limit)


def _more_line(t: Translator, count: int) -> str:
    more = t.ngettext(
        "… and {n} earlier transfer not shown.", "… and {n} earlier transfers not shown.", count
    )
    return f"<i>{escape(more)}</i>"


@require(Audience.LINKED)
async def my_status(update: Update, context: BotContext) -> None:
    """/status, /mutasi: the reader's active mutations, one card each."""
    message, account = update.effective_message, context.account
    assert message is not None and account is not None and account.employee_id is not None
    t, hr_contact = context.t, context.settings.hr_contact
    async with context.session() as session:
        views = await MutationRepository(session).for_employee(account.employee_id)
    active = [view for view in views if view.active]
    has_past = len(active) < len(views)
    if not active:
        await message.reply_text(
            no_active_text(t, hr_contact), reply_markup=history_button(t) if has_past else None
        )
        return
    if len(active) > 1:
        await message.reply_text(several_heading(t, len(active)))
    for index, view in enumerate(active):
        last = index == len(active) - 1
        await message.reply_text(
            clip_lines(card_html(view, t, hr_contact=hr_contact)),
            parse_mode=ParseMode.HTML,
            reply_markup=history_button(t) if last else None,
        )


@require(Audience.LINKED)
async def my_history(update: Update, context: BotContext) -> None:
    """Riwayat: the presser's own finished and cancelled mutations (the button names none)."""
    query, user, account = update.callback_query, update.effective_user, context.account
    assert query is not None and user is not None
    assert account is not None and account.employee_id is not None
    t = context.t
    async with context.session() as session:
        past = await MutationRepository(session).for_employee(account.employee_id, active=False)
    await query.answer()
    if not past:
        await context.bot.send_message(user.id, t("You have no past transfers."))
        return
    await context.bot.send_message(user.id, history_html(past, t), parse_mode=ParseMode.HTML)


def register(application: Application) -> None:
    private = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
    application.add_handler(CommandHandler(["status", "mutasi"], my_status, filters=private))
    application.add_handler(CallbackQueryHandler(my_history, pattern=f"^{HISTORY}$"))
