"""/hr_siaran for HR (BKPSDM): the announcements with their figures, and what to do with one.

``/hr_siaran`` lists the latest :data:`SHOWN` announcements (number, when, audience,
status, sent/failed/blocked) with a button each. An announcement's view shows what it says,
to whom, when, and its figures, with:

* **Batalkan** (scheduled or sending): asks once more, then stops every message not yet
  handed to Telegram (``siaran:cancel:{id}`` → ``siaran:stop:{id}``); the messages already
  in flight (at most about a second's worth) still arrive;
* **Unduh**: the XLSX of every recipient and their delivery state (``siaran:xlsx:{id}``);
* **Kirim ulang yang gagal** (finished, with failed messages, not resent before): the
  failed ones once more, once (``siaran:resend:{id}``).

The same buttons appear on HR's progress message and final report. Every press is checked
on the server: HR role read for every update, the announcement's state read again; a stale
or forged press changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.announcements import (
    BUTTON_PREFIX,
    STATE_LABELS,
    STATUS_LABELS,
    audience_label,
    cancel,
    content_summary,
    figures_line,
    refresh_progress,
    report_buttons,
    resend_failed,
    skipped_line,
)
from bot.context import BotContext
from bot.delivery import application_now
from bot.menus import Audience
from handlers.access import require, stale_button
from handlers.replies import Buttons, button_router, edit_html, markup, send_html
from storage.exports.announcements import file_name, recipients_workbook
from storage.repositories.announcements import (
    SCHEDULED,
    SENDING_NOW,
    AnnouncementInfo,
    AnnouncementRepository,
    Figures,
)

SHOWN = 8
_BUTTON = re.compile(r"^siaran:(list|show|cancel|stop|xlsx|resend)((?::\d{1,18})?)$")


def _when(context: BotContext, info: AnnouncementInfo) -> str:
    t = context.t
    local = t.local(info.send_at)
    return f"{t.date(local.date(), style='medium')} {t.time(info.send_at)}"


def _status(context: BotContext, info: AnnouncementInfo) -> str:
    return context.t(STATUS_LABELS.get(info.status, info.status))


async def _unit_names(context: BotContext, infos: list[AnnouncementInfo]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    async with context.session() as session:
        repository = AnnouncementRepository(session)
        for info in infos:
            names[info.id] = await repository.unit_names(info.audience.get("unit_ids", []))
    return names


async def list_view(context: BotContext) -> tuple[str, InlineKeyboardMarkup | None]:
    t = context.t
    async with context.session() as session:
        repository = AnnouncementRepository(session)
        infos = await repository.recent(SHOWN)
        figures = await repository.figures([info.id for info in infos])
    if not infos:
        return escape(t("No announcements yet. Write one with /hr_umumkan.")), None
    units = await _unit_names(context, infos)
    lines = ["<b>" + escape(t("📣 Announcements")) + "</b>"]
    rows: Buttons = []
    for info in infos:
        figure = figures[info.id]
        lines += [
            "",
            f"<b>{escape(f'#{info.id} · {_when(context, info)} · {_status(context, info)}')}</b>",
            escape(audience_label(t, info.audience, units[info.id])),
            content_summary(t, info.content),
            escape(figures_line(t, figure)),
        ]
        rows.append([(t("#{id}: open", id=info.id), f"{BUTTON_PREFIX}show:{info.id}")])
    return "\n".join(lines), markup(rows)


def _actions(context: BotContext, info: AnnouncementInfo, figures: Figures) -> Buttons:
    t = context.t
    rows: Buttons = []
    if info.status in (SCHEDULED, SENDING_NOW):
        rows.append([(t("✖ Cancel the announcement"), f"{BUTTON_PREFIX}cancel:{info.id}")])
    rows += report_buttons(t, info, figures)
    rows.append([(t("↩️ All announcements"), f"{BUTTON_PREFIX}list")])
    return rows


async def detail_view(
    context: BotContext, announcement_id: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    t = context.t
    async with context.session() as session:
        repository = AnnouncementRepository(session)
        info = await repository.get(announcement_id)
        if info is None:
            return None
        figures = (await repository.figures([info.id]))[info.id]
        units = await repository.unit_names(info.audience.get("unit_ids", []))
    lines = [
        "<b>"
        + escape(
            t(
                "📣 Announcement #{id} ({status})",
                id=info.id,
                status=t(STATUS_LABELS.get(info.status, info.status)),
            )
        )
        + "</b>",
        content_summary(t, info.content),
        escape(t("To: {audience}", audience=audience_label(t, info.audience, units))),
        escape(t("By: {name}", name=info.created_by_name or "-")),
        escape(t("Goes out: {when}", when=t.datetime(info.send_at))),
        escape(
            t(
                "{total} recipients: {figures}",
                total=t.number(figures.total),
                figures=figures_line(t, figures),
            )
        ),
    ]
    skipped = skipped_line(t, figures)
    if skipped:
        lines.append(escape(skipped))
    if figures.waiting:
        lines.append(escape(t("Still to send: {n}", n=t.number(figures.waiting))))
    if info.resent_at is not None:
        lines.append(
            escape(t("The failed ones were resent {when}.", when=t.datetime(info.resent_at)))
        )
    return "\n".join(lines), markup(_actions(context, info, figures))


# --------------------------------------------------------------------------- command
@require(Audience.HR_ADMIN)
async def hr_broadcasts(update: Update, context: BotContext) -> None:
    text, keyboard = await list_view(context)
    await send_html(update, context, text, keyboard)


# --------------------------------------------------------------------------- buttons
async def _show(update: Update, context: BotContext, announcement_id: int) -> None:
    view = await detail_view(context, announcement_id)
    if view is None:
        await stale_button(update, context)
        return
    assert update.callback_query is not None
    await update.callback_query.answer()
    await edit_html(update, *view)


ActionOnOne = Callable[[Update, BotContext, int], Awaitable[None]]


def _with_id(action: ActionOnOne) -> Callable[[Update, BotContext, list[Any]], Awaitable[None]]:
    """A button naming one announcement (``siaran:{action}:{id}``); without the id: stale."""

    async def pressed(update: Update, context: BotContext, args: list[Any]) -> None:
        if not args:
            await stale_button(update, context)
            return
        await action(update, context, args[0])

    return pressed


async def press_list(update: Update, context: BotContext, args: list[Any]) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer()
    text, keyboard = await list_view(context)
    await edit_html(update, text, keyboard)


@_with_id
async def press_show(update: Update, context: BotContext, announcement_id: int) -> None:
    await _show(update, context, announcement_id)


@_with_id
async def press_cancel(update: Update, context: BotContext, announcement_id: int) -> None:
    """Ask once more before stopping (in a new message: the pressed one may be the
    progress message, which keeps being edited)."""
    t = context.t
    async with context.session() as session:
        repository = AnnouncementRepository(session)
        info = await repository.get(announcement_id)
        figures = (await repository.figures([announcement_id]))[announcement_id] if info else None
    if info is None or figures is None or info.status not in (SCHEDULED, SENDING_NOW):
        await stale_button(update, context, t("This announcement can no longer be cancelled."))
        return
    assert update.callback_query is not None
    await update.callback_query.answer()
    text = escape(
        t.ngettext(
            "Cancel announcement #{id}? {n} message not yet sent will be stopped.",
            "Cancel announcement #{id}? {n} messages not yet sent will be stopped.",
            figures.waiting,
            id=info.id,
        )
    )
    rows: Buttons = [
        [
            (t("Yes, cancel it"), f"{BUTTON_PREFIX}stop:{info.id}"),
            (t("No, keep sending"), f"{BUTTON_PREFIX}show:{info.id}"),
        ]
    ]
    await send_html(update, context, text, markup(rows))


@_with_id
async def press_stop(update: Update, context: BotContext, announcement_id: int) -> None:
    t = context.t
    account = context.account
    assert account is not None and update.callback_query is not None
    now = application_now(context.application)
    async with context.session() as session:
        stopped = await cancel(session, announcement_id, account.employee_id, now)
    if stopped is None:
        await stale_button(update, context, t("This announcement can no longer be cancelled."))
        return
    await update.callback_query.answer()
    await edit_html(
        update,
        escape(
            t.ngettext(
                "Announcement #{id} is cancelled: {n} message stopped.",
                "Announcement #{id} is cancelled: {n} messages stopped.",
                stopped,
                id=announcement_id,
            )
        ),
    )
    await refresh_progress(context.application)


@_with_id
async def press_download(update: Update, context: BotContext, announcement_id: int) -> None:
    t = context.t
    async with context.session() as session:
        repository = AnnouncementRepository(session)
        info = await repository.get(announcement_id)
        rows = await repository.recipients(announcement_id) if info else []
    if info is None:
        await stale_button(update, context)
        return
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
    data = recipients_workbook(rows, t, STATE_LABELS)
    await context.bot.send_document(
        update.effective_chat.id,
        data,
        filename=file_name(t, info.id),
        caption=t("Recipients of announcement #{id} and their delivery.", id=info.id),
    )


@_with_id
async def press_resend(update: Update, context: BotContext, announcement_id: int) -> None:
    t = context.t
    account = context.account
    assert account is not None and update.callback_query is not None
    now = application_now(context.application)
    async with context.session() as session:
        result = await resend_failed(session, announcement_id, account.employee_id, now)
        if result is not None:
            context.after_commit(context.wake_sender)
    if result is None:
        await stale_button(
            update, context, t("The failed messages can be resent once, after sending finished.")
        )
        return
    queued, unreachable = result
    await update.callback_query.answer()
    lines = [
        escape(
            t.ngettext(
                "Announcement #{id}: {n} failed message is being sent again.",
                "Announcement #{id}: {n} failed messages are being sent again.",
                queued,
                id=announcement_id,
            )
        )
    ]
    if unreachable:
        lines.append(
            escape(
                t.ngettext(
                    "{n} could not be resent: no longer linked or reachable.",
                    "{n} could not be resent: no longer linked or reachable.",
                    unreachable,
                )
            )
        )
    await send_html(update, context, "\n".join(lines))
    await refresh_progress(context.application)


_route = button_router(
    _BUTTON,
    {
        "list": press_list,
        "show": press_show,
        "cancel": press_cancel,
        "stop": press_stop,
        "xlsx": press_download,
        "resend": press_resend,
    },
    numbers=True,
)


@require(Audience.HR_ADMIN)
async def on_button(update: Update, context: BotContext) -> None:
    await _route(update, context)


def register(application: Application) -> None:
    application.add_handler(
        CommandHandler(
            "hr_siaran",
            hr_broadcasts,
            filters=filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE,
        )
    )
    application.add_handler(CallbackQueryHandler(on_button, pattern=rf"^{BUTTON_PREFIX}"))
