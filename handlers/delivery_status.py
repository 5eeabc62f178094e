"""/hr_kirim: how the bot's own messages are going out (HR only).

The outbox figures (queued, sent today in the local day, failed, blocked, uncertain) and
the number of unreachable employees, with buttons to download those employees as XLSX and
to go through the uncertain deliveries (a timeout after the request left: Telegram may or may
not have delivered them), resending or ignoring each, or all at once.

Every button re-checks the HR role (``@require``) and the current state: a row no longer
uncertain, or a bulk button over a list that has changed since it was shown, answers with an
alert and shows the list again. ``callback_data`` (``kirim:…``) never grants anything.
"""

from __future__ import annotations

import datetime as dt
import io
from html import escape

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.i18n import N_, Translator
from bot.menus import Audience
from handlers.access import require, stale_button
from handlers.replies import edit_html, parse_id
from storage.models import utcnow
from storage.repositories.outbox import (
    OutboxRepository,
    UncertainDelivery,
    UnreachableEmployee,
)

COMMAND = "hr_kirim"
PREFIX = "kirim:"
LIST_LIMIT = 8
# (msgid, column width in characters); the last header names the time zone.
XLSX_COLUMNS: tuple[tuple[str, float], ...] = (
    (N_("Name"), 34),
    (N_("NIP"), 21),
    (N_("Work unit"), 34),
    (N_("Blocked since ({zone})"), 22),
)


def _button(text: str, action: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=f"{PREFIX}{action}")


def _zone(t: Translator) -> str:
    return "WIB" if t.timezone.key == "Asia/Jakarta" else t.timezone.key


def _moment(t: Translator, value: dt.datetime) -> str:
    """``12 Jan 2026 09.00 WIB`` in the reader's locale and the configured time zone."""
    day = t.date(t.local(value).date(), style="medium")
    clock = t.time(value)
    return f"{day} {clock}"


def today_start(t: Translator, now: dt.datetime) -> dt.datetime:
    """Midnight of the local (WIB) day containing ``now``, as an aware datetime."""
    local = t.local(now)
    return dt.datetime.combine(local.date(), dt.time(0), tzinfo=t.timezone)


# ---------------------------------------------------------------------------- the figures
async def render_figures(context: BotContext) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    now = utcnow()
    async with context.session() as session:
        repo = OutboxRepository(session)
        counts = await repo.counts_by_status()
        sent_today = await repo.sent_count(today_start(t, now))
        unreachable = await repo.count_unreachable()
    title = t("Outgoing messages")
    as_of = t("As of {time}", time=t.datetime(now))
    lines = [
        f"<b>{escape(title)}</b>",
        escape(t("Queued: {n}", n=t.number(counts["pending"] + counts["sending"]))),
        escape(t("Sent today: {n}", n=t.number(sent_today))),
        escape(t("Failed: {n}", n=t.number(counts["failed"]))),
        escape(t("Blocked: {n}", n=t.number(counts["blocked"]))),
        escape(t("Uncertain: {n}", n=t.number(counts["uncertain"]))),
        escape(t("Unreachable employees: {n}", n=t.number(unreachable))),
        "",
        f"<i>{escape(as_of)}</i>",
    ]
    keyboard = InlineKeyboardMarkup(
        [
            [_button(t("Download unreachable employees"), "xlsx")],
            [
                _button(
                    t("Uncertain deliveries ({n})", n=t.number(counts["uncertain"])),
                    "list",
                )
            ],
            [_button(t("Refresh"), "home")],
        ]
    )
    return "\n".join(lines), keyboard


@require(Audience.HR_ADMIN)
async def show_status(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    text, keyboard = await render_figures(context)
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=keyboard
    )


