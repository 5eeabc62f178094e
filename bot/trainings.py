"""Trainings in chat: what HR types, how a training reads, and the changes that tell people.

Pure helpers (parsing dates, NIP lists and places; rendering cards and keyboards as plain
data) and the three changes HR makes — create, move, cancel — each in the caller's
transaction, with its audit entry and its outbox messages (sent after the commit, once per
idempotency key):

* created: ``training_new:{training}:{employee}``, the card with the Hadir / Tidak hadir buttons;
* moved: ``training_moved:{training}:{employee}:{new start, epoch seconds}``; every answer goes
  back to "not answered" (participants confirm the new date), pending reminders of the old
  time are cancelled (the scheduler enqueues the new time's reminders itself), and so are
  notices about the training still waiting in the outbox (e.g. held by the quiet hours);
* cancelled: ``training_cancelled:{training}:{employee}``; pending reminders and notices go.

Notices are urgent (not held by the quiet hours) when the training starts within
:data:`URGENT_WITHIN`.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_time
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import BotContext
from bot.i18n import N_, Translator, get_translator
from bot.notify import notify_employee
from bot.rules.nip import EmployeeType, NipProblem, check_nip, normalize_nip, problem_params
from storage.exports.cells import local_time_cell, start_sheet, text_cell
from storage.importers.cells import parse_datetime
from storage.models import utcnow
from storage.repositories.audit import AuditRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.trainings import (
    HADIR,
    TIDAK_HADIR,
    UNKNOWN,
    ParticipantRow,
    Participation,
    TrainingInfo,
    TrainingRepository,
)

# Draft flows (storage.repositories.drafts), one per guided conversation.
FLOW_ABSENCE = "absence"
FLOW_NEW = "training_new"
FLOW_MOVE = "training_move"
FLOW_CANCEL = "training_cancel"

ANSWER_PREFIX = "latih:"
TITLE_MIN, TITLE_MAX = 3, 300
REASON_MAX = 300
CANCEL_REASON_MIN = 3
PLACE_MAX = 300
LINK_MAX = 500
URGENT_WITHIN = dt.timedelta(hours=12)
ACTOR_LABEL = "telegram"

ATTENDANCE_LABELS = {
    HADIR: N_("Attending"),
    TIDAK_HADIR: N_("Not attending"),
    UNKNOWN: N_("not answered yet"),
}
BUTTON_HADIR = N_("✅ Attending")
BUTTON_ABSENT = N_("❌ Not attending")

# Attendance list columns: (msgid, width in characters).
XLSX_COLUMNS: tuple[tuple[str, float], ...] = (
    (N_("No."), 5),
    (N_("Name"), 32),
    (N_("NIP"), 21),
    (N_("Unit"), 30),
    (N_("Answer"), 14),
    (N_("Reason"), 40),
    (N_("Answered at"), 18),
)

# --------------------------------------------------------------------------- parsing
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TIME_ONLY = re.compile(r"(?P<hh>\d{1,2})[:.](?P<mm>\d{2})")
_FILLER = re.compile(r"\b(?:pukul|jam|at|wib)\b\.?", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_NIP_PIECES = re.compile(r"[,;\n]+")
_NIP_HINT = re.compile(r"\d{8}")


def parse_moment(text: str, zone: ZoneInfo, *, day: dt.date | None = None) -> dt.datetime | None:
    """A wall-clock date and time typed in ``zone`` as an aware UTC datetime, else ``None``.

    Accepts ``12/01/2026 08.00``, ``12-01-2026 8:00``, ``2026-01-12 08:00``, with optional
    "pukul" / "jam" / "WIB". With ``day``, a time alone (``16.00``) means that local day.
    """
    cleaned = _SPACES.sub(" ", _FILLER.sub(" ", text)).strip(" ,")
    moment = parse_datetime(cleaned, zone)
    if moment is not None or day is None:
        return moment
    match = _TIME_ONLY.fullmatch(cleaned)
    if match is None:
        return None
    hour, minute = int(match["hh"]), int(match["mm"])
    if hour > 23 or minute > 59:
        return None
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone).astimezone(dt.UTC)


def split_place(text: str) -> tuple[str, str | None]:
    """``(place, online link)`` from what HR typed: a web address becomes the link."""
    match = _URL.search(text)
    if match is None:
        return _SPACES.sub(" ", text).strip(), None
    link = match.group(0).rstrip(".,;:)")
    rest = _SPACES.sub(" ", text[: match.start()] + " " + text[match.end() :])
    return rest.strip(" ,;:.-"), link


def looks_like_nips(text: str) -> bool:
    """Whether HR typed NIPs (8 digits in a row somewhere) rather than a unit name."""
    return bool(_NIP_HINT.search(re.sub(r"[\s.\-]", "", text)))


@dataclass(frozen=True, slots=True)
class NipList:
    nips: list[str]  # valid, normalised, in the order typed, without repeats
    invalid: list[tuple[str, NipProblem]]


def _valid_nip(raw: str) -> tuple[str, NipProblem | None]:
    """Valid as a PNS NIP or as an NI PPPK (the type is known only once the person is found)."""
    nip, problem = check_nip(raw, EmployeeType.PNS)
    if problem is not None and check_nip(raw, EmployeeType.PPPK)[1] is None:
        return nip, None
    return nip, problem


def parse_nips(text: str) -> NipList:
    """NIPs separated by new lines, commas, semicolons or spaces (spaces inside one NIP, as
    in ``19860926 201505 1 001``, are fine too)."""
    nips: list[str] = []
    invalid: list[tuple[str, NipProblem]] = []
    for piece in _NIP_PIECES.split(text):
        words = piece.split()
        if not words:
            continue
        compact = normalize_nip(piece)
        if compact.isdigit() and len(compact) % 18 == 0:
            candidates = [compact[i : i + 18] for i in range(0, len(compact), 18)]
        else:
            candidates = words
        for candidate in candidates:
            nip, problem = _valid_nip(candidate)
            if problem is not None:
                invalid.append((nip, problem))
            elif nip not in nips:
                nips.append(nip)
    return NipList(nips, invalid)


def nip_problem_text(nip: str, problem: NipProblem, t: Translator) -> str:
    return t(problem.message, **problem_params(nip, problem))


# --------------------------------------------------------------------------- rendering
def _hm(t: Translator, value: dt.datetime) -> str:
    return format_time(t.local(value), format="short", locale=t.language)


def when_text(training: TrainingInfo, t: Translator) -> str:
    """``Senin, 12 Januari 2026 pukul 08.00–16.00 WIB`` (or start and end on two days)."""
    return when_range(training.starts_at, training.ends_at, t)


def when_range(starts_at: dt.datetime, ends_at: dt.datetime, t: Translator) -> str:
    start, end = t.local(starts_at), t.local(ends_at)
    if start.date() == end.date():
        return t(
            "{date} at {start}–{end}",
            date=t.date(start.date()),
            start=_hm(t, starts_at),
            end=t.time(ends_at),
        )
    return t("{start} until {end}", start=t.datetime(starts_at), end=t.datetime(ends_at))


def attendance_label(attendance: str, t: Translator) -> str:
    return t(ATTENDANCE_LABELS.get(attendance, ATTENDANCE_LABELS[UNKNOWN]))


def card_html(
    training: TrainingInfo,
    t: Translator,
    *,
    participation: Participation | None = None,
    with_code: bool = False,
) -> str:
    """The training as HTML (every value escaped); the reader's answer when given."""
    title = f"<b>{escape(training.title)}</b>"
    lines = [f"{title} <code>{escape(training.code)}</code>" if with_code else title]
    lines.append("🗓 " + escape(when_text(training, t)))
    if training.place:
        lines.append("📍 " + escape(training.place))
    if training.online_link:
        lines.append("🔗 " + escape(training.online_link))
    if training.cancelled:
        lines.append("🚫 " + escape(t("Cancelled: {reason}", reason=training.cancel_reason or "-")))
    if participation is not None:
        answer = f"<b>{escape(attendance_label(participation.attendance, t))}</b>"
        lines.append(t("Your answer: {answer}", answer=answer))
        if participation.attendance == TIDAK_HADIR and participation.absence_reason:
            lines.append(escape(t("Reason: {reason}", reason=participation.absence_reason)))
    return "\n".join(lines)


