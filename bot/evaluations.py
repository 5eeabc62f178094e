"""Monthly evaluations (SKP): which period a supervisor rates, who they may rate, the answers,
and Kirim (the employee is told through the outbox).

Everything is decided on the server from the database: the period open for the supervisor
(``bot.rules.periods``: the earliest window containing today that is not locked, or a period
HR reopened for them), whether the employee is their direct report now, and the predicate,
computed from the stored answers with ``BEHAVIOUR_RULE`` and the matrix
(``bot.rules.skp``) — never taken from a button.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import Translator, get_translator
from bot.rules.periods import (
    BEHAVIOUR,
    EVALUATION_STEPS,
    RECENTLY_MOVED_DAYS,
    SUMMARY,
    WORK,
    PeriodWindow,
    add_months,
    first_unanswered,
    next_step,
    open_windows,
    period_window,
)
from bot.rules.skp import (
    BERAKHLAK,
    PREDICATE_LABELS,
    RATING_LABELS,
    Predicate,
    Rating,
    predicate,
    summarise_behaviour,
)
from storage.models import utcnow
from storage.repositories.audit import AuditRepository
from storage.repositories.days_off import DaysOffRepository
from storage.repositories.evaluations import (
    LOCKED,
    EvaluationRepository,
    EvaluationState,
    PeriodInfo,
)
from storage.repositories.mutations import MutationRepository
from storage.repositories.outbox import OutboxRepository

MONTHS_SHOWN = 12  # /kinerja: the last 12 months


def local_today(settings: Settings, now: dt.datetime | None = None) -> dt.date:
    return (now or utcnow()).astimezone(ZoneInfo(settings.timezone)).date()


def month_name(t: Translator, year: int, month: int) -> str:
    """``November 2026`` in the reader's language (Babel)."""
    return t.date(dt.date(year, month, 1), "MMMM y")


# --------------------------------------------------------------------------- periods
async def windows_on(
    session: AsyncSession, settings: Settings, today: dt.date
) -> list[PeriodWindow]:
    """The period windows containing ``today`` (HR's days off count as non-working days)."""
    start = dt.date(*add_months(today.year, today.month, -1), 1)
    end = dt.date(*add_months(today.year, today.month, 2), 1)
    days_off = await DaysOffRepository(session).days(start, end)
    return open_windows(
        today,
        opens_day=settings.evaluation_opens_day,
        deadline_working_day=settings.evaluation_deadline_working_day,
        days_off=days_off,
    )


async def window_of(
    session: AsyncSession, settings: Settings, year: int, month: int
) -> PeriodWindow:
    start = dt.date(year, month, 1)
    end = dt.date(*add_months(year, month, 2), 1)
    days_off = await DaysOffRepository(session).days(start, end)
    return period_window(
        year,
        month,
        opens_day=settings.evaluation_opens_day,
        deadline_working_day=settings.evaluation_deadline_working_day,
        days_off=days_off,
    )


async def open_period_for(
    session: AsyncSession, settings: Settings, evaluator_id: int, today: dt.date
) -> PeriodInfo | None:
    """The period this supervisor rates today: one HR reopened for them, else the earliest
    open window (created in the database on first use), unless it was locked."""
    repository = EvaluationRepository(session)
    reopened = await repository.reopened_periods(evaluator_id, today)
    if reopened:
        return reopened[0]
    for window in await windows_on(session, settings, today):
        period = await repository.ensure_period(window)
        if period.status != LOCKED:
            return period
    return None


async def is_open_for(
    session: AsyncSession,
    settings: Settings,
    period_id: int,
    evaluator_id: int,
    today: dt.date,
) -> bool:
    """Whether the supervisor may still change evaluations of ``period_id`` today."""
    repository = EvaluationRepository(session)
    period = await repository.period(period_id)
    if period is None:
        return False
    until = await repository.reopened_until(period_id, evaluator_id)
    if until is not None and today <= until:
        return True
    return period.status != LOCKED and period.opens_on <= today <= period.closes_on


def moved_since(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=RECENTLY_MOVED_DAYS)


# --------------------------------------------------------------------------- answers
def derived_behaviour(state: EvaluationState, settings: Settings) -> Rating | None:
    """Perilaku Kerja from the seven BerAKHLAK ratings (``None`` until all are given)."""
    if any(value not in state.ratings for value in BERAKHLAK):
        return None
    return summarise_behaviour((state.ratings[v] for v in BERAKHLAK), settings.behaviour_rule)


def predicate_of(state: EvaluationState, settings: Settings) -> Predicate | None:
    behaviour = derived_behaviour(state, settings)
    if behaviour is None or state.work_result is None:
        return None
    return predicate(state.work_result, behaviour)


def resume_step(state: EvaluationState) -> str:
    """Where to continue: the stored step, or the first unanswered one."""
    if state.current_step in EVALUATION_STEPS:
        return state.current_step
    return first_unanswered(state.work_result, state.ratings)