# ---------------------------------------------------------------------------- unreachable
def unreachable_xlsx(people: list[UnreachableEmployee], t: Translator) -> bytes:
    """One sheet: name, NIP (as text), unit, blocked since (local time, a real date cell)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = t("Unreachable")[:31]
    zone = _zone(t)
    sheet.append([t(header, zone=zone) for header, _ in XLSX_COLUMNS])
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="D9E1F2")
    for index, (_, width) in enumerate(XLSX_COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill = bold, fill
        sheet.column_dimensions[get_column_letter(index)].width = width
    for person in people:
        since = t.local(person.blocked_at).replace(tzinfo=None) if person.blocked_at else None
        sheet.append([person.name, person.nip, person.unit, since])
        row = sheet.max_row
        sheet.cell(row=row, column=2).number_format = "@"
        sheet.cell(row=row, column=4).number_format = "dd/mm/yyyy hh:mm"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def send_unreachable(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    t = context.t
    async with context.session() as session:
        people = await OutboxRepository(session).unreachable_employees()
    if not people:
        await query.answer(t("Every employee can be reached."), show_alert=True)
        return
    await query.answer()
    stamp = t.local(utcnow()).strftime("%Y%m%d-%H%M")
    caption = t.ngettext(
        "{n} employee cannot be reached: they blocked the bot or left the chat.",
        "{n} employees cannot be reached: they blocked the bot or left the chat.",
        len(people),
    )
    await context.bot.send_document(
        query.message.chat.id,
        unreachable_xlsx(people, t),
        filename=f"pegawai-tidak-terjangkau-{stamp}.xlsx",
        caption=caption,
    )


# ---------------------------------------------------------------------------- uncertain
def _recipient(t: Translator, row: UncertainDelivery) -> str:
    if row.recipient:
        return row.recipient
    return t("unknown recipient (chat {chat})", chat=row.chat_id)


async def render_uncertain(context: BotContext) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    async with context.session() as session:
        repo = OutboxRepository(session)
        rows = await repo.uncertain_deliveries(LIST_LIMIT)
        every = await repo.uncertain_ids()
    back = [_button(t("↩ Back"), "home")]
    title = t("Uncertain deliveries")
    if not rows:
        empty = t("No uncertain deliveries.")
        return f"<b>{escape(title)}</b>\n{escape(empty)}", InlineKeyboardMarkup([back])
    explain = t(
        "These messages may or may not have arrived: the connection broke off while they were "
        "sent. Resend them, or ignore the ones the recipient already has."
    )
    lines = [f"<b>{escape(title)}</b> ({escape(t.number(len(every)))})", escape(explain), ""]
    keyboard: list[list[InlineKeyboardButton]] = []
    resend, ignore = t("Resend"), t("Ignore")
    for number, row in enumerate(rows, start=1):
        who = escape(_recipient(t, row))
        when = escape(_moment(t, row.not_before))
        lines.append(f"{number}. <code>{escape(row.kind)}</code> — {who} — {when}")
        keyboard.append(
            [
                _button(f"{number} · {resend}", f"r:{row.id}"),
                _button(f"{number} · {ignore}", f"i:{row.id}"),
            ]
        )
    if len(every) > len(rows):
        lines.append(escape(t("… and {n} more", n=t.number(len(every) - len(rows)))))
    if len(every) > 1:
        # A bulk button covers the uncertain rows up to the newest id shown now, and only
        # while their number is unchanged (else the list changed: stale).
        scope = f"{max(every)}:{len(every)}"
        count = t.number(len(every))
        keyboard.append(
            [
                _button(t("Resend all ({n})", n=count), f"ra:{scope}"),
                _button(t("Ignore all ({n})", n=count), f"ia:{scope}"),
            ]
        )
    keyboard.append(back)
    return "\n".join(lines), InlineKeyboardMarkup(keyboard)


async def _show_list_again(update: Update, context: BotContext, alert: str) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(alert, show_alert=True)
    await edit_html(update, *await render_uncertain(context))


async def resolve_one(update: Update, context: BotContext, outbox_id: int, resend: bool) -> None:
    query = update.callback_query
    assert query is not None
    t = context.t
    async with context.session() as session:
        done = await OutboxRepository(session).resolve_uncertain(outbox_id, resend=resend)
        if done and resend:
            context.after_commit(context.wake_sender)
    if not done:
        await _show_list_again(update, context, t("This button is no longer valid."))
        return
    await query.answer(t("It will be sent again.") if resend else t("Ignored."))
    await edit_html(update, *await render_uncertain(context))


async def resolve_all(
    update: Update, context: BotContext, up_to_id: int, expected: int, resend: bool
) -> None:
    query = update.callback_query
    assert query is not None
    t = context.t
    async with context.session() as session:
        repo = OutboxRepository(session)
        ids = await repo.uncertain_ids(up_to_id)
        done = 0
        if len(ids) == expected:
            for outbox_id in ids:
                done += await repo.resolve_uncertain(outbox_id, resend=resend)
        if done and resend:
            context.after_commit(context.wake_sender)
    if len(ids) != expected:
        await _show_list_again(update, context, t("The list has changed; here it is again."))
        return
    if resend:
        answer = t.ngettext(
            "{n} message will be sent again.", "{n} messages will be sent again.", done
        )
    else:
        answer = t.ngettext("{n} message ignored.", "{n} messages ignored.", done)
    await query.answer(answer)
    await edit_html(update, *await render_uncertain(context))


# ---------------------------------------------------------------------------- buttons
@require(Audience.HR_ADMIN)
async def on_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    action, *parts = query.data.removeprefix(PREFIX).split(":")
    found = [parse_id(part) for part in parts]
    numbers = [number for number in found if number is not None]
    if len(numbers) != len(parts):
        await stale_button(update, context)
        return
    match action, numbers:
        case "home", []:
            await query.answer()
            await edit_html(update, *await render_figures(context))
        case "xlsx", []:
            await send_unreachable(update, context)
        case "list", []:
            await query.answer()
            await edit_html(update, *await render_uncertain(context))
        case (("r" | "i"), [outbox_id]):
            await resolve_one(update, context, outbox_id, resend=action == "r")
        case (("ra" | "ia"), [up_to_id, expected]) if expected > 0:
            await resolve_all(update, context, up_to_id, expected, resend=action == "ra")
        case _:
            await stale_button(update, context)


def register(application: Application) -> None:
    application.add_handler(
        CommandHandler(COMMAND, show_status, filters=filters.UpdateType.MESSAGE)
    )
    application.add_handler(CallbackQueryHandler(on_button, pattern=f"^{PREFIX}"))