Buttons = list[list[tuple[str, str]]]


def answer_buttons(training_id: int, t: Translator) -> Buttons:
    """Hadir / Tidak hadir (the same ``latih:`` data as the reminders carry)."""
    return [
        [
            (t(BUTTON_HADIR), f"{ANSWER_PREFIX}{training_id}:hadir"),
            (t(BUTTON_ABSENT), f"{ANSWER_PREFIX}{training_id}:absen"),
        ]
    ]


def keyboard_dict(rows: Buttons) -> dict[str, Any]:
    """An inline keyboard as the outbox payload wants it."""
    return {
        "inline_keyboard": [
            [{"text": text, "callback_data": data} for text, data in row] for row in rows
        ]
    }


def new_training_text(training: TrainingInfo, t: Translator) -> str:
    return "\n\n".join(
        [
            "📚 " + escape(t("You are registered for a training:")),
            card_html(training, t),
            escape(t("Will you attend? Please answer with the buttons below.")),
        ]
    )


def moved_text(training: TrainingInfo, old: TrainingInfo, t: Translator) -> str:
    return "\n\n".join(
        [
            "🕒 " + escape(t("A training you are registered for has a new time:")),
            card_html(training, t),
            escape(t("Previously: {when}", when=when_text(old, t))),
            escape(t("Please confirm again whether you will attend.")),
        ]
    )


