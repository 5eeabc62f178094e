"""Monthly evaluations (SKP): periods, reopenings, a supervisor's team, one evaluation's draft.

An evaluation row is its own draft: every answer is written as it is given (``current_step``
says where the conversation stands), so a restart, another phone or a day's pause resumes at
the same step. One evaluation per employee and period (a unique constraint); changes apply
only while it is a draft (``status = 'draft'``), so a double tap on Kirim submits once.
Methods run in the caller's transaction and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.rules.periods import WORK, PeriodWindow
from storage.models import (
    Employee,
    Evaluation,
    EvaluationPeriod,
    EvaluationReopening,
    utcnow,
)
from storage.repositories.mutations import MutationRepository

DRAFT = "draft"
SUBMITTED = "submitted"
LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class PeriodInfo:
    id: int
    year: int
    month: int
    opens_on: dt.date
    closes_on: dt.date
    status: str

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class EvaluationState:
    id: int
    period_id: int
    employee_id: int
    evaluator_id: int
    status: str
    work_result: str | None
    ratings: dict[str, str]
    behaviour: str | None
    predicate: str | None
    feedback: str | None
    current_step: str | None
    submitted_at: dt.datetime | None
    updated_at: dt.datetime
    employee_name: str
    employee_position: str

    @property
    def submitted(self) -> bool:
        return self.status == SUBMITTED


@dataclass(frozen=True, slots=True)
class TeamMember:
    """A direct report and where their evaluation for the period stands."""

    employee_id: int
    name: str
    nip: str
    position: str
    evaluation_id: int | None
    status: str | None  # None: not started
    predicate: str | None
    current_step: str | None
    moved_at: dt.datetime | None  # set: "baru dimutasi"


@dataclass(frozen=True, slots=True)
class HistoryItem:
    year: int
    month: int
    work_result: str | None
    behaviour: str | None
    predicate: str | None
    feedback: str | None
    submitted_at: dt.datetime | None


def _period(row: Any) -> PeriodInfo:
    return PeriodInfo(*row)


PERIOD_COLUMNS = (
    EvaluationPeriod.id,
    EvaluationPeriod.year,
    EvaluationPeriod.month,
    EvaluationPeriod.opens_on,
    EvaluationPeriod.closes_on,
    EvaluationPeriod.status,
)
_STATE_COLUMNS = (
    Evaluation.id,
    Evaluation.period_id,
    Evaluation.employee_id,
    Evaluation.evaluator_id,
    Evaluation.status,
    Evaluation.work_result,
    Evaluation.behaviour_ratings,
    Evaluation.behaviour,
    Evaluation.predicate,
    Evaluation.feedback,
    Evaluation.current_step,
    Evaluation.submitted_at,
    Evaluation.updated_at,
    Employee.name,
    Employee.position,
)


def _state(row: Any) -> EvaluationState:
    values = list(row)
    values[6] = dict(values[6] or {})
    return EvaluationState(*values)


class EvaluationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ periods
    async def ensure_period(self, window: PeriodWindow) -> PeriodInfo:
        """The period row for ``window``, created (with its dates) if missing."""
        found = await self.period_by_month(window.year, window.month)
        if found is not None:
            return found
        try:
            async with self.session.begin_nested():
                self.session.add(
                    EvaluationPeriod(
                        year=window.year,
                        month=window.month,
                        opens_on=window.opens_on,
                        closes_on=window.closes_on,
                        status="open",
                    )
                )
        except IntegrityError:  # another process made it first
            pass
        found = await self.period_by_month(window.year, window.month)
        assert found is not None
        return found

    async def period(self, period_id: int) -> PeriodInfo | None:
        row = (
            await self.session.execute(
                select(*PERIOD_COLUMNS).where(EvaluationPeriod.id == period_id)
            )
        ).first()
        return None if row is None else _period(row)

    async def period_by_month(self, year: int, month: int) -> PeriodInfo | None:
        row = (
            await self.session.execute(
                select(*PERIOD_COLUMNS).where(
                    EvaluationPeriod.year == year, EvaluationPeriod.month == month
                )
            )
        ).first()
        return None if row is None else _period(row)

    async def reopened_until(self, period_id: int, evaluator_id: int) -> dt.date | None:
        """The last day HR reopened the period for this supervisor (or for all)."""
        return await self.session.scalar(
            select(func.max(EvaluationReopening.until)).where(
                EvaluationReopening.period_id == period_id,
                or_(
                    EvaluationReopening.evaluator_id.is_(None),
                    EvaluationReopening.evaluator_id == evaluator_id,
                ),
            )
        )

    async def reopened_periods(self, evaluator_id: int, today: dt.date) -> list[PeriodInfo]:
        """Periods reopened for this supervisor (or all) that still take evaluations today."""
        rows = await self.session.execute(
            select(*PERIOD_COLUMNS)
            .join(EvaluationReopening, EvaluationReopening.period_id == EvaluationPeriod.id)
            .where(
                EvaluationReopening.until >= today,
                or_(
                    EvaluationReopening.evaluator_id.is_(None),
                    EvaluationReopening.evaluator_id == evaluator_id,
                ),
            )
            .distinct()
            .order_by(EvaluationPeriod.year, EvaluationPeriod.month)
        )
        return [_period(row) for row in rows]

    async def reopen(
        self, period_id: int, *, evaluator_id: int | None, until: dt.date, actor_id: int | None
    ) -> None:
        self.session.add(
            EvaluationReopening(
                period_id=period_id,
                evaluator_id=evaluator_id,
                until=until,
                created_by_id=actor_id,
            )
        )
        await self.session.flush()

    # ------------------------------------------------------------------ people
    async def is_direct_report(self, supervisor_id: int, employee_id: int) -> bool:
        found = await self.session.scalar(
            select(Employee.id).where(
                Employee.id == employee_id,
                Employee.supervisor_id == supervisor_id,
                Employee.active.is_(True),
            )
        )
        return found is not None

    async def team(
        self, supervisor_id: int, period_id: int, *, moved_since: dt.datetime
    ) -> list[TeamMember]:
        """The supervisor's active direct reports with their evaluation for the period:
        those moved in since ``moved_since`` first, then by name."""
        rows = (
            await self.session.execute(
                select(
                    Employee.id,
                    Employee.name,
                    Employee.nip,
                    Employee.position,
                    Evaluation.id,
                    Evaluation.status,
                    Evaluation.predicate,
                    Evaluation.current_step,
                )
                .outerjoin(
                    Evaluation,
                    and_(Evaluation.employee_id == Employee.id, Evaluation.period_id == period_id),
                )
                .where(Employee.supervisor_id == supervisor_id, Employee.active.is_(True))
                .order_by(Employee.name, Employee.id)
            )
        ).all()
        moved = await MutationRepository(self.session).recently_moved(
            [row[0] for row in rows], moved_since
        )
        members = [TeamMember(*row, moved_at=moved.get(row[0])) for row in rows]
        return sorted(members, key=lambda m: m.moved_at is None)  # stable: names stay sorted

    # ------------------------------------------------------------------ one evaluation
    def _select_state(self) -> Any:
        return select(*_STATE_COLUMNS).join(Employee, Employee.id == Evaluation.employee_id)

    async def get(self, evaluation_id: int) -> EvaluationState | None:
        row = (
            await self.session.execute(self._select_state().where(Evaluation.id == evaluation_id))
        ).first()
        return None if row is None else _state(row)

    async def of_employee(self, period_id: int, employee_id: int) -> EvaluationState | None:
        row = (
            await self.session.execute(
                self._select_state().where(
                    Evaluation.period_id == period_id, Evaluation.employee_id == employee_id
                )
            )
        ).first()
        return None if row is None else _state(row)

    async def start(
        self,
        period_id: int,
        employee_id: int,
        evaluator_id: int,
        *,
        now: dt.datetime | None = None,
    ) -> EvaluationState:
        """The employee's evaluation for the period, a new draft if there is none."""
        found = await self.of_employee(period_id, employee_id)
        if found is not None:
            return found
        now = now or utcnow()
        try:
            async with self.session.begin_nested():
                self.session.add(
                    Evaluation(
                        period_id=period_id,
                        employee_id=employee_id,
                        evaluator_id=evaluator_id,
                        status=DRAFT,
                        behaviour_ratings={},
                        current_step=WORK,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:  # a double tap: the other one made it
            pass
        found = await self.of_employee(period_id, employee_id)
        assert found is not None
        return found

    async def update_draft(
        self, evaluation_id: int, values: dict[str, Any], *, now: dt.datetime | None = None
    ) -> bool:
        """Save answers (and ``current_step``) of a draft; ``False`` once it was submitted."""
        result = await self.session.execute(
            update(Evaluation)
            .where(Evaluation.id == evaluation_id, Evaluation.status == DRAFT)
            .values({**values, "updated_at": now or utcnow()})
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def submit(
        self,
        evaluation_id: int,
        *,
        behaviour: str,
        predicate: str,
        evaluator_id: int,
        now: dt.datetime | None = None,
    ) -> bool:
        """Submit a draft (once: a second call finds it submitted and changes nothing)."""
        now = now or utcnow()
        result = await self.session.execute(
            update(Evaluation)
            .where(Evaluation.id == evaluation_id, Evaluation.status == DRAFT)
            .values(
                status=SUBMITTED,
                behaviour=behaviour,
                predicate=predicate,
                evaluator_id=evaluator_id,
                current_step=None,
                submitted_at=now,
                updated_at=now,
            )
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def history(self, employee_id: int, *, months: int = 12) -> list[HistoryItem]:
        """The employee's submitted evaluations of the last ``months`` periods, oldest first."""
        rows = await self.session.execute(
            select(
                EvaluationPeriod.year,
                EvaluationPeriod.month,
                Evaluation.work_result,
                Evaluation.behaviour,
                Evaluation.predicate,
                Evaluation.feedback,
                Evaluation.submitted_at,
            )
            .join(EvaluationPeriod, EvaluationPeriod.id == Evaluation.period_id)
            .where(Evaluation.employee_id == employee_id, Evaluation.status == SUBMITTED)
            .order_by(EvaluationPeriod.year.desc(), EvaluationPeriod.month.desc())
            .limit(months)
        )
        return [HistoryItem(*row) for row in reversed(rows.all())]

    async def periods_of(self, ids: Iterable[int]) -> dict[int, PeriodInfo]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(*PERIOD_COLUMNS).where(EvaluationPeriod.id.in_(wanted))
        )
        return {row[0]: _period(row) for row in rows}
