"""/hr_rekap [YYYY-MM] for HR (BKPSDM): where the monthly evaluations (SKP) of a period stand.

Without a month: the period taking evaluations today (the one closing first), else the
latest one. Two messages:

1. The period, its deadline and whether it is locked (and reopened for all until when);
   submitted / staff to rate per unit and overall; the predicate distribution (counts and
   shares). Buttons: **📥 Unduh** (the XLSX of every evaluation and the PNG chart of the
   predicates per unit) and, when locked, **🔓 Buka kembali untuk semua**.
2. The supervisors with reports still pending, most pending first (the first
   :data:`PENDING_SHOWN`; the XLSX has all), each with **🔔 Ingatkan** while the period takes
   their evaluations, or **🔓 Buka kembali** (for them alone) when it is locked for them.

Buttons (``rkp:…``, ids only): ``dl:{period}`` download, ``nd:{period}:{supervisor}``
remind, ``ro:{period}:{supervisor|0}`` asks to reopen (0: for all), ``ry:…`` confirms it,
``rx`` leaves it. Every press is checked again on the server (HR, read from the database for
every update; the period exists; the supervisor still has reports pending; the period is
locked, or open for them): ``bot.evaluation_reports`` decides, ``callback_data`` grants
nothing. Files and charts are built in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from html import escape

from babel.numbers import format_percent
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.charts import predicate_labels, unit_distribution_png
from bot.context import BotContext
from bot.evaluation_reports import (
    NudgeOutcome,
    Recap,
    ReopenOutcome,
    current_period,
    is_locked,
    nudge,
    parse_month,
    period_of_month,
    recap,
    reopen,
    reopening_end,
)
from bot.evaluations import local_today, month_name
from bot.i18n import Translator
from bot.menus import Audience
from bot.mutations import MESSAGE_MAX
from bot.rules.skp import PREDICATE_LABELS
from handlers.access import require, stale_button
from handlers.replies import Buttons, button_router, edit_html, markup
from storage.exports.evaluations import (
    evaluations_workbook,
    file_name,
    predicate_totals,
    predicates_by_unit,
    share,
)
from storage.repositories.evaluation_reports import EvaluationReportRepository, PendingSupervisor
from storage.repositories.evaluations import EvaluationRepository, PeriodInfo

PREFIX = "rkp:"
PENDING_SHOWN = 20  # supervisors listed (and given buttons) in the chat
UNITS_SHOWN = 60
NAME_SHOWN = 48
BUTTON_NAME = 24
PERIODS_LISTED = 6

_BUTTON = re.compile(r"^rkp:(dl|nd|ro|ry|rx)((?::\d{1,18}){0,2})$")


def _shorten(text: str, limit: int = NAME_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def percent(t: Translator, part: int, whole: int) -> str:
    """``83%`` in the reader's locale."""
    return format_percent(share(part, whole), locale=t.language)


def _fit(head: list[str], items: list[str], tail: list[str]) -> tuple[list[str], int]:
    """Drop items from the end until the message fits; how many were dropped."""
    dropped = 0
    while items and len("\n".join(head + items + tail)) > MESSAGE_MAX - 100:
        items.pop()
        dropped += 1
    return items, dropped


# --------------------------------------------------------------------------- rendering
def recap_html(data: Recap, t: Translator, *, units_shown: int = UNITS_SHOWN) -> str:
    """The first message: period, deadline, lock; progress per unit; the predicates."""
    period = data.period
    month = month_name(t, period.year, period.month)
    title = t("Performance evaluations (SKP): {month}", month=month)
    lines = [
        f"📋 <b>{escape(title)}</b>",
        escape(t("Deadline: {date}", date=t.date(period.closes_on))),
    ]
    if data.locked:
        lines.append("🔒 " + escape(t("Locked: supervisors can no longer rate this month.")))
    else:
        lines.append("🟢 " + escape(t("Open: supervisors are rating.")))
    reopened = data.reopened_for_all_until
    if data.locked and reopened is not None and reopened >= data.today:
        again = t("Reopened for all supervisors until {date}.", date=t.date(reopened))
        lines.append("🔓 " + escape(again))
    per_unit = t("Submitted / staff to rate, per unit:")
    lines += ["", f"<b>{escape(per_unit)}</b>"]
    units = [
        escape(
            t(
                "{unit}: {submitted} / {total} ({percent})",
                unit=_shorten(item.unit),
                submitted=t.number(item.submitted),
                total=t.number(item.total),
                percent=percent(t, item.submitted, item.total),
            )
        )
        for item in data.progress
    ]
    if not units:
        units = [escape(t("Nobody has a supervisor to rate them."))]
    hidden = max(0, len(units) - units_shown)
    units = units[:units_shown]
    overall = t(
        "All units: {submitted} / {total} ({percent})",
        submitted=t.number(data.submitted),
        total=t.number(data.total),
        percent=percent(t, data.submitted, data.total),
    )
    tail = [f"<b>{escape(overall)}</b>"]
    if data.drafts:
        drafts = t.ngettext(
            "{n} evaluation is being written (draft).",
            "{n} evaluations are being written (drafts).",
            data.drafts,
        )
        tail.append(escape(drafts))
    tail += ["", *distribution_lines(data.distribution, t)]
    units, dropped = _fit(lines, units, [*tail, ""])
    hidden += dropped
    if hidden:
        more = t("…and {n} more units (all are in the XLSX file).", n=t.number(hidden))
        units.append(escape(more))
    return "\n".join([*lines, *units, *tail])


