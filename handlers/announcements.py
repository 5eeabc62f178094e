"""/hr_umumkan for HR (BKPSDM): compose an announcement, choose who gets it, preview, send.

A guided conversation whose state is a draft (flow ``umumkan``, ``handlers.flows``), so a
restart or another phone continues it and ``/batal`` leaves it at any step:

1. ``content``: HR sends the announcement: a text, or a photo or a document with a caption.
   Telegram's formatting (bold, italics, links …) is kept as Telegram's entities, exactly
   as HR's client sent them (``bot.announcements.content_from_message``).
2. ``audience``: buttons: all ASN, units (step ``units``: a button per unit, pressed to tick
   or untick, 20 per page, then **Lanjut**), supervisors only, or a NIP list (step ``nips``:
   a CSV/XLSX file with a NIP column, or NIPs typed in chat).
3. ``preview``: the announcement exactly as recipients will see it (sent by the same call
   the outbox makes), then the figures: recipients, of whom not linked or unreachable; and
   **Kirim sekarang**, **Jadwalkan**, **Ubah penerima**, **Batal**.
4. ``schedule`` → ``schedule_confirm``: a date and time in WIB typed in chat, checked
   (``bot.rules.broadcast.schedule_problem``), shown back in words before **Jadwalkan**.

Buttons (``callback_data`` ``umum:{action}[:{number}]``) only name what was pressed: every
press is checked on the server (HR role read for every update; the presser's own draft at
the step the button belongs to). Sending or scheduling removes the draft in the same
transaction that stores the announcement, so a double tap sends once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from html import escape
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.announcements import (
    audience_label,
    confirm,
    content_from_message,
    counts_html,
    refresh_progress,
)
from bot.context import BotContext
from bot.delivery import application_now, build_call
from bot.menus import Audience
from bot.rules.broadcast import ScheduleProblem, schedule_problem
from bot.rules.quiet import in_quiet_hours, quiet_hours_end_after
from bot.trainings import nip_problem_text, parse_moment, parse_nips
from handlers.access import require, stale_button
from handlers.flows import Flow, begin, register_flow, stop_button
from handlers.replies import Buttons, button_router, edit_html, markup, parse_id, send_html
from handlers.uploads import THREAD_THRESHOLD
from storage.importers import MAX_FILE_BYTES, ImportFileError, read_table
from storage.importers import messages as importer_messages
from storage.importers.cells import number_text
from storage.repositories.announcements import AnnouncementRepository
from storage.repositories.drafts import DraftRepository, DraftState

log = logging.getLogger(__name__)

FLOW = "umumkan"
PREFIX = "umum:"
UNIT_BUTTON_CHARS = 30
UNITS_PER_PAGE = 20
UNITS_NAMED = 10  # chosen units named above the buttons
NIP_ISSUES_SHOWN = 5
_BUTTON = re.compile(
    r"^umum:(aud|unit|page|units_ok|send|sched|sched_ok|back|stop)((?::[a-z0-9]{1,18})?)$"
)
AUDIENCE_BUTTONS = ("all", "units", "sup", "nips")


def _short(text: str, limit: int = UNIT_BUTTON_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cancel_row(context: BotContext) -> list[tuple[str, str]]:
    return [(context.t("✖ Cancel"), f"{PREFIX}stop")]


# --------------------------------------------------------------------------- step views
def content_prompt(context: BotContext) -> str:
    t = context.t
    return "\n".join(
        [
            "<b>" + escape(t("📣 New announcement")) + "</b>",
            escape(
                t(
                    "Send the announcement now: a text, or a photo or a document with a "
                    "caption. Bold, italics and links are kept exactly as you write them."
                )
            ),
            escape(t("Send /batal to stop.")),
        ]
    )


def audience_view(context: BotContext) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    rows: Buttons = [
        [(t("👥 All ASN"), f"{PREFIX}aud:all")],
        [(t("🏢 Choose units"), f"{PREFIX}aud:units")],
        [(t("🧑‍💼 Supervisors only"), f"{PREFIX}aud:sup")],
        [(t("📄 NIP list (CSV/XLSX)"), f"{PREFIX}aud:nips")],
        _cancel_row(context),
    ]
    return escape(t("Who should get this announcement?")), markup(rows)


async def units_view(
    context: BotContext, chosen: list[int], page: int = 0
) -> tuple[str, InlineKeyboardMarkup]:
    """The units as tick buttons, :data:`UNITS_PER_PAGE` at a time (a keyboard holds at most
    100 buttons and a city may have many units)."""
    t = context.t
    async with context.session() as session:
        units = await AnnouncementRepository(session).units()
    pages = max(1, -(-len(units) // UNITS_PER_PAGE))
    page = min(max(0, page), pages - 1)
    rows: Buttons = []
    for unit in units[page * UNITS_PER_PAGE : (page + 1) * UNITS_PER_PAGE]:
        mark = "✅" if unit.id in chosen else "▫️"
        label = f"{mark} {_short(unit.name)} ({t.number(unit.employees)})"
        rows.append([(label, f"{PREFIX}unit:{unit.id}")])
    if pages > 1:
        paging: list[tuple[str, str]] = []
        if page > 0:
            paging.append(("◀️", f"{PREFIX}page:{page - 1}"))
        paging.append((f"{page + 1}/{pages}", f"{PREFIX}page:{page}"))
        if page < pages - 1:
            paging.append(("▶️", f"{PREFIX}page:{page + 1}"))
        rows.append(paging)
    footer = [(t("↩️ Back"), f"{PREFIX}back")]
    if chosen:
        footer.append((t("Next ➡️"), f"{PREFIX}units_ok"))
    rows.append(footer)
    rows.append(_cancel_row(context))
    names = [unit.name for unit in units if unit.id in chosen]
    lines = [
        escape(
            t.ngettext(
                "Tap the units to tick them, then Next. {n} unit chosen.",
                "Tap the units to tick them, then Next. {n} units chosen.",
                len(chosen),
            )
        )
    ]
    if names:
        shown = ", ".join(names[:UNITS_NAMED])
        if len(names) > UNITS_NAMED:
            shown += " " + t("and {n} more", n=t.number(len(names) - UNITS_NAMED))
        lines.append(escape(shown))
    return "\n".join(lines), markup(rows)


def nips_prompt(context: BotContext) -> str:
    t = context.t
    return "\n".join(
        [
            escape(
                t(
                    "Send the list of NIPs as a CSV or XLSX file with a column headed NIP, "
                    "or type the NIPs here (one per line, or separated by commas)."
                )
            ),
            escape(t("Send /batal to stop.")),
        ]
    )


def _quiet_note(context: BotContext, now: dt.datetime) -> str | None:
    settings = context.settings
    start, end = settings.quiet_hours_start, settings.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    if not in_quiet_hours(now, settings.timezone, start, end):
        return None
    resumes = quiet_hours_end_after(now, settings.timezone, start, end)
    return context.t(
        "It is quiet hours now: sent now, it goes out from {time}.",
        time=context.t.time(resumes),
    )


async def _audience_words(context: BotContext, audience: dict[str, Any]) -> str:
    async with context.session() as session:
        names = await AnnouncementRepository(session).unit_names(audience.get("unit_ids", []))
    return audience_label(context.t, audience, names)


async def show_preview(update: Update, context: BotContext, data: dict[str, Any]) -> None:
    """Send the announcement as recipients will see it, then the figures and the choices."""
    assert update.effective_chat is not None
    t = context.t
    audience = data["audience"]
    async with context.session() as session:
        count = await AnnouncementRepository(session).count(audience)
    call = build_call(context.bot, update.effective_chat.id, data["content"])
    await call()
    lines = [
        "<b>" + escape(t("👆 Preview: exactly what recipients will get.")) + "</b>",
        escape(t("To: {audience}", audience=await _audience_words(context, audience))),
        counts_html(t, count),
    ]
    note = _quiet_note(context, application_now(context.application))
    if note:
        lines.append(escape(note))
    rows: Buttons = []
    if count.deliverable:
        rows.append(
            [
                (t("📤 Send now"), f"{PREFIX}send"),
                (t("🕒 Schedule"), f"{PREFIX}sched"),
            ]
        )
    else:
        lines.append(escape(t("Nobody in this audience can get a message. Choose others.")))
    rows.append([(t("↩️ Change recipients"), f"{PREFIX}back")])
    rows.append(_cancel_row(context))
    await send_html(update, context, "\n".join(lines), markup(rows))


# --------------------------------------------------------------------------- drafts
async def _draft(context: BotContext, user_id: int) -> DraftState | None:
    async with context.session() as session:
        return await DraftRepository(session).get(user_id, FLOW)


async def _save(context: BotContext, user_id: int, step: str, data: dict[str, Any]) -> None:
    async with context.session() as session:
        await DraftRepository(session).put(user_id, FLOW, step, data)


# --------------------------------------------------------------------------- command
@require(Audience.HR_ADMIN)
async def hr_announce(update: Update, context: BotContext) -> None:
    assert update.effective_user is not None
    async with context.session() as session:
        await begin(context, session, update.effective_user.id, FLOW, "content", {})
    await send_html(update, context, content_prompt(context))


# --------------------------------------------------------------------------- typed answers
@require(Audience.HR_ADMIN)
async def on_message(update: Update, context: BotContext, draft: DraftState) -> None:
    """Text, photo or document while the conversation is open."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    t = context.t
    data = dict(draft.data)
    if draft.step == "content":
        content = content_from_message(message)
        if content is None:
            await message.reply_text(t("Please send a text, a photo or a document."))
            return
        data["content"] = content
        await _save(context, user.id, "audience", data)
        text, keyboard = audience_view(context)
        await send_html(update, context, text, keyboard)
        return
    if draft.step == "nips":
        await _take_nips(update, context, data)
        return
    if draft.step == "schedule" and message.text:
        await _take_time(update, context, data, message.text)
        return
    await message.reply_text(t("Please use the buttons above, or send /batal to stop."))


