"""Trainings in chat: /pelatihan for every linked ASN, /hr_pelatihan for HR.

ASN: ``/pelatihan`` lists their open trainings, one card each with Hadir / Tidak hadir buttons
(``latih:{training}:hadir|absen``, the same data the reminders carry), and a History button
(``latih:riwayat``). Tidak hadir asks for a short reason (or Skip, ``latih:{training}:lewati``;
/batal cancels); the waiting lives in the ``absence`` draft, so it survives a restart.

HR: ``/hr_pelatihan`` lists the open trainings (``/hr_pelatihan KODE`` opens any one) with
buttons ``hrl:…``: a training's card with its answers, the attendance list as XLSX, a new
time, cancelling, and a guided creation (draft ``training_new``: title, start, end, place or
link, participants by NIP list or unit, summary, save). Moving resets every answer (the
participants confirm the new date) — see ``bot.trainings``.

Every button is checked again on the server: the presser's role or participation, the
training's current state and the draft's current step; anything else is a stale button.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.i18n import N_, Translator
from bot.menus import Audience, allowed_audience
from bot.trainings import (
    ANSWER_PREFIX,
    CANCEL_REASON_MIN,
    FLOW_ABSENCE,
    FLOW_CANCEL,
    FLOW_MOVE,
    FLOW_NEW,
    LINK_MAX,
    PLACE_MAX,
    REASON_MAX,
    TITLE_MAX,
    TITLE_MIN,
    Buttons,
    answer_buttons,
    attendance_file_name,
    attendance_label,
    attendance_workbook,
    cancel_training,
    card_html,
    create_training,
    looks_like_nips,
    move_training,
    nip_problem_text,
    parse_moment,
    parse_nips,
    split_place,
    when_range,
    when_text,
)
from handlers.access import refuse, require, stale_button
from handlers.flows import Flow, begin, register_flow, stop_button
from handlers.replies import edit_html, markup, parse_id, send_html
from storage.models import utcnow
from storage.repositories.drafts import DraftRepository, DraftState
from storage.repositories.trainings import (
    HADIR,
    TIDAK_HADIR,
    AttendanceCounts,
    Participation,
    TrainingCard,
    TrainingInfo,
    TrainingRepository,
    UnitChoice,
)

HR_PREFIX = "hrl:"
HISTORY = f"{ANSWER_PREFIX}riwayat"
_ANSWER = re.compile(r"^latih:(\d{1,18}):(hadir|absen|lewati)$")
_HR = re.compile(r"^hrl:([a-z!]+)((?::[a-z0-9_]+){0,2})$")
FLOW_CODES = {"n": FLOW_NEW, "m": FLOW_MOVE, "c": FLOW_CANCEL}
NEW_STEPS = ("title", "start", "end", "place", "people")
CONFIRM = "confirm"
LIST_LIMIT = 10
UNITS_PER_PAGE = 8
UNIT_MATCHES = 8
ABSENTEES_SHOWN = 20
PEOPLE_PREVIEW = 5
MAX_NIP_PROBLEMS = 15
_THREAD_ROWS = 500  # above this many participants the workbook is built in a thread

STEP_PROMPTS = {
    "title": N_("Step 1 of 5. What is the title of the training? (3–300 characters)"),
    "start": N_("Step 2 of 5. When does it start? Type the date and time in WIB, e.g. {example}."),
    "end": N_(
        "Step 3 of 5. When does it end? Type the date and time, or only the time if it ends "
        "the same day (e.g. 16.00)."
    ),
    "place": N_("Step 4 of 5. Where is it held? Type the place, or an online meeting link."),
    "people": N_(
        "Step 5 of 5. Who takes part? Send their NIPs (separated by spaces, commas or new "
        "lines), or choose a unit: tap the button or type part of its name."
    ),
}
FIELD_LABELS = {
    "title": N_("Title"),
    "start": N_("Start"),
    "end": N_("End"),
    "place": N_("Place or link"),
    "people": N_("Participants"),
}


# --------------------------------------------------------------------------- small helpers
def _zone(context: BotContext) -> ZoneInfo:
    return ZoneInfo(context.settings.timezone)


def _moment(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _typed(update: Update) -> str:
    message = update.effective_message
    return (message.text or "").strip() if message is not None else ""


# =========================================================================== ASN
def my_card(item: Participation, t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    return card_html(item.training, t, participation=item), markup(
        answer_buttons(item.training.id, t)
    )


@require(Audience.LINKED)
async def my_trainings(update: Update, context: BotContext) -> None:
    message, account = update.effective_message, context.account
    assert message is not None and account is not None and account.employee_id is not None
    t = context.t
    async with context.session() as session:
        upcoming = await TrainingRepository(session).upcoming_for_employee(account.employee_id)
    history = markup([[(t("📜 History"), HISTORY)]])
    if not upcoming:
        await message.reply_text(
            t("You have no upcoming trainings at the moment."), reply_markup=history
        )
        return
    await message.reply_text(
        t.ngettext("Your upcoming training:", "Your {n} upcoming trainings:", len(upcoming)),
        reply_markup=history,
    )
    for item in upcoming:
        text, keyboard = my_card(item, t)
        await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


async def _history(update: Update, context: BotContext, employee_id: int) -> None:
    query = update.callback_query
    assert query is not None
    t = context.t
    async with context.session() as session:
        items = await TrainingRepository(session).history_for_employee(employee_id)
    await query.answer()
    if not items:
        await send_html(update, context, escape(t("You have no past trainings yet.")), None)
        return
    heading = t("Your past trainings:")
    lines = [f"<b>{escape(heading)}</b>"]
    for item in items:
        training = item.training
        if training.cancelled:
            status = t("Cancelled: {reason}", reason=training.cancel_reason or "-")
        else:
            status = t("Your answer: {answer}", answer=attendance_label(item.attendance, t))
        lines += [
            "",
            f"<b>{escape(training.title)}</b>",
            "🗓 " + escape(when_text(training, t)),
            escape(status),
        ]
    await send_html(update, context, "\n".join(lines), None)


def _answerable(item: Participation | None, now: dt.datetime) -> bool:
    return item is not None and item.training.is_open(now)


@require(Audience.LINKED)
async def on_answer(update: Update, context: BotContext) -> None:
    """Hadir / Tidak hadir / Skip / History: from /pelatihan, a reminder or a notice."""
    query, user, account = update.callback_query, update.effective_user, context.account
    assert query is not None and user is not None
    assert account is not None and account.employee_id is not None
    if query.data == HISTORY:
        await _history(update, context, account.employee_id)
        return
    match = _ANSWER.match(query.data or "")
    if match is None:
        await stale_button(update, context)
        return
    training_id, choice = parse_id(match[1]), match[2]
    if training_id is None:
        await stale_button(update, context)
        return
    t, now = context.t, utcnow()
    async with context.session() as session:
        repository, drafts = TrainingRepository(session), DraftRepository(session)
        mine = await repository.participation(training_id, account.employee_id)
        if not _answerable(mine, now):
            mine = None
        elif choice == "absen":
            assert mine is not None
            chat_id = update.effective_chat.id if update.effective_chat else user.id
            await begin(
                context,
                session,
                user.id,
                FLOW_ABSENCE,
                "reason",
                {
                    "training_id": training_id,
                    "starts_at": mine.training.starts_at.isoformat(),
                    "chat_id": chat_id,
                    "message_id": query.message.message_id if query.message else None,
                },
            )
        elif choice == "hadir":
            draft = await drafts.get(user.id, FLOW_ABSENCE)
            if draft is not None and draft.data.get("training_id") == training_id:
                await drafts.clear(user.id, FLOW_ABSENCE)
            await repository.set_attendance(training_id, account.employee_id, HADIR, now=now)
            mine = await repository.participation(training_id, account.employee_id)
        else:  # lewati: only while this training's reason is awaited
            draft = await drafts.get(user.id, FLOW_ABSENCE)
            if draft is None or draft.data.get("training_id") != training_id:
                mine = None
            else:
                await drafts.clear(user.id, FLOW_ABSENCE)
                await repository.set_attendance(
                    training_id, account.employee_id, TIDAK_HADIR, now=now
                )
                mine = await repository.participation(training_id, account.employee_id)
    if mine is None:
        await stale_button(update, context)
        return
    if choice == "absen":
        await query.answer()
        prompt = t(
            "Why can you not attend {title}? Please write a short reason (at most {max} "
            "characters), or tap Skip. Send /batal to cancel.",
            title=f"<b>{escape(mine.training.title)}</b>",
            max=t.number(REASON_MAX),
        )
        skip = markup([[(t("⏭ Skip"), f"{ANSWER_PREFIX}{training_id}:lewati")]])
        await send_html(update, context, prompt, skip)
        return
    await query.answer(
        t("Thank you. Your answer is saved: attending.")
        if choice == "hadir"
        else t("Thank you. Your answer is saved: not attending.")
    )
    text, keyboard = my_card(mine, t)
    await edit_html(update, text, keyboard)


async def absence_text(update: Update, context: BotContext, draft: DraftState) -> None:
    """The typed reason for not attending."""
    message, user, account = update.effective_message, update.effective_user, context.account
    assert message is not None and user is not None
    t = context.t
    if account is None or account.employee_id is None:
        async with context.session() as session:
            await DraftRepository(session).clear(user.id, FLOW_ABSENCE)
        await refuse(update, context, Audience.LINKED)
        return
    reason = _typed(update)
    if not reason:
        await message.reply_text(t("Please write the reason as text, or send /batal."))
        return
    if len(reason) > REASON_MAX:
        await message.reply_text(
            t(
                "That is {n} characters; please keep the reason to {max}.",
                n=t.number(len(reason)),
                max=t.number(REASON_MAX),
            )
        )
        return
    training_id = int(draft.data.get("training_id", 0))
    now = utcnow()
    async with context.session() as session:
        repository = TrainingRepository(session)
        taken = await DraftRepository(session).take(user.id, FLOW_ABSENCE)
        mine = await repository.participation(training_id, account.employee_id)
        moved = (
            mine is not None
            and taken is not None
            and _moment(taken.data.get("starts_at")) != mine.training.starts_at
        )
        saved = (
            taken is not None
            and not moved
            and _answerable(mine, now)
            and await repository.set_attendance(
                training_id, account.employee_id, TIDAK_HADIR, reason=reason, now=now
            )
        )
        if saved:
            mine = await repository.participation(training_id, account.employee_id)
    if moved and mine is not None and _answerable(mine, now):
        text, keyboard = my_card(mine, t)
        await message.reply_text(
            escape(t("The time of this training has changed. Please answer again:"))
            + "\n\n"
            + text,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )
        return
    if not saved or mine is None:
        await message.reply_text(
            t(
                "This training can no longer be answered (it was cancelled or has ended). "
                "Send /pelatihan to see your trainings."
            )
        )
        return
    text, keyboard = my_card(mine, t)
    await message.reply_text(
        escape(t("Thank you. Your answer is saved: not attending.")) + "\n\n" + text,
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
    )
    chat_id, message_id = draft.data.get("chat_id"), draft.data.get("message_id")
    if chat_id and message_id:
        with contextlib.suppress(TelegramError):  # a courtesy: the old card shows the answer
            await context.bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
            )


async def absence_cancel(update: Update, context: BotContext, draft: DraftState) -> None:
    assert update.effective_message is not None and update.effective_user is not None
    async with context.session() as session:
        await DraftRepository(session).clear(update.effective_user.id, FLOW_ABSENCE)
    await update.effective_message.reply_text(context.t("Cancelled. Your answer was not changed."))


# =========================================================================== HR: views
def _counts_line(counts: AttendanceCounts, t: Translator) -> str:
    return t(
        "✅ {hadir} · ❌ {absent} · ❔ {unknown} of {total}",
        hadir=t.number(counts.hadir),
        absent=t.number(counts.tidak_hadir),
        unknown=t.number(counts.unknown),
        total=t.number(counts.total),
    )


async def hr_list_view(context: BotContext) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    async with context.session() as session:
        summaries = await TrainingRepository(session).upcoming_for_hr(limit=LIST_LIMIT)
    rows: Buttons = []
    if not summaries:
        lines = [escape(t("There are no upcoming trainings."))]
    else:
        heading = t("Upcoming trainings")
        lines = [f"<b>{escape(heading)}</b>"]
        for number, summary in enumerate(summaries, start=1):
            training = summary.training
            lines += [
                "",
                f"{number}. <b>{escape(training.title)}</b> <code>{escape(training.code)}</code>",
                "🗓 " + escape(when_text(training, t)),
                escape(_counts_line(summary.counts, t)),
            ]
            label = f"{number}. {training.title}"
            rows.append(
                [(label if len(label) <= 48 else label[:47] + "…", f"hrl:open:{training.id}")]
            )
    rows.append([(t("➕ New training"), "hrl:new")])
    return "\n".join(lines), markup(rows)


def hr_card_view(card: TrainingCard, t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    training, counts = card.training, card.counts
    lines = [
        card_html(training, t, with_code=True),
        "",
        escape(t("Participants: {n}", n=t.number(counts.total))),
        escape(t("✅ Attending: {n}", n=t.number(counts.hadir))),
        escape(t("❌ Not attending: {n}", n=t.number(counts.tidak_hadir))),
        escape(t("❔ Not answered: {n}", n=t.number(counts.unknown))),
    ]
    for absentee in card.absentees:
        reason = f" — {escape(absentee.reason)}" if absentee.reason else ""
        lines.append(f"• {escape(absentee.name)}{reason}")
    if counts.tidak_hadir > len(card.absentees):
        more = counts.tidak_hadir - len(card.absentees)
        lines.append(escape(t("…and {n} more (see the attendance list).", n=t.number(more))))
    rows: Buttons = [[(t("📥 Download attendance list"), f"hrl:xlsx:{training.id}")]]
    if training.is_open():
        rows.append(
            [
                (t("🕒 Change time"), f"hrl:move:{training.id}"),
                (t("🚫 Cancel training"), f"hrl:cancel:{training.id}"),
            ]
        )
    rows.append([(t("↩ List"), "hrl:list")])
    return "\n".join(lines), markup(rows)


async def _load_card(context: BotContext, training_id: int) -> TrainingCard | None:
    async with context.session() as session:
        return await TrainingRepository(session).card(training_id, absentees=ABSENTEES_SHOWN)


def _is_hr(context: BotContext) -> bool:
    return allowed_audience(Audience.HR_ADMIN, context.account)


@require(Audience.HR_ADMIN)
async def hr_trainings(update: Update, context: BotContext) -> None:
    message = update.effective_message
    assert message is not None
    t = context.t
    code = " ".join(context.args or []).strip()
    if code:
        async with context.session() as session:
            training = await TrainingRepository(session).by_code(code)
        card = await _load_card(context, training.id) if training is not None else None
        if card is None:
            await message.reply_text(t("No training has the code {code}.", code=code))
            return
        text, keyboard = hr_card_view(card, t)
    else:
        text, keyboard = await hr_list_view(context)
    await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


# =========================================================================== HR: creation
def _example(context: BotContext) -> str:
    day = (utcnow().astimezone(_zone(context)) + dt.timedelta(days=7)).date()
    return f"{day:%d/%m/%Y} 08.00"


def _flow_buttons(t: Translator, code: str, step: str, *, back: bool) -> Buttons:
    row = [(t("↩ Back"), f"hrl:back:{code}:{step}")] if back else []
    row.append((t("✖ Cancel"), f"hrl:stop:{code}"))
    return [row]


def _current_value(step: str, data: dict[str, Any], t: Translator) -> str | None:
    if step == "title" and data.get("title"):
        return escape(data["title"])
    if step == "start" and data.get("start"):
        return escape(t.datetime(dt.datetime.fromisoformat(data["start"])))
    if step == "end" and data.get("end"):
        return escape(t.datetime(dt.datetime.fromisoformat(data["end"])))
    if step == "place" and (data.get("place") or data.get("link")):
        return escape(" ".join(v for v in (data.get("place"), data.get("link")) if v))
    return None


def new_step_view(
    context: BotContext, step: str, data: dict[str, Any], note: str | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    prompt = (
        t(STEP_PROMPTS[step], example=_example(context))
        if step == "start"
        else t(STEP_PROMPTS[step])
    )
    lines = [escape(note), ""] if note else []
    lines.append(escape(prompt))
    current = _current_value(step, data, t)
    if current:
        lines.append(t("Now: {value}", value=current))
    lines.append(escape(t("Send /batal to stop.")))
    back = step != "title" or bool(data.get("editing"))
    rows = _flow_buttons(t, "n", step, back=back)
    if step == "people":
        rows.insert(0, [(t("🏢 Choose a unit"), "hrl:units:0")])
    return "\n".join(lines), markup(rows)


async def _people_ids(session: AsyncSession, data: dict[str, Any]) -> list[int]:
    people = data.get("people") or {}
    if people.get("kind") == "unit":
        return await TrainingRepository(session).unit_member_ids(int(people["unit_id"]))
    return [int(i) for i in people.get("ids", [])]


async def summary_view(
    context: BotContext, data: dict[str, Any]
) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    async with context.session() as session:
        repository = TrainingRepository(session)
        ids = await _people_ids(session, data)
        names = await repository.employee_names(ids, limit=PEOPLE_PREVIEW)
    people = data.get("people") or {}
    start, end = dt.datetime.fromisoformat(data["start"]), dt.datetime.fromisoformat(data["end"])
    heading = t("Please check the new training:")
    lines = [
        f"<b>{escape(heading)}</b>",
        "",
        f"<b>{escape(data['title'])}</b>",
        "🗓 " + escape(when_range(start, end, t)),
    ]
    if data.get("place"):
        lines.append("📍 " + escape(data["place"]))
    if data.get("link"):
        lines.append("🔗 " + escape(data["link"]))
    if people.get("kind") == "unit":
        who = t("Participants: {n} (all of {unit})", n=t.number(len(ids)), unit=people["unit"])
    else:
        who = t("Participants: {n}", n=t.number(len(ids)))
    lines.append("👥 " + escape(who))
    preview = ", ".join(names) + (", …" if len(ids) > len(names) else "")
    if preview:
        lines.append(escape(preview))
    rows: Buttons = [
        [(t("💾 Save"), "hrl:save"), (t("✏️ Change"), "hrl:edit")],
        [(t("✖ Cancel"), "hrl:stop:n")],
    ]
    return "\n".join(lines), markup(rows)


def edit_menu_view(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    rows: Buttons = [
        [(t(FIELD_LABELS[f]), f"hrl:field:{f}") for f in NEW_STEPS[:3]],
        [(t(FIELD_LABELS[f]), f"hrl:field:{f}") for f in NEW_STEPS[3:]],
        [(t("↩ Back"), "hrl:summary")],
    ]
    return escape(t("What do you want to change?")), markup(rows)


async def units_view(context: BotContext, page: int) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    async with context.session() as session:
        units, total = await TrainingRepository(session).units(
            offset=page * UNITS_PER_PAGE, limit=UNITS_PER_PAGE
        )
    rows = _unit_rows(units)
    pages = max(1, -(-total // UNITS_PER_PAGE))
    nav: list[tuple[str, str]] = []
    if page > 0:
        nav.append(("◀", f"hrl:units:{page - 1}"))
    if page + 1 < pages:
        nav.append(("▶", f"hrl:units:{page + 1}"))
    if nav:
        rows.append(nav)
    rows += _flow_buttons(t, "n", "people", back=True)
    text = t(
        "Choose the unit whose staff take part (page {page} of {pages}):",
        page=t.number(page + 1),
        pages=t.number(pages),
    )
    return escape(text), markup(rows)


def _unit_rows(units: list[UnitChoice]) -> Buttons:
    rows: Buttons = []
    for unit in units:
        label = f"{unit.name} ({unit.members})"
        rows.append([(label if len(label) <= 48 else label[:47] + "…", f"hrl:unit:{unit.id}")])
    return rows


async def _save_step(
    context: BotContext, user_id: int, flow: str, step: str, data: dict[str, Any]
) -> None:
    async with context.session() as session:
        await DraftRepository(session).put(user_id, flow, step, data)


async def _after_field(
    update: Update, context: BotContext, data: dict[str, Any], step: str
) -> None:
    """Go on after ``step`` was answered: the next step, or back to the summary."""
    user = update.effective_user
    assert user is not None and update.effective_message is not None
    if data.get("editing") or step == NEW_STEPS[-1]:
        data.pop("editing", None)
        await _save_step(context, user.id, FLOW_NEW, CONFIRM, data)
        text, keyboard = await summary_view(context, data)
    else:
        following = NEW_STEPS[NEW_STEPS.index(step) + 1]
        await _save_step(context, user.id, FLOW_NEW, following, data)
        text, keyboard = new_step_view(context, following, data)
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=keyboard
    )


async def _reply_again(
    update: Update, context: BotContext, step: str, data: dict[str, Any], problem: str
) -> None:
    assert update.effective_message is not None
    text, keyboard = new_step_view(context, step, data, note=problem)
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=keyboard
    )


async def _hr_text_guard(update: Update, context: BotContext, flow: str) -> bool:
    """HR flows stop when the role is gone (it is read fresh for every update)."""
    if _is_hr(context):
        return True
    assert update.effective_user is not None
    async with context.session() as session:
        await DraftRepository(session).clear(update.effective_user.id, flow)
    await refuse(update, context, Audience.HR_ADMIN)
    return False


async def new_text(update: Update, context: BotContext, draft: DraftState) -> None:
    if not await _hr_text_guard(update, context, FLOW_NEW):
        return
    t, text, data, step = context.t, _typed(update), dict(draft.data), draft.step
    zone = _zone(context)
    if step == "title":
        if not TITLE_MIN <= len(text) <= TITLE_MAX:
            problem = t("The title needs 3 to 300 characters.")
            await _reply_again(update, context, step, data, problem)
            return
        data["title"] = text
    elif step == "start":
        start = parse_moment(text, zone)
        if start is None:
            problem = t("I could not read “{text}” as a date and time.", text=text)
            await _reply_again(update, context, step, data, problem)
            return
        if start <= utcnow():
            problem = t("The start must be in the future.")
            await _reply_again(update, context, step, data, problem)
            return
        data["start"] = start.isoformat()
        end = _moment(data.get("end"))
        if data.get("editing") and end is not None and end <= start:
            data.pop("end")
            await _save_step(context, draft.telegram_user_id, FLOW_NEW, "end", data)
            note = t("The end was before the new start; please give the end again.")
            await _reply_again(update, context, "end", data, note)
            return
    elif step == "end":
        start = _moment(data.get("start"))
        assert start is not None
        end = parse_moment(text, zone, day=start.astimezone(zone).date())
        if end is None:
            problem = t("I could not read “{text}” as a date and time.", text=text)
            await _reply_again(update, context, step, data, problem)
            return
        if end <= start:
            problem = t("The end must be after the start ({start}).", start=t.datetime(start))
            await _reply_again(update, context, step, data, problem)
            return
        data["end"] = end.isoformat()
    elif step == "place":
        place, link = split_place(text)
        if not place and not link:
            await _reply_again(update, context, step, data, t("Please type a place or a link."))
            return
        if len(place) > PLACE_MAX or (link is not None and len(link) > LINK_MAX):
            problem = t("That is too long: at most 300 characters, or 500 for a link.")
            await _reply_again(update, context, step, data, problem)
            return
        data["place"], data["link"] = place, link
    elif step == "people":
        await _people_text(update, context, draft, text)
        return
    else:  # the summary waits for a button
        summary, keyboard = await summary_view(context, data)
        await _reply_with_note(update, t("Please use the buttons below."), summary, keyboard)
        return
    await _after_field(update, context, data, step)


async def _reply_with_note(
    update: Update, note: str, text: str, keyboard: InlineKeyboardMarkup
) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        escape(note) + "\n\n" + text, parse_mode=ParseMode.HTML, reply_markup=keyboard
    )


async def _people_text(update: Update, context: BotContext, draft: DraftState, text: str) -> None:
    t, data = context.t, dict(draft.data)
    if looks_like_nips(text):
        typed = parse_nips(text)
        async with context.session() as session:
            found = await TrainingRepository(session).employees_by_nips(typed.nips)
        unknown = [nip for nip in typed.nips if nip not in found]
        if typed.invalid or unknown or not found:
            lines: list[str] = []
            for nip, problem in typed.invalid[:MAX_NIP_PROBLEMS]:
                lines.append(f"• {nip}: {nip_problem_text(nip, problem, t)}")
            if unknown:
                lines.append(
                    t("No active employee has these NIPs: {nips}", nips=", ".join(unknown))
                )
            if not lines:
                lines.append(t("Please send at least one NIP."))
            lines.append(t("Nobody was added. Please send the corrected list."))
            await _reply_again(update, context, "people", data, "\n".join(lines))
            return
        data["people"] = {"kind": "nips", "ids": [found[nip] for nip in typed.nips]}
        await _after_field(update, context, data, "people")
        return
    async with context.session() as session:
        matches = await TrainingRepository(session).search_units(text, limit=UNIT_MATCHES)
    if not matches:
        problem = t("No unit matches “{text}”. Type another part of the name.", text=text)
        await _reply_again(update, context, "people", data, problem)
        return
    exact = [unit for unit in matches if unit.name.lower() == text.lower()]
    if len(matches) == 1 or exact:
        await _choose_unit(update, context, data, (exact or matches)[0], edit=False)
        return
    rows = _unit_rows(matches) + _flow_buttons(t, "n", "people", back=True)
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        escape(t("Several units match. Which one?")), reply_markup=markup(rows)
    )


async def _choose_unit(
    update: Update, context: BotContext, data: dict[str, Any], unit: UnitChoice, *, edit: bool
) -> None:
    t = context.t
    if unit.members == 0:
        problem = t("{unit} has no active employees.", unit=unit.name)
        if edit:
            await stale_button(update, context, problem)
        else:
            await _reply_again(update, context, "people", data, problem)
        return
    data["people"] = {"kind": "unit", "unit_id": unit.id, "unit": unit.name}
    if not edit:
        await _after_field(update, context, data, "people")
        return
    assert update.effective_user is not None and update.callback_query is not None
    data.pop("editing", None)
    await _save_step(context, update.effective_user.id, FLOW_NEW, CONFIRM, data)
    text, keyboard = await summary_view(context, data)
    await update.callback_query.answer()
    await edit_html(update, text, keyboard)


async def hr_cancel_flow(update: Update, context: BotContext, draft: DraftState) -> None:
    """/batal in any HR flow."""
    assert update.effective_message is not None and update.effective_user is not None
    async with context.session() as session:
        await DraftRepository(session).clear(update.effective_user.id, draft.flow)
    await update.effective_message.reply_text(context.t("Cancelled. Nothing was changed."))


# =========================================================================== HR: move, cancel
def _move_view(
    context: BotContext, training: TrainingInfo, step: str, note: str | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    if step == "start":
        prompt = t(
            "New start of {title}? Type the date and time in WIB, e.g. {example}.",
            title=training.title,
            example=_example(context),
        )
    else:
        prompt = t(
            "New end? Type the date and time, or only the time if it ends the same day "
            "(e.g. 16.00)."
        )
    lines = [escape(note), ""] if note else []
    lines += [
        escape(prompt),
        escape(t("Now: {value}", value=when_text(training, t))),
        escape(t("Send /batal to stop.")),
    ]
    return "\n".join(lines), markup(_flow_buttons(t, "m", step, back=False))


async def _open_training(context: BotContext, training_id: int) -> TrainingInfo | None:
    async with context.session() as session:
        training = await TrainingRepository(session).get(training_id)
    return training if training is not None and training.is_open() else None


async def _flow_training_gone(update: Update, context: BotContext, flow: str) -> None:
    assert update.effective_message is not None and update.effective_user is not None
    async with context.session() as session:
        await DraftRepository(session).clear(update.effective_user.id, flow)
    await update.effective_message.reply_text(
        context.t("This training can no longer be changed (it was cancelled or has ended).")
    )


async def move_text(update: Update, context: BotContext, draft: DraftState) -> None:
    if not await _hr_text_guard(update, context, FLOW_MOVE):
        return
    message = update.effective_message
    assert message is not None
    t, text, data, zone = context.t, _typed(update), dict(draft.data), _zone(context)
    training = await _open_training(context, int(data.get("training_id", 0)))
    if training is None:
        await _flow_training_gone(update, context, FLOW_MOVE)
        return
    if draft.step == "start":
        start = parse_moment(text, zone)
        problem = None
        if start is None:
            problem = t("I could not read “{text}” as a date and time.", text=text)
        elif start <= utcnow():
            problem = t("The start must be in the future.")
        if problem is not None or start is None:
            view, keyboard = _move_view(context, training, "start", problem)
            await message.reply_text(view, parse_mode=ParseMode.HTML, reply_markup=keyboard)
            return
        data["start"] = start.isoformat()
        await _save_step(context, draft.telegram_user_id, FLOW_MOVE, "end", data)
        view, keyboard = _move_view(context, training, "end")
        await message.reply_text(view, parse_mode=ParseMode.HTML, reply_markup=keyboard)
        return
    if draft.step == "end":
        start = _moment(data.get("start"))
        assert start is not None
        end = parse_moment(text, zone, day=start.astimezone(zone).date())
        problem = None
        if end is None:
            problem = t("I could not read “{text}” as a date and time.", text=text)
        elif end <= start:
            problem = t("The end must be after the start ({start}).", start=t.datetime(start))
        if problem is not None or end is None:
            view, keyboard = _move_view(context, training, "end", problem)
            await message.reply_text(view, parse_mode=ParseMode.HTML, reply_markup=keyboard)
            return
        data["end"] = end.isoformat()
        await _save_step(context, draft.telegram_user_id, FLOW_MOVE, CONFIRM, data)
        async with context.session() as session:
            counts = await TrainingRepository(session).counts(training.id)
        view = "\n".join(
            [
                t("Move {title}?", title=f"<b>{escape(training.title)}</b>"),
                escape(t("From: {when}", when=when_text(training, t))),
                escape(t("To: {when}", when=when_range(start, end, t))),
                "",
                escape(
                    t(
                        "Every answer goes back to “not answered” and the {n} participants "
                        "are told once.",
                        n=t.number(counts.total),
                    )
                ),
            ]
        )
        keyboard = markup(
            [
                [(t("✅ Yes, move it"), f"hrl:move!:{training.id}")],
                [(t("✖ Cancel"), "hrl:stop:m")],
            ]
        )
        await message.reply_text(view, parse_mode=ParseMode.HTML, reply_markup=keyboard)
        return
    await message.reply_text(t("Please use the buttons above, or send /batal."))


async def cancel_text(update: Update, context: BotContext, draft: DraftState) -> None:
    if not await _hr_text_guard(update, context, FLOW_CANCEL):
        return
    message = update.effective_message
    assert message is not None
    t, text, data = context.t, _typed(update), dict(draft.data)
    training = await _open_training(context, int(data.get("training_id", 0)))
    if training is None:
        await _flow_training_gone(update, context, FLOW_CANCEL)
        return
    if draft.step != "reason":
        await message.reply_text(t("Please use the buttons above, or send /batal."))
        return
    if not CANCEL_REASON_MIN <= len(text) <= REASON_MAX:
        await message.reply_text(t("The reason needs 3 to 300 characters."))
        return
    data["reason"] = text
    await _save_step(context, draft.telegram_user_id, FLOW_CANCEL, CONFIRM, data)
    async with context.session() as session:
        counts = await TrainingRepository(session).counts(training.id)
    view = "\n".join(
        [
            t("Cancel {title}?", title=f"<b>{escape(training.title)}</b>"),
            "🗓 " + escape(when_text(training, t)),
            escape(t("Reason: {reason}", reason=text)),
            "",
            escape(t("The {n} participants are told once.", n=t.number(counts.total))),
        ]
    )
    keyboard = markup(
        [
            [(t("✅ Yes, cancel it"), f"hrl:cancel!:{training.id}")],
            [(t("↩ No, keep it"), "hrl:stop:c")],
        ]
    )
    await message.reply_text(view, parse_mode=ParseMode.HTML, reply_markup=keyboard)


# =========================================================================== HR: buttons
@require(Audience.HR_ADMIN)
async def on_hr_button(update: Update, context: BotContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    match = _HR.match(query.data or "")
    if match is None:
        await stale_button(update, context)
        return
    action, args = match[1], [a for a in match[2].split(":") if a]
    handler = _HR_ACTIONS.get(action)
    if handler is None:
        await stale_button(update, context)
        return
    await handler(update, context, args)


def _id(args: list[str]) -> int | None:
    return parse_id(args[0]) if len(args) == 1 else None


async def _hr_list(update: Update, context: BotContext, args: list[str]) -> None:
    assert update.callback_query is not None
    text, keyboard = await hr_list_view(context)
    await update.callback_query.answer()
    await edit_html(update, text, keyboard)


async def _hr_open(update: Update, context: BotContext, args: list[str]) -> None:
    assert update.callback_query is not None
    training_id = _id(args)
    card = await _load_card(context, training_id) if training_id is not None else None
    if card is None:
        await stale_button(update, context)
        return
    text, keyboard = hr_card_view(card, context.t)
    await update.callback_query.answer()
    await edit_html(update, text, keyboard)


async def _hr_xlsx(update: Update, context: BotContext, args: list[str]) -> None:
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and chat is not None
    t = context.t
    training_id = _id(args)
    async with context.session() as session:
        repository = TrainingRepository(session)
        training = await repository.get(training_id) if training_id is not None else None
        rows = await repository.attendance_rows(training.id) if training is not None else []
    if training is None:
        await stale_button(update, context)
        return
    await query.answer()
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_DOCUMENT)
    if len(rows) > _THREAD_ROWS:
        content = await asyncio.to_thread(attendance_workbook, training, rows, t)
    else:
        content = attendance_workbook(training, rows, t)
    await context.bot.send_document(
        chat.id,
        content,
        filename=attendance_file_name(training, t),
        caption=t("Attendance list: {title}", title=training.title)[:1000],
    )


async def _hr_move(update: Update, context: BotContext, args: list[str]) -> None:
    await _start_change(update, context, args, FLOW_MOVE)


async def _hr_cancel(update: Update, context: BotContext, args: list[str]) -> None:
    await _start_change(update, context, args, FLOW_CANCEL)


async def _start_change(update: Update, context: BotContext, args: list[str], flow: str) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    t = context.t
    training_id = _id(args)
    training = await _open_training(context, training_id) if training_id is not None else None
    if training is None:
        await stale_button(update, context)
        return
    step = "start" if flow == FLOW_MOVE else "reason"
    async with context.session() as session:
        await begin(context, session, user.id, flow, step, {"training_id": training.id})
    await query.answer()
    if flow == FLOW_MOVE:
        text, keyboard = _move_view(context, training, "start")
    else:
        prompt = t(
            "Why is {title} cancelled? Write a short reason; the participants will read it.",
            title=f"<b>{escape(training.title)}</b>",
        )
        text = prompt + "\n" + escape(t("Send /batal to stop."))
        keyboard = markup([[(t("↩ No, keep it"), "hrl:stop:c")]])
    await send_html(update, context, text, keyboard)


async def _take_confirmed(
    session: AsyncSession, user_id: int, flow: str, training_id: int | None
) -> DraftState | None:
    """The flow's draft if it waits for exactly this confirmation (then it is removed)."""
    drafts = DraftRepository(session)
    draft = await drafts.get(user_id, flow)
    if (
        draft is None
        or training_id is None
        or draft.step != CONFIRM
        or draft.data.get("training_id") != training_id
    ):
        return None
    return await drafts.take(user_id, flow)


