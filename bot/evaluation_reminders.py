"""Monthly evaluation (SKP) reminders: queued in the outbox by the scheduler's tick.

Called by ``bot.scheduler.run_tick`` in its transaction; every message has an idempotency key,
so a second tick, a restart or a second process queues nothing twice.

When
    Only on working days in WIB (Monday–Friday, not a national holiday, not one of HR's days
    off: ``bot.rules.workdays``) and not before :data:`SEND_FROM` (08:00 WIB, the start of
    office hours; before that a tick queues nothing, so nobody is woken by a reminder and
    the sender's quiet hours never hold one). The periods looked at are those whose window
    (``bot.rules.periods``) touches today; each is created in the database if missing
    (``EvaluationRepository.ensure_period``), and its stored dates are the ones used.

What (:func:`reminders_on`; ``{period}`` is the period's id)
    * *opened* — ``evaluation_open:{period}:{supervisor}``: "the evaluation for month X is open
      until <deadline>; type /nilai" with the number of reports still to rate. On the first
      working day on or after the opening day, or, while the previous month is still being
      rated (the first days of a month, when /nilai shows that one), on the first working
      day after the previous month's deadline. After downtime, or for someone who became a
      supervisor (or linked their account) later, it still goes out on a later working day,
      until the first *due* reminder takes over (3 working days before the deadline).
    * *due* — ``evaluation_due:{period}:{supervisor}:{3|1}``: on the working day 3 and 1
      working days before the deadline, to the supervisors with pending reports: how many and
      who (the first :data:`NAMES_SHOWN`). Only on that day: a passed one is not sent late.
    * *missing* — on the first working day after the deadline, only on that day:
      ``evaluation_missing:{period}:{recipient}`` to each supervisor's own supervisor (the
      supervisors reporting to them who left reports unrated, each with the counts), and
      ``evaluation_missing_hr:{period}:{hr}`` to every HR admin: the total and the counts per
      unit (the full list is in /hr_rekap); when nothing is missing, HR is told that too.

Who
    Supervisors: active employees with active direct reports, with at least one pending report
    (no evaluation for the period, or a draft) — on the opening day that is everyone who has
    reports. Recipients must be linked to Telegram and reachable. A locked period gets no
    *opened* or *due* reminders (nobody can rate it); *missing* goes out regardless.

Each message is in the recipient's language, HTML with every name escaped, under 4096
characters (long lists are cut with "…and N more"). ``kind`` is :data:`KIND`; never urgent.

Cost: per tick a days-off query and, for each period with a reminder due today, one grouped
query for the supervisors, one chunked look-up of the keys already queued, and only for the
messages still to queue the names (one chunked query) — never one query per supervisor.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.evaluations import month_name
from bot.i18n import Translator, get_translator
from bot.rules.periods import add_months, period_window, working_days_before
from bot.rules.workdays import is_working_day, next_working_day, nth_working_day
from storage.repositories.days_off import DaysOffRepository
from storage.repositories.evaluation_reminders import (
    EvaluationReminderRepository,
    Recipient,
    SupervisorProgress,
    UnitProgress,
)
from storage.repositories.evaluations import LOCKED, EvaluationRepository, PeriodInfo
from storage.repositories.outbox import OutboxRepository

log = logging.getLogger(__name__)

KIND = "evaluation_reminder"
SEND_FROM = dt.time(8, 0)  # WIB: nothing is queued earlier in the day
DUE_DAYS: tuple[int, ...] = (3, 1)  # working days before the deadline
OPENED, DUE, MISSING = "opened", "due", "missing"

MESSAGE_MAX = 4096
NAMES_SHOWN = 30
SUPERVISORS_SHOWN = 25
UNITS_SHOWN = 30
NAME_MAX = 60


# --------------------------------------------------------------------------- the rule
@dataclass(frozen=True, slots=True)
class Reminder:
    kind: str  # OPENED | DUE | MISSING
    days_left: int | None = None  # DUE: 3 or 1


def reminders_on(
    today: dt.date,
    opens_on: dt.date,
    closes_on: dt.date,
    days_off: Collection[dt.date] = frozenset(),
    *,
    previous_closes_on: dt.date | None = None,
) -> list[Reminder]:
    """The reminders of a period (opening ``opens_on``, deadline ``closes_on``) due on
    ``today``; none on a day that is not a working day. While the previous period is still
    open (until ``previous_closes_on``), /nilai shows that one: the *opened* reminder waits
    for the first working day after its deadline."""
    if not is_working_day(today, days_off):
        return []
    found: list[Reminder] = []
    start = opens_on
    if previous_closes_on is not None and previous_closes_on >= opens_on:
        start = previous_closes_on + dt.timedelta(days=1)
    first_open = nth_working_day(start, 1, days_off)
    first_due = working_days_before(closes_on, max(DUE_DAYS), days_off)
    if first_open <= today <= closes_on and (today < first_due or today == first_open):
        found.append(Reminder(OPENED))
    for days in DUE_DAYS:
        if today == working_days_before(closes_on, days, days_off):
            found.append(Reminder(DUE, days))
    if today == next_working_day(closes_on, days_off):
        found.append(Reminder(MISSING))
    return found


def open_key(period_id: int, supervisor_id: int) -> str:
    return f"evaluation_open:{period_id}:{supervisor_id}"


def due_key(period_id: int, supervisor_id: int, days: int) -> str:
    return f"evaluation_due:{period_id}:{supervisor_id}:{days}"


def missing_key(period_id: int, recipient_id: int) -> str:
    return f"evaluation_missing:{period_id}:{recipient_id}"


def missing_hr_key(period_id: int, hr_id: int) -> str:
    return f"evaluation_missing_hr:{period_id}:{hr_id}"


# --------------------------------------------------------------------------- texts
def _clip(text: str, limit: int = NAME_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _fit(head: list[str], items: list[str], tail: list[str], t: Translator, shown: int) -> str:
    """``head``, the first ``shown`` ``items`` (fewer if the message would pass 4096
    characters), "…and N more." for the rest, then ``tail``."""
    count = min(shown, len(items))
    while True:
        lines = head + items[:count]
        if count < len(items):
            lines.append(escape(t("…and {n} more.", n=t.number(len(items) - count))))
        text = "\n".join(lines + tail)
        if len(text) <= MESSAGE_MAX or count == 0:
            return text
        count -= 1


def _deadline(t: Translator, period: PeriodInfo) -> str:
    return t.date(period.closes_on)


def _closed_title(t: Translator, period: PeriodInfo) -> str:
    return t(
        "The performance evaluation for {month} closed on {deadline}.",
        month=month_name(t, period.year, period.month),
        deadline=_deadline(t, period),
    )


def opened_text(t: Translator, period: PeriodInfo, progress: SupervisorProgress) -> str:
    """*opened*: the month, the deadline, how many reports to rate, /nilai."""
    title = t(
        "The performance evaluation for {month} is open until {deadline}.",
        month=month_name(t, period.year, period.month),
        deadline=_deadline(t, period),
    )
    count = t.ngettext(
        "You have {n} staff member to rate.",
        "You have {n} staff members to rate.",
        progress.pending,
    )
    return "\n".join(
        [f"📝 <b>{escape(title)}</b>", "", escape(count), escape(t("Type /nilai to start."))]
    )


def due_text(t: Translator, period: PeriodInfo, days: int, names: Sequence[str]) -> str:
    """*due*: the deadline in ``days`` working days, and the reports not rated yet."""
    month, deadline = month_name(t, period.year, period.month), _deadline(t, period)
    title = t.ngettext(
        "The performance evaluation for {month} closes in {n} working day, on {deadline}.",
        "The performance evaluation for {month} closes in {n} working days, on {deadline}.",
        days,
        month=month,
        deadline=deadline,
    )
    count = t.ngettext(
        "{n} of your staff has not been rated yet:",
        "{n} of your staff have not been rated yet:",
        len(names),
    )
    head = [f"⏰ <b>{escape(title)}</b>", "", escape(count)]
    items = [f"• {escape(_clip(name))}" for name in names]
    tail = ["", escape(t("Type /nilai to rate them."))]
    return _fit(head, items, tail, t, NAMES_SHOWN)


def _counts_line(t: Translator, name: str, missing: int, total: int) -> str:
    line = t(
        "{name}: {missing} of {total} not rated",
        name=_clip(name),
        missing=t.number(missing),
        total=t.number(total),
    )
    return "• " + escape(line)


def missing_text(t: Translator, period: PeriodInfo, late: Sequence[SupervisorProgress]) -> str:
    """*missing*, to a supervisor's supervisor: the supervisors reporting to them who left
    reports unrated, each with how many of how many."""
    count = t.ngettext(
        "{n} supervisor reporting to you did not rate all their staff:",
        "{n} supervisors reporting to you did not rate all their staff:",
        len(late),
    )
    head = [f"📋 <b>{escape(_closed_title(t, period))}</b>", "", escape(count)]
    items = [_counts_line(t, item.name, item.pending, item.reports) for item in late]
    tail = ["", escape(t("Please follow up with them; HR can reopen the period if needed."))]
    return _fit(head, items, tail, t, SUPERVISORS_SHOWN)


def missing_hr_text(t: Translator, period: PeriodInfo, units: Sequence[UnitProgress]) -> str:
    """*missing*, to HR: the total and the counts per unit (the full list: /hr_rekap)."""
    head = [f"📋 <b>{escape(_closed_title(t, period))}</b>", ""]
    late = [unit for unit in units if unit.pending]
    if not late:
        month = month_name(t, period.year, period.month)
        done = t("Every evaluation for {month} was submitted.", month=month)
        return "\n".join([*head, "✅ " + escape(done)])
    missing = sum(unit.pending for unit in late)
    total = t.ngettext(
        "{n} evaluation is missing in all",
        "{n} evaluations are missing in all",
        missing,
    )
    of_total = t(
        "({total} staff to rate; {supervisors} supervisors with staff not rated).",
        total=t.number(sum(unit.reports for unit in units)),
        supervisors=t.number(sum(unit.supervisors_pending for unit in late)),
    )
    head += [f"<b>{escape(total)}</b> {escape(of_total)}", "", escape(t("Per unit:"))]
    items = [_counts_line(t, unit.unit, unit.pending, unit.reports) for unit in late]
    tail = ["", escape(t("The full list: /hr_rekap"))]
    return _fit(head, items, tail, t, UNITS_SHOWN)


# --------------------------------------------------------------------------- queuing
def _translator(settings: Settings, language: str | None) -> Translator:
    return get_translator(language or settings.default_language, settings.timezone)


class _Queue:
    """Queues the messages whose keys are not in the outbox yet; counts the new ones."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.outbox = OutboxRepository(session)
        self.settings = settings
        self.queued = 0

    async def put(self, key: str, to: Recipient, render: Callable[[Translator], str]) -> None:
        payload: dict[str, Any] = {
            "text": render(_translator(self.settings, to.language)),
            "parse_mode": "HTML",
        }
        if await self.outbox.enqueue(
            key, to.chat_id, payload, kind=KIND, employee_id=to.employee_id
        ):
            self.queued += 1