def cancelled_text(training: TrainingInfo, t: Translator) -> str:
    return "\n\n".join(
        [
            "🚫 " + escape(t("A training you were registered for has been cancelled:")),
            f"<b>{escape(training.title)}</b>\n🗓 {escape(when_text(training, t))}",
            escape(t("Reason: {reason}", reason=training.cancel_reason or "-")),
        ]
    )


# --------------------------------------------------------------------------- changes
def _urgent(training: TrainingInfo, now: dt.datetime) -> bool:
    return training.starts_at - now <= URGENT_WITHIN


def _translator(context: BotContext, language: str | None) -> Translator:
    return get_translator(language or context.settings.default_language, context.settings.timezone)


async def _tell_participants(
    session: AsyncSession,
    context: BotContext,
    training_id: int,
    *,
    key: str,
    render: Callable[[Translator], str],
    urgent: bool,
    with_answers: bool = True,
) -> int:
    """One outbox message per reachable participant, in their language; ``{employee}`` in
    ``key`` becomes the employee id. Returns how many messages were newly queued."""
    told = 0
    for person in await TrainingRepository(session).recipients(training_id):
        t = _translator(context, person.language)
        head, _, tail = key.partition("{employee}")
        told += await notify_employee(
            session,
            context,
            key=f"{head}{person.employee_id}{tail}",
            chat_id=person.telegram_user_id,
            employee_id=person.employee_id,
            kind="training",
            text=render(t),
            parse_mode="HTML",
            reply_markup=keyboard_dict(answer_buttons(training_id, t)) if with_answers else None,
            urgent=urgent,
        )
    return told


async def create_training(
    session: AsyncSession,
    context: BotContext,
    *,
    title: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    place: str,
    online_link: str | None,
    employee_ids: Sequence[int],
    actor_id: int | None,
    now: dt.datetime | None = None,
) -> tuple[TrainingInfo, int]:
    """Save a training with its participants, audit it and tell every linked participant
    once. Returns the training and how many were told."""
    now = now or utcnow()
    repository = TrainingRepository(session)
    year = now.astimezone(ZoneInfo(context.settings.timezone)).year
    training = await repository.create(
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        place=place,
        online_link=online_link,
        employee_ids=employee_ids,
        created_by_id=actor_id,
        year=year,
    )
    AuditRepository(session).record(
        "training_created",
        actor_id=actor_id,
        actor_label=ACTOR_LABEL,
        entity_type="training",
        entity_id=training.code,
        details={
            "training_id": training.id,
            "title": training.title,
            "starts_at": training.starts_at.isoformat(),
            "ends_at": training.ends_at.isoformat(),
            "participants": len(set(employee_ids)),
        },
    )
    told = await _tell_participants(
        session,
        context,
        training.id,
        key=f"training_new:{training.id}:{{employee}}",
        render=lambda t: new_training_text(training, t),
        urgent=_urgent(training, now),
    )
    return training, told