async def _hr_move_confirmed(update: Update, context: BotContext, args: list[str]) -> None:
    query, user, account = update.callback_query, update.effective_user, context.account
    assert query is not None and user is not None and account is not None
    t = context.t
    training_id = _id(args)
    async with context.session() as session:
        draft = await _take_confirmed(session, user.id, FLOW_MOVE, training_id)
        start = _moment(draft.data.get("start")) if draft else None
        end = _moment(draft.data.get("end")) if draft else None
        moved = None
        if draft is not None and start is not None and end is not None and start > utcnow():
            assert training_id is not None
            moved = await move_training(
                session,
                context,
                training_id,
                starts_at=start,
                ends_at=end,
                actor_id=account.employee_id,
            )
            counts = await TrainingRepository(session).counts(training_id)
    if moved is None:
        await stale_button(update, context)
        return
    await query.answer(t("Saved."))
    text = "\n\n".join(
        [
            escape(
                t(
                    "The new time is saved. The {n} participants are told and asked to "
                    "answer again.",
                    n=t.number(counts.total),
                )
            ),
            card_html(moved, t, with_code=True),
        ]
    )
    await edit_html(update, text, markup([[(t("↩ Back to the training"), f"hrl:open:{moved.id}")]]))


async def _hr_cancel_confirmed(update: Update, context: BotContext, args: list[str]) -> None:
    query, user, account = update.callback_query, update.effective_user, context.account
    assert query is not None and user is not None and account is not None
    t = context.t
    training_id = _id(args)
    async with context.session() as session:
        draft = await _take_confirmed(session, user.id, FLOW_CANCEL, training_id)
        cancelled = None
        if draft is not None and draft.data.get("reason"):
            assert training_id is not None
            cancelled = await cancel_training(
                session,
                context,
                training_id,
                reason=str(draft.data["reason"]),
                actor_id=account.employee_id,
            )
            counts = await TrainingRepository(session).counts(training_id)
    if cancelled is None:
        await stale_button(update, context)
        return
    await query.answer(t("Saved."))
    text = "\n\n".join(
        [
            escape(
                t(
                    "The training is cancelled. The {n} participants are told.",
                    n=t.number(counts.total),
                )
            ),
            card_html(cancelled, t, with_code=True),
        ]
    )
    await edit_html(update, text, markup([[(t("↩ List"), "hrl:list")]]))