async def enqueue_evaluation_reminders(
    session: AsyncSession, settings: Settings, now: dt.datetime
) -> int:
    """Queue the evaluation reminders due at ``now`` (an aware datetime) in the caller's
    transaction; how many messages were new. A second call queues nothing."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    local = now.astimezone(ZoneInfo(settings.timezone))
    today = local.date()
    if local.time() < SEND_FROM:
        return 0
    first = dt.date(*add_months(today.year, today.month, -3), 1)
    last = dt.date(*add_months(today.year, today.month, 3), 1)
    days_off = await DaysOffRepository(session).days(first, last)
    if not is_working_day(today, days_off):
        return 0
    queue = _Queue(session, settings)
    periods = EvaluationRepository(session)
    windows = [
        period_window(
            *add_months(today.year, today.month, delta),
            opens_day=settings.evaluation_opens_day,
            deadline_working_day=settings.evaluation_deadline_working_day,
            days_off=days_off,
        )
        for delta in (-3, -2, -1, 0)
    ]
    for previous, window in itertools.pairwise(windows):
        before = previous.closes_on
        if not reminders_on(
            today, window.opens_on, window.closes_on, days_off, previous_closes_on=before
        ):
            continue
        period = await periods.ensure_period(window)
        # The stored dates are the ones the evaluation itself enforces.
        for reminder in reminders_on(
            today, period.opens_on, period.closes_on, days_off, previous_closes_on=before
        ):
            if reminder.kind == MISSING:
                await _missing(session, queue, period)
            elif period.status != LOCKED:
                await _supervisors(session, queue, period, reminder)
    if queue.queued:
        log.info("evaluation reminders: %d queued", queue.queued)
    return queue.queued


async def _supervisors(
    session: AsyncSession, queue: _Queue, period: PeriodInfo, reminder: Reminder
) -> None:
    """*opened* or *due*: one message to each reachable supervisor with pending reports."""
    repository = EvaluationReminderRepository(session)
    supervisors = await repository.supervisors(period.id)
    if reminder.kind == OPENED:
        keys = {s.supervisor_id: open_key(period.id, s.supervisor_id) for s in supervisors}
    else:
        assert reminder.days_left is not None
        days = reminder.days_left
        keys = {s.supervisor_id: due_key(period.id, s.supervisor_id, days) for s in supervisors}
    done = await repository.existing_keys(keys.values())
    todo = [s for s in supervisors if keys[s.supervisor_id] not in done]
    if not todo:
        return
    names: dict[int, list[str]] = {}
    if reminder.kind == DUE:
        names = await repository.pending_names(period.id, (s.supervisor_id for s in todo))
    for progress in todo:
        recipient = progress.recipient
        assert recipient is not None  # supervisors() returned only reachable ones
        key = keys[progress.supervisor_id]
        if reminder.kind == OPENED:
            await queue.put(key, recipient, lambda t, p=progress: opened_text(t, period, p))
        else:
            assert reminder.days_left is not None
            await queue.put(
                key,
                recipient,
                lambda t, p=progress, d=reminder.days_left: due_text(
                    t, period, d, names.get(p.supervisor_id, [])
                ),
            )


async def _missing(session: AsyncSession, queue: _Queue, period: PeriodInfo) -> None:
    """After the deadline: each late supervisor's own supervisor, and every HR admin."""
    repository = EvaluationReminderRepository(session)
    late = await repository.supervisors(period.id, reachable_only=False)
    by_boss: dict[int, list[SupervisorProgress]] = defaultdict(list)
    for progress in late:
        if progress.boss_id is not None:
            by_boss[progress.boss_id].append(progress)
    hr = await repository.hr_admins()
    keys = [missing_key(period.id, boss) for boss in by_boss]
    keys += [missing_hr_key(period.id, person.employee_id) for person in hr]
    done = await repository.existing_keys(keys)
    bosses = [b for b in by_boss if missing_key(period.id, b) not in done]
    recipients = await repository.recipients(bosses)
    for boss_id in bosses:
        recipient = recipients.get(boss_id)
        if recipient is None:
            continue
        items = sorted(by_boss[boss_id], key=lambda p: (-p.pending, p.name.casefold()))
        await queue.put(
            missing_key(period.id, boss_id),
            recipient,
            lambda t, items=items: missing_text(t, period, items),
        )
    hr_todo = [p for p in hr if missing_hr_key(period.id, p.employee_id) not in done]
    if not hr_todo:
        return
    units = await repository.unit_progress(period.id)
    for person in hr_todo:
        await queue.put(
            missing_hr_key(period.id, person.employee_id),
            person,
            lambda t: missing_hr_text(t, period, units),
        )
