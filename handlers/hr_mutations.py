"""/hr_mutasi for HR (BKPSDM): see, move and create mutations (mutasi) in chat.

``/hr_mutasi NIP``: a header with the employee and a **➕ New mutation** button, then one HR
card per mutation (newest first, at most :data:`CARDS_SHOWN`), each with buttons for exactly
the stages the stage machine allows next (``bot.rules.stages.next_stages``).

``/hr_mutasi`` alone: the overview — how many mutations are at each stage (every stage, in
the timeline's order, with the totals of active, completed and cancelled ones) and those
stuck in one stage for more than ``MUTATION_STUCK_DAYS`` days (the first
:data:`STUCK_SHOWN`, longest first), then the same as an XLSX file
(``storage.exports.mutations``).

Moving a stage (draft ``mutation_move``): a stage button ``hrm:go:{employee}:{mutation}:
{from}:{to}`` starts it; what the target needs is asked in order and checked as typed —
``dikembalikan``: reason, then the missing documents (a list); ``sk_terbit``: SK number, SK
date (not in the future), TMT (not before the SK date), then the inauguration date and time
in WIB (optional); ``dibatalkan``: reason; any other target: a note (optional). Optional
steps have a Skip button. A summary (from → to, the fields, the note) ends with Save /
Cancel; Save calls ``bot.mutations.change_stage`` with the stage HR saw, which records the
change only if the mutation is still there (so a double tap or a colleague's change
meanwhile saves nothing twice) and queues the notices in the same transaction.

Creating (draft ``mutation_new``): type (three buttons) → target unit (type part of the name;
our matching units as buttons; for a move between agencies any text is accepted as the other
government's unit) → position → the new supervisor's NIP (optional; a known active employee)
→ note (optional) → [reason for a transfer before 2 years] → summary → Save / Cancel →
``bot.mutations.create_mutation``. When the employee's TMT jabatan is known and they have been
in the post for less than two full years on the local today (``bot.rules.talent``), the
summary says so and an extra step asks why (at least :data:`EARLY_REASON_MIN` characters);
the reason goes into the audit entry of the creation and into the mutation's note. Save checks
the TMT again: if it now makes the transfer early and no reason was given, the step is asked.
An unknown TMT is shown on the summary ("TMT jabatan not filled in") and does not block.

Every press is checked again on the server: the presser must be HR (read from the database
for every update), the mutation must exist, belong to the employee named in the button and
still be at the stage the button was made for, the target must be one the machine offers,
and a flow button must match the draft's current step. ``callback_data`` only names what to
look up; anything that does not match is answered with the stale-button alert and changes
nothing. ``/batal`` leaves either flow.

Decisions:

* One active mutation per employee: a new one is refused while another is not yet
  ``selesai`` or ``dibatalkan`` (two open proposals would contradict each other in the
  employee's timeline and in the move applied at ``pelantikan``). HR finishes or cancels the
  open one first. The check runs when the creation starts and again when it is saved.
* An SK number must contain at least one digit (catches "-", "belum", "ok"); an SK date
  before 1990 is taken for a typo.
* The inauguration, when given, may not be before the SK date. It is asked only on the way
  to ``sk_terbit`` (the employee's card then says when to attend).
* The list of missing documents is limited to :data:`DOCUMENTS_TEXT_MAX` characters in all,
  so the employee's card stays within one Telegram message.
* The overview's XLSX is sent with every ``/hr_mutasi`` that has any mutation at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.i18n import Translator
from bot.menus import Audience, allowed_audience
from bot.mutations import (
    MESSAGE_MAX,
    card_html,
    change_stage,
    clip_lines,
    create_mutation,
    local_today,
    problem_text,
    stage_label,
    type_label,
)
from bot.rules.stages import (
    DOCUMENT_MAX,
    DOCUMENTS_MAX,
    REASON_MAX,
    SK_NUMBER_MAX,
    MutationType,
    Stage,
    StageChange,
    TransitionProblem,
    next_stages,
    split_documents,
)
from bot.rules.talent import ELIGIBILITY_LABELS, Eligibility, eligibility, full_years
from bot.trainings import nip_problem_text, parse_moment, parse_nips
from handlers.access import refuse, require, stale_button
from handlers.flows import Flow, begin, register_flow, stop_button
from handlers.replies import Buttons, button_router, edit_html, markup, parse_id, send_html
from storage.exports.mutations import (
    days_in_stage,
    ordered_counts,
    overview_file_name,
    overview_workbook,
    totals,
)
from storage.importers.cells import parse_date
from storage.models import utcnow
from storage.repositories import EmployeeCard, EmployeeDirectory
from storage.repositories.drafts import DraftRepository, DraftState
from storage.repositories.mutations import MutationRepository, MutationView, StuckMutation
from storage.repositories.rotation import RotationRepository
from storage.repositories.trainings import TrainingRepository, UnitChoice

PREFIX = "hrm:"
FLOW_MOVE = "mutation_move"
FLOW_NEW = "mutation_new"
FLOW_CODES = {"m": FLOW_MOVE, "n": FLOW_NEW}
CONFIRM = "confirm"

# Short codes keep ``hrm:go:{employee}:{mutation}:{from}:{to}`` within Telegram's 64 bytes.
STAGE_CODES: dict[Stage, str] = {
    Stage.DIUSULKAN: "us",
    Stage.VERIFIKASI: "ve",
    Stage.DIKEMBALIKAN: "ke",
    Stage.PERTIMBANGAN_TPK: "tp",
    Stage.PERTEK_BKN: "bk",
    Stage.SK_TERBIT: "sk",
    Stage.PELANTIKAN: "pl",
    Stage.SELESAI: "se",
    Stage.DIBATALKAN: "ba",
}
CODE_STAGES = {code: stage for stage, code in STAGE_CODES.items()}
TYPE_CODES: dict[MutationType, str] = {
    MutationType.ROTASI: "r",
    MutationType.PROMOSI: "p",
    MutationType.ANTAR_INSTANSI: "a",
}
CODE_TYPES = {code: kind for kind, code in TYPE_CODES.items()}
TYPE_BUTTONS: dict[MutationType, str] = {
    MutationType.ROTASI: "🔁",
    MutationType.PROMOSI: "⬆️",
    MutationType.ANTAR_INSTANSI: "🏛",
}
UNIT_TYPED = "typed"  # hrm:unit:typed — the other government's unit as HR typed it

MOVE_OPTIONAL = frozenset({"inauguration", "note"})
NEW_STEPS = ("type", "unit", "position", "supervisor", "note")
NEW_OPTIONAL = frozenset({"supervisor", "note"})
EARLY_STEP = "early_reason"  # only for someone under MIN_YEARS full years in the post
EARLY_REASON_MIN = 10

CARDS_SHOWN = 5
STUCK_SHOWN = 15
UNIT_MATCHES = 8
NAME_SHOWN = 60
REASON_MIN = 3
SK_NUMBER_MIN = 3
EARLIEST_SK_YEAR = 1990
DOCUMENTS_TEXT_MAX = 1500
UNIT_MIN, UNIT_MAX = 3, 200
POSITION_MIN, POSITION_MAX = 2, 200
_THREAD_ROWS = 500  # above this many stuck mutations the workbook is built in a thread

_BUTTON = re.compile(r"^hrm:([a-z!]+)((?::[a-z0-9_]{1,18}){0,5})$")


# --------------------------------------------------------------------------- small helpers
def _zone(context: BotContext) -> ZoneInfo:
    return ZoneInfo(context.settings.timezone)


def _typed(update: Update) -> str:
    message = update.effective_message
    return (message.text or "").strip() if message is not None else ""


def _int(value: str) -> int | None:
    return parse_id(value)


def _shorten(text: str, limit: int = NAME_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _is_hr(context: BotContext) -> bool:
    return allowed_audience(Audience.HR_ADMIN, context.account)


async def _reply(
    update: Update, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=reply_markup
    )


async def _save_step(
    context: BotContext, user_id: int, flow: str, step: str, data: dict[str, Any]
) -> None:
    async with context.session() as session:
        await DraftRepository(session).put(user_id, flow, step, data)


def _date_example(context: BotContext) -> str:
    return f"{local_today(context.settings):%d/%m/%Y}"


def _moment_example(context: BotContext) -> str:
    day = local_today(context.settings) + dt.timedelta(days=7)
    return f"{day:%d/%m/%Y} 09.00"


# =========================================================================== cards
def stage_button_label(target: Stage, t: Translator) -> str:
    icon = {Stage.DIKEMBALIKAN: "↩️", Stage.DIBATALKAN: "✖"}.get(target, "➡️")
    return f"{icon} {stage_label(target, t)}"


def stage_buttons(view: MutationView, t: Translator) -> Buttons:
    """One button per stage the mutation may move to next (none once it is final)."""
    current = Stage(view.stage)
    return [
        [
            (
                stage_button_label(target, t),
                f"{PREFIX}go:{view.employee_id}:{view.id}:"
                f"{STAGE_CODES[current]}:{STAGE_CODES[target]}",
            )
        ]
        for target in next_stages(current, view.external)
    ]


def card_view(
    view: MutationView, t: Translator, *, hr_contact: str, head: str | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The HR card of one mutation and its next-stage buttons (``head``: HTML put above)."""
    text = card_html(view, t, hr_contact=hr_contact, for_hr=True)
    if head:
        text = head + "\n\n" + text
    rows = stage_buttons(view, t)
    return clip_lines(text), markup(rows) if rows else None