async def _hr_stop(update: Update, context: BotContext, args: list[str]) -> None:
    """``stop:<flow code>``: leave the flow, nothing saved."""
    await stop_button(update, context, FLOW_CODES.get(args[0]) if len(args) == 1 else None)


async def _new_draft(
    update: Update, context: BotContext, step: str | tuple[str, ...] | None = None
) -> DraftState | None:
    """The creation draft if it is at ``step`` (any step when ``None``); else a stale alert."""
    assert update.effective_user is not None
    async with context.session() as session:
        draft = await DraftRepository(session).get(update.effective_user.id, FLOW_NEW)
    steps = (step,) if isinstance(step, str) else step
    if draft is None or (steps is not None and draft.step not in steps):
        await stale_button(update, context)
        return None
    return draft


async def _hr_new(update: Update, context: BotContext, args: list[str]) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    async with context.session() as session:
        await begin(context, session, user.id, FLOW_NEW, "title", {})
    await query.answer()
    text, keyboard = new_step_view(context, "title", {})
    await send_html(update, context, text, keyboard)


async def _hr_back(update: Update, context: BotContext, args: list[str]) -> None:
    if len(args) != 2 or args[0] != "n" or args[1] not in NEW_STEPS:
        await stale_button(update, context)
        return
    draft = await _new_draft(update, context, args[1])
    if draft is None:
        return
    assert update.callback_query is not None
    data = dict(draft.data)
    if data.get("editing"):
        data.pop("editing")
        target = CONFIRM
    elif args[1] == "title":
        await stale_button(update, context)
        return
    else:
        target = NEW_STEPS[NEW_STEPS.index(args[1]) - 1]
    await _save_step(context, draft.telegram_user_id, FLOW_NEW, target, data)
    if target == CONFIRM:
        text, keyboard = await summary_view(context, data)
    else:
        text, keyboard = new_step_view(context, target, data)
    await update.callback_query.answer()
    await edit_html(update, text, keyboard)