def distribution_lines(distribution: dict[str, int], t: Translator) -> list[str]:
    submitted = sum(distribution.values())
    if not submitted:
        return [escape(t("No evaluation has been submitted yet."))]
    heading = t.ngettext(
        "Predicates ({n} evaluation submitted):",
        "Predicates ({n} evaluations submitted):",
        submitted,
    )
    lines = [f"<b>{escape(heading)}</b>"]
    for predicate, count in predicate_totals(distribution):
        line = t(
            "{predicate}: {count} ({percent})",
            predicate=t(PREDICATE_LABELS[predicate]),
            count=t.number(count),
            percent=percent(t, count, submitted),
        )
        lines.append(escape(line))
    return lines


def recap_buttons(data: Recap, t: Translator) -> InlineKeyboardMarkup:
    period_id = data.period.id
    rows: Buttons = [[(t("📥 Download (XLSX + chart)"), f"{PREFIX}dl:{period_id}")]]
    if data.locked:
        rows.append([(t("🔓 Reopen for all supervisors"), f"{PREFIX}ro:{period_id}:0")])
    return markup(rows)


def pending_view(
    data: Recap, t: Translator, *, shown: int = PENDING_SHOWN
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The second message: supervisors with reports pending, and their buttons."""
    if not data.pending:
        done = t("Every supervisor has submitted all their evaluations for this month.")
        return "✅ " + escape(done), None
    heading = t.ngettext(
        "{n} supervisor still has evaluations to submit:",
        "{n} supervisors still have evaluations to submit:",
        len(data.pending),
    )
    head = [f"⏳ <b>{escape(heading)}</b>"]
    items: list[str] = []
    buttons: list[tuple[str, str] | None] = []  # one per item: its button, if any
    period_id = data.period.id
    for number, supervisor in enumerate(data.pending[:shown], start=1):
        line = t(
            "{number}. {name} ({unit}): {pending} of {total} pending",
            number=number,
            name=_shorten(supervisor.name),
            unit=_shorten(supervisor.unit, 40),
            pending=t.number(supervisor.pending),
            total=t.number(supervisor.total),
        )
        notes = []
        if not supervisor.can_be_told:
            notes.append(t("not reachable on Telegram"))
        mine = supervisor.reopened_until
        if data.locked and mine is not None and mine >= data.today:
            notes.append(t("reopened until {date}", date=t.date(mine, "medium")))
        if notes:
            line += " · " + " · ".join(notes)
        items.append(escape(line))
        short, target = _shorten(supervisor.name, BUTTON_NAME), supervisor.supervisor_id
        if not data.open_for(supervisor):
            label = t("🔓 Reopen: {number}. {name}", number=number, name=short)
            buttons.append((label, f"{PREFIX}ro:{period_id}:{target}"))
        elif supervisor.can_be_told:
            label = t("🔔 Remind: {number}. {name}", number=number, name=short)
            buttons.append((label, f"{PREFIX}nd:{period_id}:{target}"))
        else:
            buttons.append(None)
    presses = [callback for _, callback in filter(None, buttons)]
    hints = []
    if any(callback.startswith(f"{PREFIX}nd:") for callback in presses):
        hints.append(escape(t("🔔 Remind: a message to the supervisor, at most once a day.")))
    if any(callback.startswith(f"{PREFIX}ro:") for callback in presses):
        hints.append(escape(t("🔓 Reopen: the month opens again for that supervisor alone.")))
    tail = ["", *hints] if hints else []
    items, _ = _fit(head, items, [*tail, "", "…"])
    rows: Buttons = [[button] for button in buttons[: len(items)] if button is not None]
    hidden = len(data.pending) - len(items)
    if hidden:
        more = t("…and {n} more (all are in the XLSX file).", n=t.number(hidden))
        items.append(escape(more))
    return "\n".join(head + items + tail), markup(rows) if rows else None


# --------------------------------------------------------------------------- /hr_rekap
async def _reply(
    update: Update, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=reply_markup
    )


@require(Audience.HR_ADMIN)
async def hr_recap(update: Update, context: BotContext) -> None:
    """``/hr_rekap [YYYY-MM]``: the recap of a period (see the module's docstring)."""
    t, settings = context.t, context.settings
    today = local_today(settings)
    raw = " ".join(context.args or []).strip()
    wanted = parse_month(raw) if raw else None
    if raw and wanted is None:
        await _reply(
            update,
            escape(
                t(
                    "“{text}” is not a month. Please write it as YYYY-MM, "
                    "e.g. /hr_rekap {example}.",
                    text=_shorten(raw, 40),
                    example=f"{today:%Y-%m}",
                )
            ),
        )
        return
    async with context.session() as session:
        if wanted is None:
            period = await current_period(session, settings, today)
        else:
            period = await period_of_month(session, settings, *wanted, today)
        data = await recap(session, period, today) if period is not None else None
        known = (
            [] if data else await EvaluationReportRepository(session).recent_periods(PERIODS_LISTED)
        )
    if data is None:
        await _reply(update, _unknown_period_html(t, wanted, known))
        return
    await _reply(update, recap_html(data, t), recap_buttons(data, t))
    text, keyboard = pending_view(data, t)
    await _reply(update, text, keyboard)


def _unknown_period_html(
    t: Translator, wanted: tuple[int, int] | None, known: list[PeriodInfo]
) -> str:
    if wanted is None:
        return escape(t("There is no evaluation period yet."))
    text = t("There is no evaluation period for {month}.", month=month_name(t, *wanted))
    lines = [escape(text)]
    if known:
        listed = ", ".join(period.key for period in known)
        lines.append(escape(t("Periods with data: {periods}", periods=listed)))
    return "\n".join(lines)


# --------------------------------------------------------------------------- buttons
async def _period(context: BotContext, period_id: int) -> PeriodInfo | None:
    async with context.session() as session:
        return await EvaluationRepository(session).period(period_id)


async def _download(update: Update, context: BotContext, args: list[int]) -> None:
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and chat is not None
    t = context.t
    if len(args) != 1:
        await stale_button(update, context)
        return
    async with context.session() as session:
        period = await EvaluationRepository(session).period(args[0])
        if period is not None:
            reports = EvaluationReportRepository(session)
            rows = await reports.rows(period.id)
            progress = await reports.progress(period.id)
            pending = await reports.pending_supervisors(period.id)
    if period is None:
        await stale_button(update, context)
        return
    await query.answer(t("Preparing the file…"))
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_DOCUMENT)
    month = month_name(t, period.year, period.month)
    content = await asyncio.to_thread(
        evaluations_workbook, rows, t, progress=progress, pending=pending
    )
    await context.bot.send_document(
        chat.id,
        content,
        filename=file_name(t, period.year, period.month),
        caption=t("Evaluations of {month}: every rating, predicate and feedback.", month=month),
    )
    counts = predicates_by_unit(rows)
    if not counts:
        await context.bot.send_message(
            chat.id, t("No evaluation has been submitted yet, so there is no chart.")
        )
        return
    chart = await asyncio.to_thread(
        unit_distribution_png,
        counts,
        predicate_labels(t),
        title=t("Predicates per unit: {month}", month=month),
        xlabel=t("Submitted evaluations"),
        other_units=t("Other units"),
    )
    await context.bot.send_photo(
        chat.id, chart, caption=t("Predicates per unit: {month}", month=month)
    )


async def _nudge(update: Update, context: BotContext, args: list[int]) -> None:
    query = update.callback_query
    assert query is not None
    t, settings = context.t, context.settings
    if len(args) != 2:
        await stale_button(update, context)
        return
    today = local_today(settings)
    async with context.session() as session:
        period = await EvaluationRepository(session).period(args[0])
        result = await nudge(session, settings, period, args[1], today) if period else None
        if result is not None and result.outcome is NudgeOutcome.QUEUED:
            context.after_commit(context.wake_sender)
    if result is None:
        await stale_button(update, context)
        return
    name = _shorten(result.supervisor.name, 60) if result.supervisor else ""
    match result.outcome:
        case NudgeOutcome.QUEUED:
            await query.answer(t("Reminder queued for {name}.", name=name))
        case NudgeOutcome.ALREADY:
            await query.answer(t("{name} was already reminded today.", name=name), show_alert=True)
        case NudgeOutcome.NOTHING_PENDING:
            await query.answer(
                t("Nothing is pending any more for this supervisor."), show_alert=True
            )
        case NudgeOutcome.CLOSED:
            await query.answer(
                t("The month is locked for {name}: reopen it first.", name=name),
                show_alert=True,
            )
        case NudgeOutcome.UNREACHABLE:
            unreachable = t(
                "{name} cannot be reached on Telegram (not linked, or blocked the bot).",
                name=name,
            )
            await query.answer(unreachable, show_alert=True)


def _supervisor_arg(value: int) -> int | None:
    return value or None  # 0: for all


async def _ask_reopen(update: Update, context: BotContext, args: list[int]) -> None:
    """``ro:{period}:{supervisor|0}``: what would be reopened until when; Reopen / Cancel."""
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and chat is not None
    t, settings = context.t, context.settings
    if len(args) != 2:
        await stale_button(update, context)
        return
    today = local_today(settings)
    supervisor_id = _supervisor_arg(args[1])
    supervisor: PendingSupervisor | None = None
    async with context.session() as session:
        period = await EvaluationRepository(session).period(args[0])
        if period is not None and supervisor_id is not None:
            reports = EvaluationReportRepository(session)
            supervisor = await reports.pending_of(period.id, supervisor_id)
        until = await reopening_end(session, today)
    if period is None or (supervisor_id is not None and supervisor is None):
        await stale_button(update, context)
        return
    if not is_locked(period, today):
        await stale_button(update, context, t("This month is not locked: nothing to reopen."))
        return
    month = month_name(t, period.year, period.month)
    if supervisor is None:
        question = t(
            "Reopen the evaluations of {month} for all supervisors until {date}? Those with "
            "staff still to rate will be told.",
            month=month,
            date=t.date(until),
        )
    else:
        question = t(
            "Reopen the evaluations of {month} for {name} until {date}? They will be told.",
            month=month,
            name=supervisor.name,
            date=t.date(until),
        )
    await query.answer()
    keyboard = markup(
        [
            [
                (t("🔓 Reopen"), f"{PREFIX}ry:{period.id}:{args[1]}"),
                (t("✖ Cancel"), f"{PREFIX}rx"),
            ]
        ]
    )
    await context.bot.send_message(
        chat.id, "🔓 " + escape(question), parse_mode=ParseMode.HTML, reply_markup=keyboard
    )


async def _confirm_reopen(update: Update, context: BotContext, args: list[int]) -> None:
    query, account = update.callback_query, context.account
    assert query is not None and account is not None
    t, settings = context.t, context.settings
    if len(args) != 2:
        await stale_button(update, context)
        return
    today = local_today(settings)
    supervisor_id = _supervisor_arg(args[1])
    async with context.session() as session:
        period = await EvaluationRepository(session).period(args[0])
        result = (
            await reopen(
                session, settings, period, supervisor_id, today, actor_id=account.employee_id
            )
            if period is not None
            else None
        )
        if result is not None and result.told:
            context.after_commit(context.wake_sender)
    if period is None or result is None:
        await stale_button(update, context)
        return
    month, until = month_name(t, period.year, period.month), t.date(result.until)
    name = _shorten(result.supervisor.name, 60) if result.supervisor else ""
    match result.outcome:
        case ReopenOutcome.NOT_LOCKED:
            await stale_button(update, context, t("This month is not locked: nothing to reopen."))
            return
        case ReopenOutcome.NOTHING_PENDING:
            await stale_button(
                update, context, t("Nothing is pending any more for this supervisor.")
            )
            return
        case ReopenOutcome.ALREADY:
            text = t("{month} is already reopened until {date}.", month=month, date=until)
        case ReopenOutcome.REOPENED if supervisor_id is None:
            text = t(
                "{month} is reopened for all supervisors until {date}. Supervisors told: {n}.",
                month=month,
                date=until,
                n=t.number(result.told),
            )
        case _:
            text = t(
                "{month} is reopened for {name} until {date}. Supervisors told: {n}.",
                month=month,
                name=name,
                date=until,
                n=t.number(result.told),
            )
    await query.answer()
    await edit_html(update, "✅ " + escape(text), None)


async def _cancel_reopen(update: Update, context: BotContext, args: list[int]) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await edit_html(update, escape(context.t("Nothing was changed.")), None)


_ACTIONS = {
    "dl": _download,
    "nd": _nudge,
    "ro": _ask_reopen,
    "ry": _confirm_reopen,
    "rx": _cancel_reopen,
}


on_button = require(Audience.HR_ADMIN)(button_router(_BUTTON, _ACTIONS, numbers=True))


def register(application: Application) -> None:
    """``/hr_rekap`` and its buttons (group 0, before the fallback)."""
    application.add_handler(
        CommandHandler("hr_rekap", hr_recap, filters=filters.UpdateType.MESSAGE)
    )
    application.add_handler(CallbackQueryHandler(on_button, pattern=f"^{re.escape(PREFIX)}"))