def employee_head(card: EmployeeCard, views: list[MutationView], t: Translator) -> str:
    lines = [
        f"👤 <b>{escape(card.name)}</b> (<code>{escape(card.nip)}</code>)",
        escape(f"{card.position}, {card.unit}" if card.position else card.unit),
    ]
    if not card.active:
        lines.append(escape(t("No longer active in the employee data.")))
    lines.append("")
    if not views:
        lines.append(escape(t("No mutations are recorded for this employee.")))
    else:
        recorded = len(views)
        count = t.ngettext("{n} mutation is recorded:", "{n} mutations are recorded:", recorded)
        lines.append(escape(count))
        if len(views) > CARDS_SHOWN:
            shown = t("The {n} newest are shown below.", n=t.number(CARDS_SHOWN))
            lines.append(escape(shown))
    return "\n".join(lines)


async def _employee_mutations(update: Update, context: BotContext, raw: str) -> None:
    t = context.t
    typed = parse_nips(raw)
    if typed.invalid:
        nip, problem = typed.invalid[0]
        text = t(
            "“{nip}” is not a valid NIP: {problem}",
            nip=nip,
            problem=nip_problem_text(nip, problem, t),
        )
        await _reply(update, escape(text))
        return
    if len(typed.nips) != 1:
        await _reply(update, escape(t("Please send one NIP, e.g. /hr_mutasi 198609262015051001")))
        return
    nip = typed.nips[0]
    async with context.session() as session:
        card = await EmployeeDirectory(session).card_by_nip(nip)
        views = await MutationRepository(session).for_employee(card.id) if card is not None else []
    if card is None:
        await _reply(update, escape(t("No employee has NIP {nip}.", nip=nip)))
        return
    new = markup([[(t("➕ New mutation"), f"{PREFIX}new:{card.id}")]])
    await _reply(update, employee_head(card, views, t), new)
    for view in views[:CARDS_SHOWN]:
        text, keyboard = card_view(view, t, hr_contact=context.settings.hr_contact)
        await _reply(update, text, keyboard)