async def _hr_units(update: Update, context: BotContext, args: list[str]) -> None:
    page = _id(args)
    draft = await _new_draft(update, context, "people")
    if draft is None:
        return
    if page is None:
        await stale_button(update, context)
        return
    assert update.callback_query is not None
    text, keyboard = await units_view(context, page)
    await update.callback_query.answer()
    await edit_html(update, text, keyboard)


async def _hr_unit(update: Update, context: BotContext, args: list[str]) -> None:
    unit_id = _id(args)
    draft = await _new_draft(update, context, "people")
    if draft is None:
        return
    async with context.session() as session:
        unit = await TrainingRepository(session).unit(unit_id) if unit_id is not None else None
    if unit is None:
        await stale_button(update, context)
        return
    await _choose_unit(update, context, dict(draft.data), unit, edit=True)


async def _hr_edit(update: Update, context: BotContext, args: list[str]) -> None:
    if await _new_draft(update, context, CONFIRM) is None:
        return
    assert update.callback_query is not None
    text, keyboard = edit_menu_view(context.t)
    await update.callback_query.answer()
    await edit_html(update, text, keyboard)


async def _hr_summary(update: Update, context: BotContext, args: list[str]) -> None:
    draft = await _new_draft(update, context, CONFIRM)
    if draft is None:
        return
    assert update.callback_query is not None
    text, keyboard = await summary_view(context, dict(draft.data))
    await update.callback_query.answer()
    await edit_html(update, text, keyboard)