async def _drop_pending(session: AsyncSession, training_id: int) -> None:
    """Reminders of the old time and notices not yet sent no longer hold."""
    outbox = OutboxRepository(session)
    for prefix in ("reminder", "training_new", "training_moved"):
        await outbox.cancel_pending(f"{prefix}:{training_id}:")


async def move_training(
    session: AsyncSession,
    context: BotContext,
    training_id: int,
    *,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    actor_id: int | None,
    now: dt.datetime | None = None,
) -> TrainingInfo | None:
    """New times for an open training; ``None`` if it is no longer open (nothing changes)."""
    now = now or utcnow()
    repository = TrainingRepository(session)
    old = await repository.get(training_id)
    if old is None or not old.is_open(now):
        return None
    training = await repository.move(training_id, starts_at, ends_at, now=now)
    if training is None:
        return None
    await _drop_pending(session, training_id)
    AuditRepository(session).record(
        "training_moved",
        actor_id=actor_id,
        actor_label=ACTOR_LABEL,
        entity_type="training",
        entity_id=training.code,
        details={
            "training_id": training.id,
            "from": [old.starts_at.isoformat(), old.ends_at.isoformat()],
            "to": [training.starts_at.isoformat(), training.ends_at.isoformat()],
            "answers_reset": True,
        },
    )
    epoch = int(training.starts_at.timestamp())
    await _tell_participants(
        session,
        context,
        training_id,
        key=f"training_moved:{training_id}:{{employee}}:{epoch}",
        render=lambda t: moved_text(training, old, t),
        urgent=_urgent(training, now) or _urgent(old, now),
    )
    return training


async def cancel_training(
    session: AsyncSession,
    context: BotContext,
    training_id: int,
    *,
    reason: str,
    actor_id: int | None,
    now: dt.datetime | None = None,
) -> TrainingInfo | None:
    """Cancel an open training; ``None`` if it is no longer open (nothing changes)."""
    now = now or utcnow()
    training = await TrainingRepository(session).cancel(training_id, reason, now=now)
    if training is None:
        return None
    await _drop_pending(session, training_id)
    AuditRepository(session).record(
        "training_cancelled",
        actor_id=actor_id,
        actor_label=ACTOR_LABEL,
        entity_type="training",
        entity_id=training.code,
        details={"training_id": training.id, "reason": reason},
    )
    await _tell_participants(
        session,
        context,
        training_id,
        key=f"training_cancelled:{training_id}:{{employee}}",
        render=lambda t: cancelled_text(training, t),
        urgent=_urgent(training, now),
        with_answers=False,
    )
    return training


# --------------------------------------------------------------------------- attendance list
def attendance_file_name(training: TrainingInfo, t: Translator) -> str:
    safe = re.sub(r"[^0-9A-Za-z._-]+", "-", training.code).strip("-._") or str(training.id)
    return t("attendance-{code}.xlsx", code=safe)


def attendance_workbook(
    training: TrainingInfo, rows: Sequence[ParticipantRow], t: Translator
) -> bytes:
    """The attendance list: No, Name, NIP, Unit, Answer, Reason, Answered at (WIB)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    title = re.sub(r"[\\/*?:\[\]]", "-", training.code)[:31] or "Sheet"
    sheet = start_sheet(workbook, title, XLSX_COLUMNS, t)
    for number, row in enumerate(rows, start=1):
        sheet.append(
            [
                number,
                text_cell(sheet, row.name),
                text_cell(sheet, row.nip),
                text_cell(sheet, row.unit),
                text_cell(sheet, attendance_label(row.attendance, t)),
                text_cell(sheet, row.absence_reason or ""),
                local_time_cell(sheet, row.responded_at, t),
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
