"""HR's reports on the monthly evaluations (SKP): every query ``/hr_rekap`` and its file need.

Who is expected to be rated in a period: every **active employee who has a supervisor** now
(the direct supervisor in the data rates them). An expected employee counts as done once
their evaluation of the period is ``submitted``; a draft is still pending.

* :meth:`EvaluationReportRepository.progress`: per unit (the employee's current unit),
  submitted / expected.
* :meth:`EvaluationReportRepository.pending_supervisors`: supervisors with at least one
  expected report not yet submitted, most pending first.
* :meth:`EvaluationReportRepository.distribution` and :meth:`rows`: every *evaluation* of the
  period (of whoever it was given to, also someone no longer active), so the counts, the
  XLSX and the chart agree with each other.

Methods run in the caller's transaction and never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    Employee,
    Evaluation,
    EvaluationPeriod,
    EvaluationReopening,
    TelegramUser,
    Unit,
)
from storage.repositories.evaluations import PERIOD_COLUMNS, SUBMITTED, PeriodInfo

_SUPERVISOR = aliased(Employee)
_REPORT = aliased(Employee)
_EVALUATOR = aliased(Employee)
_USER = aliased(TelegramUser)


@dataclass(frozen=True, slots=True)
class UnitProgress:
    unit_id: int
    unit: str
    submitted: int
    total: int  # active employees of the unit who have a supervisor

    @property
    def pending(self) -> int:
        return self.total - self.submitted


@dataclass(frozen=True, slots=True)
class PendingSupervisor:
    """A supervisor with reports whose evaluation of the period is not submitted yet."""

    supervisor_id: int
    name: str
    nip: str
    unit: str
    pending: int
    total: int  # their active direct reports
    telegram_user_id: int | None
    reachable: bool
    language: str | None
    reopened_until: dt.date | None  # the latest reopening for them alone, if any

    @property
    def can_be_told(self) -> bool:
        return self.telegram_user_id is not None and self.reachable


@dataclass(frozen=True, slots=True)
class EvaluationRow:
    """One evaluation as HR's XLSX lists it (every rating, the predicate, the evaluator)."""

    year: int
    month: int
    unit: str
    nip: str
    name: str
    position: str
    evaluator_name: str
    evaluator_nip: str
    status: str
    work_result: str | None
    ratings: dict[str, str]
    behaviour: str | None
    predicate: str | None
    feedback: str | None
    submitted_at: dt.datetime | None


def _expected() -> Any:
    """Employees who are to be rated: active, with a supervisor."""
    return and_(_REPORT.active.is_(True), _REPORT.supervisor_id.is_not(None))


def _submitted_of(period_id: int) -> Any:
    return and_(
        Evaluation.employee_id == _REPORT.id,
        Evaluation.period_id == period_id,
        Evaluation.status == SUBMITTED,
    )


class EvaluationReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ periods
    async def latest_period(self) -> PeriodInfo | None:
        row = (
            await self.session.execute(
                select(*PERIOD_COLUMNS)
                .order_by(EvaluationPeriod.year.desc(), EvaluationPeriod.month.desc())
                .limit(1)
            )
        ).first()
        return None if row is None else PeriodInfo(*row)

    async def recent_periods(self, limit: int = 6) -> list[PeriodInfo]:
        """The latest ``limit`` periods, newest first."""
        rows = await self.session.execute(
            select(*PERIOD_COLUMNS)
            .order_by(EvaluationPeriod.year.desc(), EvaluationPeriod.month.desc())
            .limit(limit)
        )
        return [PeriodInfo(*row) for row in rows]

    async def reopened_for_all_until(self, period_id: int) -> dt.date | None:
        """The last day of the latest reopening of the period for every supervisor."""
        return await self.session.scalar(
            select(func.max(EvaluationReopening.until)).where(
                EvaluationReopening.period_id == period_id,
                EvaluationReopening.evaluator_id.is_(None),
            )
        )

    async def reopenings_by_supervisor(self, period_id: int) -> dict[int, dt.date]:
        """Per supervisor, the last day of the latest reopening for them alone."""
        rows = await self.session.execute(
            select(EvaluationReopening.evaluator_id, func.max(EvaluationReopening.until))
            .where(
                EvaluationReopening.period_id == period_id,
                EvaluationReopening.evaluator_id.is_not(None),
            )
            .group_by(EvaluationReopening.evaluator_id)
        )
        return {row[0]: row[1] for row in rows}

    # ------------------------------------------------------------------ progress
    async def progress(self, period_id: int) -> list[UnitProgress]:
        """Per unit with anyone to rate: submitted / expected, by unit name."""
        submitted = func.count(Evaluation.id)
        rows = await self.session.execute(
            select(Unit.id, Unit.name, submitted, func.count(_REPORT.id))
            .select_from(_REPORT)
            .join(Unit, Unit.id == _REPORT.unit_id)
            .outerjoin(Evaluation, _submitted_of(period_id))
            .where(_expected())
            .group_by(Unit.id, Unit.name)
            .order_by(Unit.name)
        )
        return [UnitProgress(*row) for row in rows]

    async def pending_supervisors(
        self, period_id: int, *, supervisor_id: int | None = None
    ) -> list[PendingSupervisor]:
        """Supervisors with reports still to be rated (submitted) in the period: the most
        pending first, then by name. ``supervisor_id``: only that one (or nobody)."""
        sup = _SUPERVISOR
        total = func.count(_REPORT.id)
        done = func.count(Evaluation.id)
        query = (
            select(
                sup.id,
                sup.name,
                sup.nip,
                Unit.name,
                (total - done).label("pending"),
                total,
                sup.telegram_user_id,
                sup.reachable,
                func.coalesce(sup.language, _USER.language),
            )
            .select_from(_REPORT)
            .join(sup, sup.id == _REPORT.supervisor_id)
            .join(Unit, Unit.id == sup.unit_id)
            .outerjoin(_USER, _USER.id == sup.telegram_user_id)
            .outerjoin(Evaluation, _submitted_of(period_id))
            .where(_expected())
            .group_by(
                sup.id,
                sup.name,
                sup.nip,
                Unit.name,
                sup.telegram_user_id,
                sup.reachable,
                sup.language,
                _USER.language,
            )
            .having(total > done)
            .order_by((total - done).desc(), sup.name, sup.id)
        )
        if supervisor_id is not None:
            query = query.where(sup.id == supervisor_id)
        rows = (await self.session.execute(query)).all()
        reopened = await self.reopenings_by_supervisor(period_id) if rows else {}
        return [PendingSupervisor(*row, reopened_until=reopened.get(row[0])) for row in rows]

    async def pending_of(self, period_id: int, supervisor_id: int) -> PendingSupervisor | None:
        """The supervisor's line of :meth:`pending_supervisors`; ``None``: nothing pending."""
        found = await self.pending_supervisors(period_id, supervisor_id=supervisor_id)
        return found[0] if found else None

    # ------------------------------------------------------------------ results
    async def distribution(self, period_id: int) -> dict[str, int]:
        """How many submitted evaluations of the period have each predicate."""
        rows = await self.session.execute(
            select(Evaluation.predicate, func.count(Evaluation.id))
            .where(
                Evaluation.period_id == period_id,
                Evaluation.status == SUBMITTED,
                Evaluation.predicate.is_not(None),
            )
            .group_by(Evaluation.predicate)
        )
        return {row[0]: row[1] for row in rows}

    async def status_counts(self, period_id: int) -> dict[str, int]:
        """Evaluations of the period per status (``draft``, ``submitted``)."""
        rows = await self.session.execute(
            select(Evaluation.status, func.count(Evaluation.id))
            .where(Evaluation.period_id == period_id)
            .group_by(Evaluation.status)
        )
        return {row[0]: row[1] for row in rows}

    async def rows(self, period_id: int) -> list[EvaluationRow]:
        """Every evaluation of the period (drafts too), by unit, employee name and NIP."""
        result = await self.session.execute(
            select(
                EvaluationPeriod.year,
                EvaluationPeriod.month,
                Unit.name,
                _REPORT.nip,
                _REPORT.name,
                _REPORT.position,
                _EVALUATOR.name,
                _EVALUATOR.nip,
                Evaluation.status,
                Evaluation.work_result,
                Evaluation.behaviour_ratings,
                Evaluation.behaviour,
                Evaluation.predicate,
                Evaluation.feedback,
                Evaluation.submitted_at,
            )
            .select_from(Evaluation)
            .join(EvaluationPeriod, EvaluationPeriod.id == Evaluation.period_id)
            .join(_REPORT, _REPORT.id == Evaluation.employee_id)
            .join(Unit, Unit.id == _REPORT.unit_id)
            .join(_EVALUATOR, _EVALUATOR.id == Evaluation.evaluator_id)
            .where(Evaluation.period_id == period_id)
            .order_by(Unit.name, _REPORT.name, _REPORT.nip)
        )
        rows = []
        for row in result:
            values = list(row)
            values[10] = dict(values[10] or {})
            rows.append(EvaluationRow(*values))
        return rows