async def _hr_field(update: Update, context: BotContext, args: list[str]) -> None:
    if len(args) != 1 or args[0] not in NEW_STEPS:
        await stale_button(update, context)
        return
    draft = await _new_draft(update, context, CONFIRM)
    if draft is None:
        return
    assert update.callback_query is not None
    data = {**draft.data, "editing": True}
    await _save_step(context, draft.telegram_user_id, FLOW_NEW, args[0], data)
    text, keyboard = new_step_view(context, args[0], data)
    await update.callback_query.answer()
    await edit_html(update, text, keyboard)


async def _hr_save(update: Update, context: BotContext, args: list[str]) -> None:
    query, user, account = update.callback_query, update.effective_user, context.account
    assert query is not None and user is not None and account is not None
    t = context.t
    if await _new_draft(update, context, CONFIRM) is None:
        return
    problem: tuple[str, str] | None = None
    training: TrainingInfo | None = None
    async with context.session() as session:
        draft = await DraftRepository(session).take(user.id, FLOW_NEW)
        if draft is not None and draft.step == CONFIRM:
            data = dict(draft.data)
            start, end = _moment(data.get("start")), _moment(data.get("end"))
            ids = await _people_ids(session, data)
            if not data.get("title") or start is None or end is None or end <= start:
                problem = ("title", t("Some details are missing; please give them again."))
            elif start <= utcnow():
                problem = ("start", t("The start must be in the future."))
            elif not ids:
                problem = ("people", t("Nobody takes part; please choose the participants."))
            else:
                training, told = await create_training(
                    session,
                    context,
                    title=data["title"],
                    starts_at=start,
                    ends_at=end,
                    place=data.get("place") or "",
                    online_link=data.get("link"),
                    employee_ids=ids,
                    actor_id=account.employee_id,
                )
            if problem is not None:  # back to the step to fix, the draft kept
                await DraftRepository(session).put(user.id, FLOW_NEW, problem[0], data)
    if draft is None or draft.step != CONFIRM:
        await stale_button(update, context)
        return
    if problem is not None:
        await query.answer()
        text, keyboard = new_step_view(context, problem[0], data, note=problem[1])
        await edit_html(update, text, keyboard)
        return
    assert training is not None
    await query.answer(t("Saved."))
    text = "\n\n".join(
        [
            escape(
                t(
                    "Saved as {code}: {n} participants; {told} of them are told in Telegram.",
                    code=training.code,
                    n=t.number(len(set(ids))),
                    told=t.number(told),
                )
            ),
            card_html(training, t, with_code=True),
        ]
    )
    await edit_html(update, text, markup([[(t("📋 Open"), f"hrl:open:{training.id}")]]))


