"""HR's side of the monthly evaluations (SKP): which period a report is about, the recap,
reminding a supervisor (**Ingatkan**) and reopening a locked period (**Buka kembali**).

Everything is decided here from the database, never from a button: whether the period is
locked, whether the supervisor still has reports to rate, whether the period takes their
evaluations today (``bot.evaluations.is_open_for``).

* A period is *locked* once its status says so or its deadline has passed.
* **Ingatkan** queues one message to the supervisor through the outbox with the key
  ``evaluation_nudge:{period}:{supervisor}:{local date}``: at most one a day, however often
  HR presses. Only while the period is open for them and they still have reports pending.
* **Buka kembali** (locked periods only) reopens for one supervisor with reports pending, or
  for all, until the 3rd working day after today (HR's days off count), recorded with
  ``EvaluationRepository.reopen`` and the audit log; the supervisor(s) with reports pending
  are told through the outbox, once per reopening day (key
  ``evaluation_reopened:{period}:{supervisor}:{until}``). A reopening that already reaches
  that day changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.evaluations import is_open_for, month_name, window_of, windows_on
from bot.i18n import Translator, get_translator
from bot.rules.workdays import nth_working_day
from storage.repositories.audit import AuditRepository
from storage.repositories.days_off import DaysOffRepository
from storage.repositories.evaluation_reports import (
    EvaluationReportRepository,
    PendingSupervisor,
    UnitProgress,
)
from storage.repositories.evaluations import LOCKED, EvaluationRepository, PeriodInfo
from storage.repositories.outbox import OutboxRepository

REOPEN_WORKING_DAYS = 3  # reopened until the 3rd working day after today
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_month(text: str) -> tuple[int, int] | None:
    """``2026-11`` → ``(2026, 11)``; ``None`` when it is not a month written as YYYY-MM."""
    match = _MONTH.match(text.strip())
    if match is None:
        return None
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        return None
    return year, month


def is_locked(period: PeriodInfo, today: dt.date) -> bool:
    """Locked: HR's status says so, or the deadline has passed."""
    return period.status == LOCKED or today > period.closes_on


async def current_period(
    session: AsyncSession, settings: Settings, today: dt.date
) -> PeriodInfo | None:
    """The period taking evaluations today (the one closing first), else the latest one."""
    repository = EvaluationRepository(session)
    for window in await windows_on(session, settings, today):
        period = await repository.ensure_period(window)
        if not is_locked(period, today):
            return period
    return await EvaluationReportRepository(session).latest_period()


async def period_of_month(
    session: AsyncSession, settings: Settings, year: int, month: int, today: dt.date
) -> PeriodInfo | None:
    """The period of ``year``-``month``: a stored one, or the one open today (made on first
    use, as for the supervisors); ``None`` for any other month."""
    found = await EvaluationRepository(session).period_by_month(year, month)
    if found is not None:
        return found
    window = await window_of(session, settings, year, month)
    if window.contains(today):
        return await EvaluationRepository(session).ensure_period(window)
    return None


async def reopening_end(session: AsyncSession, today: dt.date) -> dt.date:
    """The last day of a reopening made today: the 3rd working day after today."""
    days_off = await DaysOffRepository(session).days(today, today + dt.timedelta(days=60))
    return nth_working_day(today + dt.timedelta(days=1), REOPEN_WORKING_DAYS, days_off)


# --------------------------------------------------------------------------- the recap
@dataclass(frozen=True, slots=True)
class Recap:
    period: PeriodInfo
    today: dt.date
    locked: bool
    reopened_for_all_until: dt.date | None
    progress: list[UnitProgress]
    pending: list[PendingSupervisor]
    distribution: dict[str, int]
    drafts: int

    @property
    def submitted(self) -> int:
        return sum(item.submitted for item in self.progress)

    @property
    def total(self) -> int:
        return sum(item.total for item in self.progress)

    @property
    def open_for_all(self) -> bool:
        """Supervisors may rate today (open, or reopened for all until today or later)."""
        reopened = self.reopened_for_all_until
        return not self.locked or (reopened is not None and reopened >= self.today)

    def open_for(self, supervisor: PendingSupervisor) -> bool:
        mine = supervisor.reopened_until
        return self.open_for_all or (mine is not None and mine >= self.today)


async def recap(session: AsyncSession, period: PeriodInfo, today: dt.date) -> Recap:
    reports = EvaluationReportRepository(session)
    statuses = await reports.status_counts(period.id)
    return Recap(
        period=period,
        today=today,
        locked=is_locked(period, today),
        reopened_for_all_until=await reports.reopened_for_all_until(period.id),
        progress=await reports.progress(period.id),
        pending=await reports.pending_supervisors(period.id),
        distribution=await reports.distribution(period.id),
        drafts=statuses.get("draft", 0),
    )


# --------------------------------------------------------------------------- Ingatkan
class NudgeOutcome(StrEnum):
    QUEUED = "queued"
    ALREADY = "already"  # reminded today already
    NOTHING_PENDING = "nothing_pending"
    CLOSED = "closed"  # the period does not take their evaluations today
    UNREACHABLE = "unreachable"  # no linked Telegram account, or they blocked the bot


@dataclass(frozen=True, slots=True)
class Nudge:
    outcome: NudgeOutcome
    supervisor: PendingSupervisor | None = None