def answer_values(state: EvaluationState, step: str, rating: Rating) -> dict[str, object]:
    """The columns to save for ``rating`` given at ``step`` (Hasil Kerja or a BerAKHLAK
    value), with the step to show next: the following one, or the summary when the
    evaluation was complete already (the supervisor came from Ubah)."""
    if step == WORK:
        values: dict[str, object] = {"work_result": rating.value}
        ratings = state.ratings
    elif step in BERAKHLAK:
        ratings = {**state.ratings, step: rating.value}
        values = {"behaviour_ratings": ratings}
    else:
        raise ValueError(f"no rating at step {step!r}")
    work = rating.value if step == WORK else state.work_result
    complete = work is not None and all(v in ratings for v in BERAKHLAK)
    came_back = state.feedback is not None or state.current_step == SUMMARY
    if complete and came_back:
        values["current_step"] = SUMMARY
    elif complete and step == BERAKHLAK[-1]:
        values["current_step"] = BEHAVIOUR
    else:
        values["current_step"] = next_step(step) if complete else first_unanswered(work, ratings)
    return values


def clean_feedback(text: str) -> str | None:
    """Typed feedback, trimmed; ``None`` when empty. Longer than the limit is the caller's
    problem to report (:data:`FEEDBACK_MAX`)."""
    cleaned = text.strip()
    return cleaned or None


async def save(
    session: AsyncSession, state: EvaluationState, values: dict[str, object]
) -> EvaluationState | None:
    """Write answers of a draft; the evaluation as it is now, ``None`` if it was submitted."""
    repository = EvaluationRepository(session)
    if not await repository.update_draft(state.id, values):
        return None
    return await repository.get(state.id)


# --------------------------------------------------------------------------- Kirim
@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    state: EvaluationState | None  # the evaluation as it is now
    submitted: bool  # by this call
    incomplete: bool = False
    queued: int = 0


def result_notice_html(state: EvaluationState, period: PeriodInfo, t: Translator) -> str:
    """To the employee: their predicate for the month and the feedback."""
    assert state.predicate is not None
    label = t(PREDICATE_LABELS[Predicate(state.predicate)])
    lines = [
        "📊 "
        + escape(
            t(
                "Your performance evaluation for {month} is in.",
                month=month_name(t, period.year, period.month),
            )
        ),
        "",
        escape(t("Predicate:")) + f" <b>{escape(label)}</b>",
    ]
    if state.work_result:
        work = t(RATING_LABELS[Rating(state.work_result)])
        lines.append(escape(t("Work results: {rating}", rating=work)))
    if state.behaviour:
        behaviour = t(RATING_LABELS[Rating(state.behaviour)])
        lines.append(escape(t("Work behaviour: {rating}", rating=behaviour)))
    if state.feedback:
        lines += [
            "",
            escape(t("Feedback from your supervisor:")),
            f"<i>{escape(state.feedback)}</i>",
        ]
    lines += ["", escape(t("Your history: /kinerja"))]
    return "\n".join(lines)


async def submit(
    session: AsyncSession,
    settings: Settings,
    state: EvaluationState,
    *,
    evaluator_id: int,
    now: dt.datetime | None = None,
) -> SubmitOutcome:
    """Kirim: compute the predicate from the stored answers, submit once, tell the employee."""
    now = now or utcnow()
    repository = EvaluationRepository(session)
    current = await repository.get(state.id)
    if current is None or current.submitted:
        return SubmitOutcome(current, submitted=False)
    behaviour = derived_behaviour(current, settings)
    result = predicate_of(current, settings)
    if behaviour is None or result is None:
        return SubmitOutcome(current, submitted=False, incomplete=True)
    if not await repository.submit(
        current.id,
        behaviour=behaviour.value,
        predicate=result.value,
        evaluator_id=evaluator_id,
        now=now,
    ):
        return SubmitOutcome(await repository.get(current.id), submitted=False)
    done = await repository.get(current.id)
    assert done is not None
    period = await repository.period(done.period_id)
    assert period is not None
    AuditRepository(session).record(
        "evaluation_submitted",
        actor_id=evaluator_id,
        actor_label="telegram",
        entity_type="evaluation",
        entity_id=str(done.id),
        details={
            "employee_id": done.employee_id,
            "period": period.key,
            "work_result": done.work_result,
            "behaviour": done.behaviour,
            "predicate": done.predicate,
        },
    )
    queued = await _tell_employee(session, settings, done, period)
    return SubmitOutcome(done, submitted=True, queued=queued)


async def _tell_employee(
    session: AsyncSession, settings: Settings, state: EvaluationState, period: PeriodInfo
) -> int:
    person = await MutationRepository(session).person(state.employee_id)
    if person is None or not person.can_be_told:
        return 0
    assert person.telegram_user_id is not None
    t = get_translator(person.language or settings.default_language, settings.timezone)
    queued = await OutboxRepository(session).enqueue(
        f"evaluation:{state.id}",
        person.telegram_user_id,
        {"text": result_notice_html(state, period, t), "parse_mode": "HTML"},
        kind="evaluation",
        employee_id=state.employee_id,
    )
    return int(bool(queued))