_HR_ACTIONS = {
    "list": _hr_list,
    "open": _hr_open,
    "xlsx": _hr_xlsx,
    "move": _hr_move,
    "cancel": _hr_cancel,
    "move!": _hr_move_confirmed,
    "cancel!": _hr_cancel_confirmed,
    "stop": _hr_stop,
    "new": _hr_new,
    "back": _hr_back,
    "units": _hr_units,
    "unit": _hr_unit,
    "edit": _hr_edit,
    "summary": _hr_summary,
    "field": _hr_field,
    "save": _hr_save,
}


# =========================================================================== wiring
FLOWS = (
    Flow(FLOW_ABSENCE, absence_text, absence_cancel),
    Flow(FLOW_NEW, new_text, hr_cancel_flow),
    Flow(FLOW_MOVE, move_text, hr_cancel_flow),
    Flow(FLOW_CANCEL, cancel_text, hr_cancel_flow),
)


def register(application: Application) -> None:
    """Commands and buttons (group 0, before the fallback) and the typed-answer flows."""
    message = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("pelatihan", my_trainings, filters=message))
    application.add_handler(CommandHandler("hr_pelatihan", hr_trainings, filters=message))
    application.add_handler(CallbackQueryHandler(on_answer, pattern=f"^{re.escape(ANSWER_PREFIX)}"))
    application.add_handler(CallbackQueryHandler(on_hr_button, pattern=f"^{re.escape(HR_PREFIX)}"))
    for flow in FLOWS:
        register_flow(application, flow)