def nudge_html(t: Translator, month: str, pending: int, deadline: str) -> str:
    """To the supervisor: how many reports still wait for the evaluation, and until when."""
    text = t.ngettext(
        "Reminder from HR (BKPSDM): {n} of your staff still waits for the performance "
        "evaluation of {month}. Please rate them by {deadline} with /nilai.",
        "Reminder from HR (BKPSDM): {n} of your staff still wait for the performance "
        "evaluation of {month}. Please rate them by {deadline} with /nilai.",
        pending,
        month=month,
        deadline=deadline,
    )
    return "🔔 " + escape(text)


async def nudge(
    session: AsyncSession,
    settings: Settings,
    period: PeriodInfo,
    supervisor_id: int,
    today: dt.date,
) -> Nudge:
    """Queue today's reminder to the supervisor (once a day)."""
    supervisor = await EvaluationReportRepository(session).pending_of(period.id, supervisor_id)
    if supervisor is None:
        return Nudge(NudgeOutcome.NOTHING_PENDING)
    if not await is_open_for(session, settings, period.id, supervisor_id, today):
        return Nudge(NudgeOutcome.CLOSED, supervisor)
    if not supervisor.can_be_told:
        return Nudge(NudgeOutcome.UNREACHABLE, supervisor)
    assert supervisor.telegram_user_id is not None
    reopened = await EvaluationRepository(session).reopened_until(period.id, supervisor_id)
    deadline = max(period.closes_on, reopened) if reopened else period.closes_on
    t = get_translator(supervisor.language or settings.default_language, settings.timezone)
    month, last_day = month_name(t, period.year, period.month), t.date(deadline)
    queued = await OutboxRepository(session).enqueue(
        f"evaluation_nudge:{period.key}:{supervisor_id}:{today.isoformat()}",
        supervisor.telegram_user_id,
        {"text": nudge_html(t, month, supervisor.pending, last_day), "parse_mode": "HTML"},
        kind="evaluation_nudge",
        employee_id=supervisor_id,
    )
    return Nudge(NudgeOutcome.QUEUED if queued else NudgeOutcome.ALREADY, supervisor)


# --------------------------------------------------------------------------- Buka kembali
class ReopenOutcome(StrEnum):
    REOPENED = "reopened"
    ALREADY = "already"  # an earlier reopening reaches the same day already
    NOT_LOCKED = "not_locked"
    NOTHING_PENDING = "nothing_pending"  # (one supervisor) nobody of theirs left to rate


@dataclass(frozen=True, slots=True)
class Reopening:
    outcome: ReopenOutcome
    until: dt.date
    told: int = 0
    supervisor: PendingSupervisor | None = None


def reopened_html(t: Translator, month: str, until: str) -> str:
    """To a supervisor: they may rate the period again until ``until``."""
    text = t(
        "HR (BKPSDM) has reopened the performance evaluation of {month}. You can rate "
        "your staff again until {until} with /nilai.",
        month=month,
        until=until,
    )
    return "🔓 " + escape(text)


async def reopen(
    session: AsyncSession,
    settings: Settings,
    period: PeriodInfo,
    supervisor_id: int | None,
    today: dt.date,
    *,
    actor_id: int | None,
) -> Reopening:
    """Reopen a locked period for one supervisor (``supervisor_id``) or for all (``None``)."""
    until = await reopening_end(session, today)
    if not is_locked(period, today):
        return Reopening(ReopenOutcome.NOT_LOCKED, until)
    reports = EvaluationReportRepository(session)
    evaluations = EvaluationRepository(session)
    if supervisor_id is None:
        told_to = await reports.pending_supervisors(period.id)
        reached = await reports.reopened_for_all_until(period.id)
        supervisor = None
    else:
        supervisor = await reports.pending_of(period.id, supervisor_id)
        if supervisor is None:
            return Reopening(ReopenOutcome.NOTHING_PENDING, until)
        told_to = [supervisor]
        reached = await evaluations.reopened_until(period.id, supervisor_id)
    if reached is not None and reached >= until:
        return Reopening(ReopenOutcome.ALREADY, reached, supervisor=supervisor)
    await evaluations.reopen(period.id, evaluator_id=supervisor_id, until=until, actor_id=actor_id)
    outbox, told = OutboxRepository(session), 0
    for person in told_to:
        if not person.can_be_told:
            continue
        assert person.telegram_user_id is not None
        t = get_translator(person.language or settings.default_language, settings.timezone)
        text = reopened_html(t, month_name(t, period.year, period.month), t.date(until))
        told += await outbox.enqueue(
            f"evaluation_reopened:{period.id}:{person.supervisor_id}:{until.isoformat()}",
            person.telegram_user_id,
            {"text": text, "parse_mode": "HTML"},
            kind="evaluation_reopened",
            employee_id=person.supervisor_id,
        )
    AuditRepository(session).record(
        "evaluation_reopened",
        actor_id=actor_id,
        actor_label="telegram",
        entity_type="evaluation_period",
        entity_id=str(period.id),
        details={
            "period": period.key,
            "evaluator_id": supervisor_id,
            "until": until.isoformat(),
            "told": told,
        },
    )
    return Reopening(ReopenOutcome.REOPENED, until, told=told, supervisor=supervisor)