# =========================================================================== overview
def overview_html(
    counts: dict[str, int],
    stuck: list[StuckMutation],
    t: Translator,
    *,
    now: dt.datetime,
    stuck_days: int,
    shown: int = STUCK_SHOWN,
) -> str:
    """Counts per stage, the totals, and the first ``shown`` stuck mutations (HTML)."""
    heading = t("Mutations by stage")
    lines = [f"📊 <b>{escape(heading)}</b>"]
    for stage, count in ordered_counts(counts):
        lines.append(f"{escape(stage_label(stage, t))}: <b>{escape(t.number(count))}</b>")
    summary = totals(counts)
    lines += [
        "",
        escape(
            t(
                "Active: {active} · Completed: {finished} · Cancelled: {cancelled}",
                active=t.number(summary.active),
                finished=t.number(summary.finished),
                cancelled=t.number(summary.cancelled),
            )
        ),
        "",
    ]
    days = t.number(stuck_days)
    if not stuck:
        quiet = t(
            "No active mutation has stayed in one stage for more than {days} days.", days=days
        )
        lines.append("✅ " + escape(quiet))
        return "\n".join(lines)
    title = t.ngettext(
        "{n} mutation has stayed in one stage for more than {days} days:",
        "{n} mutations have stayed in one stage for more than {days} days:",
        len(stuck),
        days=days,
    )
    lines.append(f"⏳ <b>{escape(title)}</b>")
    items: list[str] = []
    for number, item in enumerate(stuck[:shown], start=1):
        since = t.date(t.local(item.since).date(), "medium")
        days_there = days_in_stage(item.since, now)
        length = t.ngettext("{n} day", "{n} days", days_there)
        line = t(
            "{name} — {stage}, since {date} ({days})",
            name=_shorten(item.employee_name),
            stage=stage_label(item.stage, t),
            date=since,
            days=length,
        )
        items.append(f"{number}. {escape(line)}")
    footer = [escape(t("Every stuck mutation is in the XLSX file."))]
    if len(stuck) > shown:
        more = t("…and {n} more.", n=t.number(len(stuck) - shown))
        footer.insert(0, escape(more))
    text = "\n".join(lines + items + [""] + footer)
    while len(text) > MESSAGE_MAX and items:  # long names: fewer lines, never a cut tag
        items.pop()
        text = "\n".join(lines + items + [""] + footer)
    return text


async def _overview(update: Update, context: BotContext) -> None:
    assert update.effective_chat is not None
    t, settings, now = context.t, context.settings, utcnow()
    before = now - dt.timedelta(days=settings.mutation_stuck_days)
    async with context.session() as session:
        repository = MutationRepository(session)
        counts = await repository.stage_counts()
        stuck = await repository.stuck(before)
    text = overview_html(counts, stuck, t, now=now, stuck_days=settings.mutation_stuck_days)
    await _reply(update, text)
    if not sum(counts.values()):
        return
    chat_id = update.effective_chat.id
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)
    if len(stuck) > _THREAD_ROWS:
        content = await asyncio.to_thread(overview_workbook, counts, stuck, t, now=now)
    else:
        content = overview_workbook(counts, stuck, t, now=now)
    today = local_today(settings, now)
    await context.bot.send_document(
        chat_id,
        content,
        filename=overview_file_name(t, today),
        caption=t("Mutation overview, {date}", date=t.date(today, "long")),
    )


@require(Audience.HR_ADMIN)
async def hr_mutations(update: Update, context: BotContext) -> None:
    """``/hr_mutasi``: the overview; ``/hr_mutasi NIP``: that employee's mutations."""
    raw = " ".join(context.args or []).strip()
    if raw:
        await _employee_mutations(update, context, raw)
    else:
        await _overview(update, context)


# =========================================================================== moving a stage
def move_steps(target: Stage) -> tuple[str, ...]:
    """What is asked, in order, on the way to ``target``."""
    if target is Stage.DIKEMBALIKAN:
        return ("reason", "documents")
    if target is Stage.SK_TERBIT:
        return ("sk_number", "sk_date", "tmt", "inauguration")
    if target is Stage.DIBATALKAN:
        return ("reason",)
    return ("note",)


def _move_title(data: dict[str, Any], t: Translator) -> str:
    text = t(
        "{name}: {current} → {target}",
        name=data.get("name", ""),
        current=stage_label(data["from"], t),
        target=stage_label(data["to"], t),
    )
    return f"<b>{escape(text)}</b>"


def _move_prompt(step: str, data: dict[str, Any], context: BotContext) -> str:
    t = context.t
    if step == "reason" and data["to"] == Stage.DIBATALKAN.value:
        return t("Why is the mutation cancelled? Write the reason; the employee will read it.")
    if step == "reason":
        return t("Why is the file returned? Write the reason; the employee will read it.")
    if step == "documents":
        return t("Which documents are missing? One per line, or separated by commas or semicolons.")
    if step == "sk_number":
        return t("The SK number? For example 800.1.3.3/45/BKPSDM-2026.")
    if step == "sk_date":
        return t(
            "The date of the SK? For example {example}. It cannot be in the future.",
            example=_date_example(context),
        )
    if step == "tmt":
        return t(
            "The TMT (effective date)? For example {example}. It cannot be before the SK date.",
            example=_date_example(context),
        )
    if step == "inauguration":
        return t(
            "When is the inauguration? Type the date and time in WIB, e.g. {example}, or tap "
            "Skip if it is not known yet.",
            example=_moment_example(context),
        )
    return t("A note for the employee? Type it, or tap Skip.")


def _step_text(title: str, note: str | None, prompt: str, t: Translator) -> str:
    """A step of a guided conversation: its title (HTML), what went wrong, the question."""
    lines = [title, ""]
    if note:
        lines += ["⚠️ " + escape(note), ""]
    lines += [escape(prompt), escape(t("Send /batal to stop."))]
    return "\n".join(lines)