async def _take_nips(update: Update, context: BotContext, data: dict[str, Any]) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    t = context.t
    if message.document is not None:
        document = message.document
        file_name = document.file_name or "nip.csv"
        if document.file_size and document.file_size > MAX_FILE_BYTES:
            await message.reply_text(
                t(
                    "The file is too large (at most {limit} MB).",
                    limit=t.number(MAX_FILE_BYTES // 1024 // 1024),
                )
            )
            return
        try:
            telegram_file = await context.bot.get_file(document.file_id)
            raw = bytes(await telegram_file.download_as_bytearray())
        except TelegramError:
            await message.reply_text(t("The file could not be downloaded. Please send it again."))
            return
        try:
            if len(raw) > THREAD_THRESHOLD:  # a large XLSX takes a while: off the event loop
                table = await asyncio.to_thread(read_table, raw, file_name)
            else:
                table = read_table(raw, file_name)
        except ImportFileError as exc:
            await message.reply_text(
                t("The file cannot be read: {reason}", reason=exc.issue.render(t))
            )
            return
        headers = [h.strip().lower() for h in table.headers]
        column = next((i for i, h in enumerate(headers) if "nip" in h), None)
        if column is None:
            await message.reply_text(t("The file has no column headed NIP."))
            return
        values: list[str] = []
        for _, row in table.rows:
            if column >= len(row) or row[column] is None:
                continue
            value, lost_digits = number_text(row[column])
            if lost_digits:
                await message.reply_text(t(importer_messages.NIP_LOST_DIGITS, value=value))
                return
            values.append(value)
        typed = "\n".join(values)
    elif message.text:
        file_name = None
        typed = message.text
    else:
        await message.reply_text(t("Please send a CSV or XLSX file, or type the NIPs."))
        return
    parsed = parse_nips(typed)
    async with context.session() as session:
        found = await AnnouncementRepository(session).employee_ids_by_nip(parsed.nips)
    unknown = [nip for nip in parsed.nips if nip not in found]
    lines = [
        escape(
            t.ngettext(
                "{n} employee found in the list.",
                "{n} employees found in the list.",
                len(found),
            )
        )
    ]
    if unknown:
        shown = ", ".join(unknown[:NIP_ISSUES_SHOWN])
        lines.append(
            escape(
                t.ngettext(
                    "{n} NIP is not in the employee data: {nips}",
                    "{n} NIPs are not in the employee data: {nips}",
                    len(unknown),
                    nips=shown + (" …" if len(unknown) > NIP_ISSUES_SHOWN else ""),
                )
            )
        )
    for nip, problem in parsed.invalid[:NIP_ISSUES_SHOWN]:
        lines.append(escape(f"{nip}: {nip_problem_text(nip, problem, t)}"))
    if len(parsed.invalid) > NIP_ISSUES_SHOWN:
        lines.append(
            escape(
                t.ngettext(
                    "… and {n} more invalid NIP.",
                    "… and {n} more invalid NIPs.",
                    len(parsed.invalid) - NIP_ISSUES_SHOWN,
                )
            )
        )
    if not found:
        lines.append(escape(t("Please send another list, or /batal to stop.")))
        await send_html(update, context, "\n".join(lines))
        return
    await send_html(update, context, "\n".join(lines))
    audience: dict[str, Any] = {"kind": "nips", "employee_ids": sorted(found.values())}
    if file_name:
        audience["file_name"] = file_name
    data["audience"] = audience
    await _save(context, user.id, "preview", data)
    await show_preview(update, context, data)


async def _take_time(update: Update, context: BotContext, data: dict[str, Any], typed: str) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    t = context.t
    settings = context.settings
    moment = parse_moment(typed, t.timezone)
    if moment is None:
        await message.reply_text(
            t("I could not read that. Please write the date and time, e.g. 12/01/2026 08.00.")
        )
        return
    now = application_now(context.application)
    problem = schedule_problem(
        moment,
        now,
        timezone=settings.timezone,
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
    )
    if problem is ScheduleProblem.TOO_SOON:
        await message.reply_text(
            t("That time is past or too close. Choose a time at least a few minutes ahead.")
        )
        return
    if problem is ScheduleProblem.TOO_FAR:
        await message.reply_text(t("That is too far ahead: at most 60 days from now."))
        return
    if problem is ScheduleProblem.QUIET_HOURS:
        await message.reply_text(
            t(
                "That is in the quiet hours ({start}–{end} WIB), when only urgent messages go "
                "out. Please choose another time.",
                start=f"{settings.quiet_hours_start:%H.%M}",
                end=f"{settings.quiet_hours_end:%H.%M}",
            )
        )
        return
    data["send_at"] = moment.isoformat()
    await _save(context, user.id, "schedule_confirm", data)
    async with context.session() as session:
        count = await AnnouncementRepository(session).count(data["audience"])
    text = escape(
        t.ngettext(
            "Send on {when} to {n} recipient?",
            "Send on {when} to {n} recipients?",
            count.deliverable,
            when=t.datetime(moment),
        )
    )
    rows: Buttons = [
        [(t("✅ Schedule"), f"{PREFIX}sched_ok"), (t("↩️ Change the time"), f"{PREFIX}sched")],
        _cancel_row(context),
    ]
    await send_html(update, context, text, markup(rows))


async def on_cancel(update: Update, context: BotContext, draft: DraftState) -> None:
    assert update.effective_message is not None and update.effective_user is not None
    async with context.session() as session:
        await DraftRepository(session).clear(update.effective_user.id, FLOW)
    await update.effective_message.reply_text(
        context.t("The announcement was not sent. Nothing was changed.")
    )


# --------------------------------------------------------------------------- buttons
async def _pressed_draft(update: Update, context: BotContext, *steps: str) -> DraftState | None:
    """The presser's draft if it is at one of ``steps``; else a stale-button alert."""
    assert update.effective_user is not None
    draft = await _draft(context, update.effective_user.id)
    if draft is None or (steps and draft.step not in steps):
        await stale_button(update, context)
        return None
    return draft


async def press_audience(update: Update, context: BotContext, args: list[Any]) -> None:
    draft = await _pressed_draft(update, context, "audience")
    if draft is None or not args or args[0] not in AUDIENCE_BUTTONS:
        if draft is not None:
            await stale_button(update, context)
        return
    assert update.callback_query is not None and update.effective_user is not None
    user_id = update.effective_user.id
    data = dict(draft.data)
    choice = args[0]
    await update.callback_query.answer()
    if choice == "units":
        data["unit_ids"] = []
        await _save(context, user_id, "units", data)
        text, keyboard = await units_view(context, [])
        await edit_html(update, text, keyboard)
        return
    if choice == "nips":
        await _save(context, user_id, "nips", data)
        await edit_html(update, nips_prompt(context), markup([_cancel_row(context)]))
        return
    data["audience"] = {"kind": "all" if choice == "all" else "supervisors"}
    await _save(context, user_id, "preview", data)
    await edit_html(update, escape(await _audience_words(context, data["audience"])))
    await show_preview(update, context, data)


async def _units_step(update: Update, context: BotContext, args: list[Any], change: str) -> None:
    """A press in the units step: ``change`` is ``unit`` (tick or untick the unit ``args[0]``)
    or ``page`` (show page ``args[0]``); the list is drawn again in place."""
    draft = await _pressed_draft(update, context, "units")
    if draft is None:
        return
    assert update.callback_query is not None and update.effective_user is not None
    number = parse_id(str(args[0])) if args else None
    if number is None:
        await stale_button(update, context)
        return
    data = dict(draft.data)
    chosen = [int(i) for i in data.get("unit_ids", [])]
    if change == "page":
        data["unit_page"] = number
    else:
        async with context.session() as session:
            known = {unit.id for unit in await AnnouncementRepository(session).units()}
        if number not in known:
            await stale_button(update, context)
            return
        chosen = [i for i in chosen if i != number] if number in chosen else [*chosen, number]
        data["unit_ids"] = chosen
    await _save(context, update.effective_user.id, "units", data)
    await update.callback_query.answer()
    text, keyboard = await units_view(context, chosen, int(data.get("unit_page", 0)))
    await edit_html(update, text, keyboard)


async def press_unit(update: Update, context: BotContext, args: list[Any]) -> None:
    await _units_step(update, context, args, "unit")


async def press_page(update: Update, context: BotContext, args: list[Any]) -> None:
    await _units_step(update, context, args, "page")


async def press_units_ok(update: Update, context: BotContext, args: list[Any]) -> None:
    draft = await _pressed_draft(update, context, "units")
    if draft is None:
        return
    assert update.callback_query is not None and update.effective_user is not None
    data = dict(draft.data)
    chosen = [int(i) for i in data.get("unit_ids", [])]
    if not chosen:
        await update.callback_query.answer(
            context.t("Tick at least one unit first."), show_alert=True
        )
        return
    data["audience"] = {"kind": "units", "unit_ids": sorted(chosen)}
    await _save(context, update.effective_user.id, "preview", data)
    await update.callback_query.answer()
    await edit_html(update, escape(await _audience_words(context, data["audience"])))
    await show_preview(update, context, data)


async def press_back(update: Update, context: BotContext, args: list[Any]) -> None:
    draft = await _pressed_draft(update, context, "units", "preview", "nips")
    if draft is None:
        return
    assert update.callback_query is not None and update.effective_user is not None
    data = {"content": draft.data["content"]}
    await _save(context, update.effective_user.id, "audience", data)
    await update.callback_query.answer()
    text, keyboard = audience_view(context)
    await edit_html(update, text, keyboard)


async def press_schedule(update: Update, context: BotContext, args: list[Any]) -> None:
    draft = await _pressed_draft(update, context, "preview", "schedule_confirm")
    if draft is None:
        return
    assert update.callback_query is not None and update.effective_user is not None
    data = {k: v for k, v in draft.data.items() if k != "send_at"}
    await _save(context, update.effective_user.id, "schedule", data)
    await update.callback_query.answer()
    t = context.t
    text = "\n".join(
        [
            escape(
                t("When should it go out? Type the date and time in WIB, e.g. 12/01/2026 08.00.")
            ),
            escape(t("Send /batal to stop.")),
        ]
    )
    await edit_html(update, text)


async def _send(update: Update, context: BotContext, *, scheduled: bool) -> None:
    """Store and queue the announcement; the draft goes in the same transaction."""
    assert update.callback_query is not None and update.effective_user is not None
    assert update.effective_chat is not None
    account = context.account
    assert account is not None
    t = context.t
    now = application_now(context.application)
    user_id = update.effective_user.id
    expected = "schedule_confirm" if scheduled else "preview"
    draft = await _draft(context, user_id)
    if draft is None or draft.step != expected:
        await stale_button(update, context)
        return
    send_at = dt.datetime.fromisoformat(draft.data["send_at"]) if scheduled else now
    if scheduled and send_at <= now:
        await update.callback_query.answer(
            t("That time has passed. Press Change the time and choose another."), show_alert=True
        )
        return
    async with context.session() as session:
        count = await AnnouncementRepository(session).count(draft.data["audience"])
    if not count.deliverable:
        await stale_button(update, context)
        return
    async with context.session() as session:
        # Taking the draft away first makes a second press (or process) find none.
        taken = await DraftRepository(session).clear(user_id, FLOW)
        if taken:
            confirmed = await confirm(
                session,
                actor_id=account.employee_id,
                chat_id=update.effective_chat.id,
                content=draft.data["content"],
                audience=draft.data["audience"],
                send_at=send_at,
                scheduled=scheduled,
                now=now,
            )
            context.after_commit(context.wake_sender)
    if not taken:
        await stale_button(update, context)
        return
    await update.callback_query.answer()
    if scheduled:
        text = t.ngettext(
            "🕒 Announcement #{id} is scheduled for {when}, to {n} recipient.",
            "🕒 Announcement #{id} is scheduled for {when}, to {n} recipients.",
            confirmed.count.deliverable,
            id=confirmed.id,
            when=t.datetime(send_at),
        )
        lines = [escape(text), escape(t("To cancel it before then: /hr_siaran."))]
    else:
        text = t.ngettext(
            "✅ Announcement #{id} is being sent to {n} recipient.",
            "✅ Announcement #{id} is being sent to {n} recipients.",
            confirmed.count.deliverable,
            id=confirmed.id,
        )
        lines = [
            escape(text),
            escape(t("The progress follows below; all announcements: /hr_siaran.")),
        ]
        note = _quiet_note(context, now)
        if note:
            lines.append(escape(note))
    await edit_html(update, "\n".join(lines))
    if not scheduled:
        await refresh_progress(context.application)


async def press_send(update: Update, context: BotContext, args: list[Any]) -> None:
    await _send(update, context, scheduled=False)


async def press_schedule_ok(update: Update, context: BotContext, args: list[Any]) -> None:
    await _send(update, context, scheduled=True)


async def press_stop(update: Update, context: BotContext, args: list[Any]) -> None:
    await stop_button(update, context, FLOW)


_route = button_router(
    _BUTTON,
    {
        "aud": press_audience,
        "unit": press_unit,
        "page": press_page,
        "units_ok": press_units_ok,
        "back": press_back,
        "sched": press_schedule,
        "send": press_send,
        "sched_ok": press_schedule_ok,
        "stop": press_stop,
    },
)


@require(Audience.HR_ADMIN)
async def on_button(update: Update, context: BotContext) -> None:
    await _route(update, context)


def register(application: Application) -> None:
    register_flow(
        application, Flow(FLOW, on_text=on_message, on_cancel=on_cancel, on_media=on_message)
    )
    application.add_handler(
        # New messages only: an edited old "/hr_umumkan" must not restart a draft.
        CommandHandler(
            "hr_umumkan",
            hr_announce,
            filters=filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE,
        )
    )
    application.add_handler(CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}"))