def move_step_view(
    context: BotContext, step: str, data: dict[str, Any], note: str | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    text = _step_text(_move_title(data, t), note, _move_prompt(step, data, context), t)
    rows: Buttons = []
    if step in MOVE_OPTIONAL:
        rows.append([(t("⏭ Skip"), f"{PREFIX}skip:m:{data['mutation_id']}:{step}")])
    rows.append([(t("✖ Cancel"), f"{PREFIX}stop:m")])
    return text, markup(rows)


def _date_value(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _moment_value(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def change_of(data: dict[str, Any]) -> StageChange:
    return StageChange(
        reason=data.get("reason"),
        missing_documents=tuple(data.get("documents") or ()),
        sk_number=data.get("sk_number"),
        sk_date=_date_value(data.get("sk_date")),
        tmt_date=_date_value(data.get("tmt")),
    )


def move_summary_view(
    context: BotContext, data: dict[str, Any]
) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    heading = t("Please check the change:")
    lines = [f"<b>{escape(heading)}</b>", "", _move_title(data, t)]
    who = t("Employee: {name} ({nip})", name=data.get("name", ""), nip=data.get("nip", ""))
    lines.append(escape(who))
    if data.get("reason"):
        lines.append(escape(t("Reason: {reason}", reason=data["reason"])))
    if data.get("documents"):
        lines.append(escape(t("Missing documents:")))
        lines += [f"  • {escape(item)}" for item in data["documents"]]
    if data.get("sk_number"):
        lines.append("📜 " + escape(t("SK No. {number}", number=data["sk_number"])))
    sk_date, tmt = _date_value(data.get("sk_date")), _date_value(data.get("tmt"))
    if sk_date is not None:
        lines.append(escape(t("SK date: {date}", date=t.date(sk_date))))
    if tmt is not None:
        lines.append("📅 " + escape(t("Effective (TMT): {date}", date=t.date(tmt))))
    inauguration = _moment_value(data.get("inauguration"))
    if inauguration is not None:
        lines.append("🎖 " + escape(t("Inauguration: {when}", when=t.datetime(inauguration))))
    if data.get("note"):
        lines.append(escape(t("Note: {note}", note=data["note"])))
    lines += ["", escape(t("The employee is told in Telegram if their account is linked."))]
    rows: Buttons = [
        [(t("💾 Save"), f"{PREFIX}save:{data['mutation_id']}")],
        [(t("✖ Cancel"), f"{PREFIX}stop:m")],
    ]
    return "\n".join(lines), markup(rows)


def _check_move_answer(
    step: str, text: str, data: dict[str, Any], context: BotContext
) -> tuple[str | None, Any]:
    """``(problem, value)``: what is wrong with the answer to ``step``, else its value."""
    t = context.t
    if step == "reason":
        if len(text) < REASON_MIN:
            shortest = t.number(REASON_MIN)
            return t("Please write the reason (at least {n} characters).", n=shortest), None
        if len(text) > REASON_MAX:
            return _too_long(t, text, REASON_MAX), None
        return None, text
    if step == "documents":
        items = split_documents(text)
        if not items:
            return t("Please list at least one missing document."), None
        if (
            len(items) > DOCUMENTS_MAX
            or len(text) > DOCUMENTS_TEXT_MAX
            or any(len(item) > DOCUMENT_MAX for item in items)
        ):
            return t(
                "That list is too long: at most {count} documents of at most {length} "
                "characters each.",
                count=t.number(DOCUMENTS_MAX),
                length=t.number(DOCUMENT_MAX),
            ), None
        return None, list(items)
    if step == "sk_number":
        if len(text) < SK_NUMBER_MIN or not any(c.isdigit() for c in text):
            return t(
                "That does not look like an SK number; it should contain its number, e.g. "
                "800.1.3.3/45/BKPSDM-2026."
            ), None
        if len(text) > SK_NUMBER_MAX:
            return _too_long(t, text, SK_NUMBER_MAX), None
        return None, text
    if step in ("sk_date", "tmt"):
        day = parse_date(text)
        if day is None:
            return t(
                "I could not read “{text}” as a date. Type it like {example}.",
                text=text,
                example=_date_example(context),
            ), None
        if step == "sk_date":
            if day > local_today(context.settings):
                return _problem(TransitionProblem.SK_DATE_IN_FUTURE, data, t), None
            if day.year < EARLIEST_SK_YEAR:
                return t("That date is too far in the past; please check the year."), None
        else:
            sk_date = _date_value(data.get("sk_date"))
            if sk_date is not None and day < sk_date:
                return _problem(TransitionProblem.TMT_BEFORE_SK_DATE, data, t), None
        return None, day.isoformat()
    if step == "inauguration":
        moment = parse_moment(text, _zone(context))
        if moment is None:
            return t("I could not read “{text}” as a date and time.", text=text), None
        sk_date = _date_value(data.get("sk_date"))
        if sk_date is not None and t.local(moment).date() < sk_date:
            return t(
                "The inauguration cannot be before the SK date ({date}).", date=t.date(sk_date)
            ), None
        return None, moment.isoformat()
    # note
    if len(text) > REASON_MAX:
        return _too_long(t, text, REASON_MAX), None
    return None, text


def _too_long(t: Translator, text: str, limit: int) -> str:
    return t(
        "That is {n} characters; please keep it to {max}.",
        n=t.number(len(text)),
        max=t.number(limit),
    )


def _problem(problem: TransitionProblem, data: dict[str, Any], t: Translator) -> str:
    return problem_text(problem, t, data["from"], data["to"])


async def _hr_text_guard(update: Update, context: BotContext, flow: str) -> bool:
    """HR flows stop when the role is gone (it is read fresh for every update)."""
    if _is_hr(context):
        return True
    assert update.effective_user is not None
    async with context.session() as session:
        await DraftRepository(session).clear(update.effective_user.id, flow)
    await refuse(update, context, Audience.HR_ADMIN)
    return False


async def _still_at(context: BotContext, data: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether the draft's mutation is still where HR saw it; else its stage now (or None)."""
    async with context.session() as session:
        found = await MutationRepository(session).stage_of(int(data.get("mutation_id", 0)))
    if found is None:
        return False, None
    return found[1] == data.get("from") and found[0] == data.get("employee_id"), found[1]


def _moved_text(t: Translator, now_at: str | None) -> str:
    if now_at is None:
        return t("This mutation no longer exists. Nothing was changed.")
    return t(
        "This mutation was changed meanwhile; it is now at “{stage}”. Nothing was changed.",
        stage=stage_label(now_at, t),
    )


async def move_text(update: Update, context: BotContext, draft: DraftState) -> None:
    """A typed answer in the move flow."""
    if not await _hr_text_guard(update, context, FLOW_MOVE):
        return
    t, text, data, step = context.t, _typed(update), dict(draft.data), draft.step
    still, now_at = await _still_at(context, data)
    if not still:
        async with context.session() as session:
            await DraftRepository(session).clear(draft.telegram_user_id, FLOW_MOVE)
        await _reply(update, escape(_moved_text(t, now_at)))
        return
    if step == CONFIRM:
        summary, keyboard = move_summary_view(context, data)
        await _reply(
            update, escape(t("Please use the buttons below.")) + "\n\n" + summary, keyboard
        )
        return
    steps = move_steps(Stage(data["to"]))
    if step not in steps:
        await _reply(update, escape(t("Please use the buttons above, or send /batal.")))
        return
    problem, value = _check_move_answer(step, text, data, context)
    if problem is not None:
        view, keyboard = move_step_view(context, step, data, problem)
        await _reply(update, view, keyboard)
        return
    data[step] = value
    await _next_step(
        update, context, draft.telegram_user_id, data, step, edit=False, flow=FLOW_MOVE
    )


async def _next_step(
    update: Update,
    context: BotContext,
    user_id: int,
    data: dict[str, Any],
    step: str,
    *,
    edit: bool,
    flow: str,
) -> None:
    """Save ``step``'s answer and show the step after it (the summary after the last)."""
    moving = flow == FLOW_MOVE
    steps = move_steps(Stage(data["to"])) if moving else new_steps(data)
    index = steps.index(step) + 1
    following = steps[index] if index < len(steps) else CONFIRM
    await _save_step(context, user_id, flow, following, data)
    if following == CONFIRM:
        summary = move_summary_view if moving else new_summary_view
        text, keyboard = summary(context, data)
    else:
        view = move_step_view if moving else new_step_view
        text, keyboard = view(context, following, data)
    if edit:
        await edit_html(update, text, keyboard)
    else:
        await _reply(update, text, keyboard)


async def hr_cancel_flow(update: Update, context: BotContext, draft: DraftState) -> None:
    """/batal in either flow."""
    assert update.effective_message is not None and update.effective_user is not None
    async with context.session() as session:
        await DraftRepository(session).clear(update.effective_user.id, draft.flow)
    await update.effective_message.reply_text(context.t("Cancelled. Nothing was changed."))


# --------------------------------------------------------------------------- buttons
async def _go(update: Update, context: BotContext, args: list[str]) -> None:
    """``go:{employee}:{mutation}:{from}:{to}``: start moving the mutation to ``to``."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    if len(args) != 4:
        await stale_button(update, context)
        return
    employee_id, mutation_id = _int(args[0]), _int(args[1])
    current, target = CODE_STAGES.get(args[2]), CODE_STAGES.get(args[3])
    if employee_id is None or mutation_id is None or current is None or target is None:
        await stale_button(update, context)
        return
    async with context.session() as session:
        view = await MutationRepository(session).get(mutation_id)
        valid = (
            view is not None
            and view.employee_id == employee_id
            and view.stage == current.value
            and target in next_stages(current, view.external)
        )
        if valid:
            assert view is not None
            data: dict[str, Any] = {
                "mutation_id": mutation_id,
                "employee_id": employee_id,
                "name": view.employee_name,
                "nip": view.employee_nip,
                "from": current.value,
                "to": target.value,
            }
            first = move_steps(target)[0]
            await begin(context, session, user.id, FLOW_MOVE, first, data)
    if not valid:
        await stale_button(update, context)
        return
    await query.answer()
    text, keyboard = move_step_view(context, first, data)
    await send_html(update, context, text, keyboard)


async def _skip(update: Update, context: BotContext, args: list[str]) -> None:
    """``skip:m:{mutation}:{step}`` / ``skip:n:{step}``: leave an optional step empty."""
    user = update.effective_user
    assert user is not None
    flow = FLOW_CODES.get(args[0]) if args else None
    if flow is None or len(args) != (3 if flow == FLOW_MOVE else 2):
        await stale_button(update, context)
        return
    step = args[-1]
    async with context.session() as session:
        draft = await DraftRepository(session).get(user.id, flow)
    optional = MOVE_OPTIONAL if flow == FLOW_MOVE else NEW_OPTIONAL
    if (
        draft is None
        or draft.step != step
        or step not in optional
        or (flow == FLOW_MOVE and str(draft.data.get("mutation_id")) != args[1])
    ):
        await stale_button(update, context)
        return
    assert update.callback_query is not None
    data = dict(draft.data)
    data.pop(step, None)
    if flow == FLOW_MOVE:
        still, now_at = await _still_at(context, data)
        if not still:
            async with context.session() as session:
                await DraftRepository(session).clear(user.id, FLOW_MOVE)
            await stale_button(update, context, _moved_text(context.t, now_at))
            return
        await update.callback_query.answer()
        await _next_step(update, context, user.id, data, step, edit=True, flow=FLOW_MOVE)
        return
    if step == "supervisor":
        data.pop("supervisor_id", None)
        data.pop("supervisor_name", None)
    await update.callback_query.answer()
    await _next_step(update, context, user.id, data, step, edit=True, flow=FLOW_NEW)


async def _save(update: Update, context: BotContext, args: list[str]) -> None:
    """``save:{mutation}``: record the change the draft holds (once, however often pressed)."""
    query, user, account = update.callback_query, update.effective_user, context.account
    assert query is not None and user is not None and account is not None
    t, settings = context.t, context.settings
    mutation_id = _int(args[0]) if len(args) == 1 else None
    outcome = None
    async with context.session() as session:
        drafts = DraftRepository(session)
        draft = await drafts.get(user.id, FLOW_MOVE)
        if (
            mutation_id is not None
            and draft is not None
            and draft.step == CONFIRM
            and draft.data.get("mutation_id") == mutation_id
        ):
            taken = await drafts.take(user.id, FLOW_MOVE)  # a second tap finds nothing
            if taken is not None and taken.step == CONFIRM:
                data = dict(taken.data)
                outcome = await change_stage(
                    session,
                    settings,
                    mutation_id,
                    expected=data["from"],
                    target=data["to"],
                    change=change_of(data),
                    note=data.get("note"),
                    inauguration_at=_moment_value(data.get("inauguration")),
                    actor_id=account.employee_id,
                )
                if outcome.queued:
                    context.after_commit(context.wake_sender)
        view = await MutationRepository(session).get(mutation_id) if outcome else None
    if outcome is None:
        await stale_button(update, context)
        return
    hr_contact = settings.hr_contact
    if outcome.event_id is not None and view is not None:
        await query.answer(t("Saved."))
        saved = t(
            "Saved: the mutation is now at “{stage}”. Messages queued: {n}.",
            stage=stage_label(view.stage, t),
            n=t.number(outcome.queued),
        )
        text, keyboard = card_view(view, t, hr_contact=hr_contact, head="✅ " + escape(saved))
        await edit_html(update, text, keyboard)
        return
    if outcome.stale:
        now_at = view.stage if view is not None else None
        await query.answer()
        head = "⚠️ " + escape(_moved_text(t, now_at))
        if view is None:
            await edit_html(update, head, None)
            return
        text, keyboard = card_view(view, t, hr_contact=hr_contact, head=head)
        await edit_html(update, text, keyboard)
        return
    await query.answer()
    lines = [escape(t("Not saved:"))]
    lines += ["• " + escape(_problem(p, data, t)) for p in outcome.problems]
    if view is None:
        await edit_html(update, "\n".join(lines), None)
        return
    text, keyboard = card_view(view, t, hr_contact=hr_contact, head="⚠️ " + "\n".join(lines))
    await edit_html(update, text, keyboard)


async def _stop(update: Update, context: BotContext, args: list[str]) -> None:
    """``stop:<flow code>``: leave the flow, nothing saved."""
    await stop_button(update, context, FLOW_CODES.get(args[0]) if len(args) == 1 else None)


# =========================================================================== creating
async def _active_of(context: BotContext, employee_id: int) -> MutationView | None:
    async with context.session() as session:
        active = await MutationRepository(session).for_employee(employee_id, active=True)
    return active[0] if active else None


def _has_active_text(t: Translator, name: str, view: MutationView) -> str:
    return t(
        "{name} already has an active mutation (now at “{stage}”). Finish or cancel it before "
        "proposing a new one.",
        name=name,
        stage=stage_label(view.stage, t),
    )


def _tenure(since: dt.date | None, today: dt.date) -> dict[str, Any]:
    """The draft's facts about the time in the post: the TMT, and ``early``: the transfer
    would come before two full years (``bot.rules.talent``), so a reason is required."""
    if since is None:
        return {"post_since": None, "early": False}
    early = eligibility(since, today) is Eligibility.NOT_YET
    return {"post_since": since.isoformat(), "early": early}


def new_steps(data: dict[str, Any]) -> tuple[str, ...]:
    """The creation's steps: the early-transfer reason is added when it is required."""
    return (*NEW_STEPS, EARLY_STEP) if data.get("early") else NEW_STEPS


def tenure_lines(data: dict[str, Any], t: Translator, today: dt.date) -> list[str]:
    """The summary's lines about the time in the current post (HTML)."""
    since = _date_value(data.get("post_since"))
    if since is None:
        return ["ℹ️ " + escape(t("TMT jabatan not filled in: the years in the post are unknown."))]
    years = full_years(since, today)
    day = t.date(since, "medium")
    standing = t(ELIGIBILITY_LABELS[eligibility(since, today)])
    text = t.ngettext(
        "In the current post since {date} ({n} full year): {standing}.",
        "In the current post since {date} ({n} full years): {standing}.",
        years,
        date=day,
        standing=standing,
    )
    lines = [("⚠️ " if data.get("early") else "📅 ") + escape(text)]
    if data.get(EARLY_STEP):
        reason = t("Reason for a transfer before 2 years: {reason}", reason=data[EARLY_STEP])
        lines.append(escape(reason))
    return lines


def _note_with_reason(data: dict[str, Any], t: Translator) -> str | None:
    """The mutation's note: HR's note, then the early-transfer reason if one was given."""
    parts = [data["note"]] if data.get("note") else []
    if data.get(EARLY_STEP):
        parts.append(t("Reason for a transfer before 2 years: {reason}", reason=data[EARLY_STEP]))
    return "\n".join(parts) or None


def _new_title(data: dict[str, Any], t: Translator) -> str:
    text = t("New mutation for {name}", name=data.get("name", ""))
    return f"<b>{escape(text)}</b>"


def _new_prompt(step: str, data: dict[str, Any], t: Translator) -> str:
    if step == "type":
        return t("Step 1 of 5. Which type of mutation?")
    if step == "unit" and data.get("type") == MutationType.ANTAR_INSTANSI.value:
        return t(
            "Step 2 of 5. To which unit of which government? Type it in full, e.g. "
            "Dinas Perhubungan Kota Padang (or part of the name of one of our units)."
        )
    if step == "unit":
        return t("Step 2 of 5. To which unit? Type part of its name.")
    if step == "position":
        return t("Step 3 of 5. The new position (jabatan)?")
    if step == "supervisor":
        return t(
            "Step 4 of 5. The NIP of the new supervisor? Tap Skip to let the bot take the "
            "head of the target unit."
        )
    if step == EARLY_STEP:
        return t(
            "One more step: {name} has been in the current post for less than 2 years. Why "
            "is the transfer proposed now? Write the reason (at least {n} characters); it is "
            "kept in the audit log and in the mutation's note.",
            name=data.get("name", ""),
            n=t.number(EARLY_REASON_MIN),
        )
    return t("Step 5 of 5. A note (e.g. the reason for the proposal)? Type it, or tap Skip.")


def new_step_view(
    context: BotContext, step: str, data: dict[str, Any], note: str | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    text = _step_text(_new_title(data, t), note, _new_prompt(step, data, t), t)
    rows: Buttons = []
    if step == "type":
        rows += [
            [(f"{TYPE_BUTTONS[kind]} {type_label(kind, t)}", f"{PREFIX}type:{code}")]
            for kind, code in TYPE_CODES.items()
        ]
    if step in NEW_OPTIONAL:
        rows.append([(t("⏭ Skip"), f"{PREFIX}skip:n:{step}")])
    rows.append([(t("✖ Cancel"), f"{PREFIX}stop:n")])
    return text, markup(rows)


def new_summary_view(context: BotContext, data: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    heading = t("Please check the new mutation:")
    kind = MutationType(data["type"])
    origin, destination = t("From:"), t("To:")
    to_post = f"{data['position']}, {data['unit']}"
    lines = [
        f"<b>{escape(heading)}</b>",
        "",
        f"👤 <b>{escape(data.get('name', ''))}</b> (<code>{escape(data.get('nip', ''))}</code>)",
        f"{TYPE_BUTTONS[kind]} {escape(type_label(kind, t))}",
        f"{escape(origin)} {escape(data.get('from_post', ''))}",
        f"{escape(destination)} {escape(to_post)}",
    ]
    if data.get("supervisor_name"):
        lines.append(escape(t("New supervisor: {name}", name=data["supervisor_name"])))
    if data.get("note"):
        lines.append(escape(t("Note: {note}", note=data["note"])))
    lines += tenure_lines(data, t, local_today(context.settings))
    start = t(
        "It starts at “{stage}”; {name} is told in Telegram if their account is linked.",
        stage=stage_label(Stage.DIUSULKAN, t),
        name=data.get("name", ""),
    )
    lines += ["", escape(start)]
    rows: Buttons = [
        [(t("💾 Save"), f"{PREFIX}create:{data['employee_id']}")],
        [(t("✖ Cancel"), f"{PREFIX}stop:n")],
    ]
    return "\n".join(lines), markup(rows)


async def _new(update: Update, context: BotContext, args: list[str]) -> None:
    """``new:{employee}``: start creating a mutation for that employee."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    t = context.t
    employee_id = _int(args[0]) if len(args) == 1 else None
    async with context.session() as session:
        card = await EmployeeDirectory(session).card(employee_id) if employee_id else None
    if card is None:
        await stale_button(update, context)
        return
    if not card.active:
        text = t("{name} is no longer active in the employee data.", name=card.name)
        await stale_button(update, context, text)
        return
    active = await _active_of(context, card.id)
    if active is not None:
        await stale_button(update, context, _has_active_text(t, card.name, active))
        return
    from_post = f"{card.position}, {card.unit}" if card.position else card.unit
    async with context.session() as session:
        since = await RotationRepository(session).post_since(card.id)
    data = {
        "employee_id": card.id,
        "name": card.name,
        "nip": card.nip,
        "from_post": from_post,
        **_tenure(since, local_today(context.settings)),
    }
    async with context.session() as session:
        await begin(context, session, user.id, FLOW_NEW, "type", data)
    await query.answer()
    text, keyboard = new_step_view(context, "type", data)
    await send_html(update, context, text, keyboard)


async def _new_draft(update: Update, context: BotContext, step: str) -> DraftState | None:
    """The creation draft if it waits at ``step``; else a stale alert."""
    assert update.effective_user is not None
    async with context.session() as session:
        draft = await DraftRepository(session).get(update.effective_user.id, FLOW_NEW)
    if draft is None or draft.step != step:
        await stale_button(update, context)
        return None
    return draft


async def _type(update: Update, context: BotContext, args: list[str]) -> None:
    """``type:{r|p|a}``: the type of the new mutation."""
    kind = CODE_TYPES.get(args[0]) if len(args) == 1 else None
    if kind is None:
        await stale_button(update, context)
        return
    draft = await _new_draft(update, context, "type")
    if draft is None:
        return
    assert update.callback_query is not None
    data = {**draft.data, "type": kind.value}
    await update.callback_query.answer()
    await _next_step(
        update, context, draft.telegram_user_id, data, "type", edit=True, flow=FLOW_NEW
    )


async def _unit(update: Update, context: BotContext, args: list[str]) -> None:
    """``unit:{unit id}`` (one of ours) or ``unit:typed`` (the text HR typed)."""
    draft = await _new_draft(update, context, "unit")
    if draft is None:
        return
    assert update.callback_query is not None
    data = dict(draft.data)
    if len(args) == 1 and args[0] == UNIT_TYPED:
        name = data.get("typed_unit")
        if not name or data.get("type") != MutationType.ANTAR_INSTANSI.value:
            await stale_button(update, context)
            return
    else:
        unit_id = _int(args[0]) if len(args) == 1 else None
        async with context.session() as session:
            unit = await TrainingRepository(session).unit(unit_id) if unit_id else None
        if unit is None:
            await stale_button(update, context)
            return
        name = unit.name
    data.pop("typed_unit", None)
    data["unit"] = name
    await update.callback_query.answer()
    await _next_step(
        update, context, draft.telegram_user_id, data, "unit", edit=True, flow=FLOW_NEW
    )


async def _create(update: Update, context: BotContext, args: list[str]) -> None:
    """``create:{employee}``: save the new mutation (once, however often pressed)."""
    query, user, account = update.callback_query, update.effective_user, context.account
    assert query is not None and user is not None and account is not None
    t, settings = context.t, context.settings
    employee_id = _int(args[0]) if len(args) == 1 else None
    refused: str | None = None
    created: int | None = None
    ask_reason: dict[str, Any] | None = None
    async with context.session() as session:
        drafts = DraftRepository(session)
        draft = await drafts.get(user.id, FLOW_NEW)
        if (
            employee_id is not None
            and draft is not None
            and draft.step == CONFIRM
            and draft.data.get("employee_id") == employee_id
        ):
            taken = await drafts.take(user.id, FLOW_NEW)
            if taken is not None and taken.step == CONFIRM:
                data = dict(taken.data)
                repository = MutationRepository(session)
                active = await repository.for_employee(employee_id, active=True)
                since = await RotationRepository(session).post_since(employee_id)
                data.update(_tenure(since, local_today(settings)))
                if active:
                    refused = _has_active_text(t, data.get("name", ""), active[0])
                elif data.get("early") and not data.get(EARLY_STEP):
                    # The TMT changed meanwhile (an import): the reason is asked first.
                    await drafts.put(user.id, FLOW_NEW, EARLY_STEP, data)
                    ask_reason = data
                else:
                    created, queued = await create_mutation(
                        session,
                        settings,
                        employee_id=employee_id,
                        mutation_type=MutationType(data["type"]),
                        to_unit=data["unit"],
                        to_position=data["position"],
                        to_supervisor_id=data.get("supervisor_id"),
                        note=_note_with_reason(data, t),
                        actor_id=account.employee_id,
                        early_reason=data.get(EARLY_STEP),
                    )
                    if queued:
                        context.after_commit(context.wake_sender)
        view = await MutationRepository(session).get(created) if created is not None else None
    if refused is not None:
        await query.answer()
        await edit_html(update, "⚠️ " + escape(refused), None)
        return
    if ask_reason is not None:
        await query.answer()
        text, keyboard = new_step_view(context, EARLY_STEP, ask_reason)
        await edit_html(update, text, keyboard)
        return
    if view is None:
        await stale_button(update, context)
        return
    await query.answer(t("Saved."))
    saved = t("Saved. Messages queued: {n}.", n=t.number(queued))
    text, keyboard = card_view(view, t, hr_contact=settings.hr_contact, head="✅ " + escape(saved))
    await edit_html(update, text, keyboard)


def _unit_rows(units: list[UnitChoice]) -> Buttons:
    return [[(_shorten(unit.name, 48), f"{PREFIX}unit:{unit.id}")] for unit in units]


async def _unit_text(update: Update, context: BotContext, draft: DraftState, text: str) -> None:
    t, data = context.t, dict(draft.data)
    external = data.get("type") == MutationType.ANTAR_INSTANSI.value
    if not UNIT_MIN <= len(text) <= UNIT_MAX:
        problem = t("Please type 3 to 200 characters of the unit's name.")
        view, keyboard = new_step_view(context, "unit", data, problem)
        await _reply(update, view, keyboard)
        return
    async with context.session() as session:
        matches = await TrainingRepository(session).search_units(text, limit=UNIT_MATCHES)
    exact = [unit for unit in matches if unit.name.casefold() == text.casefold()]
    if exact or (len(matches) == 1 and not external) or (external and not matches):
        data.pop("typed_unit", None)
        data["unit"] = exact[0].name if exact else (matches[0].name if matches else text)
        await _next_step(
            update, context, draft.telegram_user_id, data, "unit", edit=False, flow=FLOW_NEW
        )
        return
    if not matches:
        problem = t("No unit matches “{text}”. Type another part of the name.", text=text)
        view, keyboard = new_step_view(context, "unit", data, problem)
        await _reply(update, view, keyboard)
        return
    rows = _unit_rows(matches)
    if external:
        data["typed_unit"] = text
        rows.append([(t("✍️ As typed: {text}", text=_shorten(text, 40)), f"{PREFIX}unit:typed")])
        await _save_step(context, draft.telegram_user_id, FLOW_NEW, "unit", data)
    rows.append([(t("✖ Cancel"), f"{PREFIX}stop:n")])
    await _reply(update, escape(t("Several units match. Which one?")), markup(rows))


async def new_text(update: Update, context: BotContext, draft: DraftState) -> None:
    """A typed answer in the creation flow."""
    if not await _hr_text_guard(update, context, FLOW_NEW):
        return
    t, text, data, step = context.t, _typed(update), dict(draft.data), draft.step
    if step == CONFIRM:
        summary, keyboard = new_summary_view(context, data)
        await _reply(
            update, escape(t("Please use the buttons below.")) + "\n\n" + summary, keyboard
        )
        return
    if step == "type":
        view, keyboard = new_step_view(context, step, data, t("Please choose one of the buttons."))
        await _reply(update, view, keyboard)
        return
    if step == "unit":
        await _unit_text(update, context, draft, text)
        return
    problem: str | None = None
    if step == "position":
        if not POSITION_MIN <= len(text) <= POSITION_MAX:
            problem = t("Please type the position (2 to 200 characters).")
        else:
            data["position"] = text
    elif step == "supervisor":
        problem = await _supervisor_answer(context, text, data)
    elif step == "note":
        if len(text) > REASON_MAX:
            problem = _too_long(t, text, REASON_MAX)
        else:
            data["note"] = text
    elif step == EARLY_STEP:
        if len(text) < EARLY_REASON_MIN:
            problem = t(
                "Please write the reason (at least {n} characters).",
                n=t.number(EARLY_REASON_MIN),
            )
        elif len(text) > REASON_MAX:
            problem = _too_long(t, text, REASON_MAX)
        else:
            data[EARLY_STEP] = text
    if problem is not None:
        view, keyboard = new_step_view(context, step, data, problem)
        await _reply(update, view, keyboard)
        return
    await _next_step(update, context, draft.telegram_user_id, data, step, edit=False, flow=FLOW_NEW)


async def _supervisor_answer(context: BotContext, text: str, data: dict[str, Any]) -> str | None:
    """Put the supervisor typed as a NIP into ``data``; else say what is wrong."""
    t = context.t
    typed = parse_nips(text)
    if typed.invalid:
        nip, problem = typed.invalid[0]
        return t(
            "“{nip}” is not a valid NIP: {problem}",
            nip=nip,
            problem=nip_problem_text(nip, problem, t),
        )
    if len(typed.nips) != 1:
        return t("Please send one NIP, or tap Skip.")
    nip = typed.nips[0]
    async with context.session() as session:
        card = await EmployeeDirectory(session).card_by_nip(nip)
    if card is None or not card.active:
        return t("No active employee has NIP {nip}.", nip=nip)
    if card.id == data.get("employee_id"):
        return t("An employee cannot be their own supervisor.")
    data["supervisor_id"] = card.id
    data["supervisor_name"] = card.name
    return None


# =========================================================================== wiring
_ACTIONS = {
    "go": _go,
    "skip": _skip,
    "save": _save,
    "stop": _stop,
    "new": _new,
    "type": _type,
    "unit": _unit,
    "create": _create,
}


on_button = require(Audience.HR_ADMIN)(button_router(_BUTTON, _ACTIONS))


FLOWS = (
    Flow(FLOW_MOVE, move_text, hr_cancel_flow),
    Flow(FLOW_NEW, new_text, hr_cancel_flow),
)


def register(application: Application) -> None:
    """``/hr_mutasi`` and its buttons (group 0, before the fallback) and the two flows."""
    application.add_handler(
        CommandHandler("hr_mutasi", hr_mutations, filters=filters.UpdateType.MESSAGE)
    )
    application.add_handler(CallbackQueryHandler(on_button, pattern=f"^{re.escape(PREFIX)}"))
    for flow in FLOWS:
        register_flow(application, flow)
