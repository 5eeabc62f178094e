"""Coaching (pembinaan): the employees flagged by a low predicate, and HR's assignments.

Flagged
    An active employee whose *latest* submitted evaluation (by period) has a predicate in
    ``bot.rules.skp.NEEDS_COACHING`` and no coaching training yet — none assigned, or the one
    assigned was cancelled since (the coaching did not happen: HR assigns another). A later
    evaluation with a better predicate ends the flag; a later low one flags again (each
    month's evaluation is followed up on its own).

Supervisor
    The one shown and told is the employee's current direct supervisor; for an employee
    without one, the supervisor who gave the evaluation.

Assigning (:meth:`CoachingRepository.assign`) is one conditional ``UPDATE``: it applies only
while the evaluation is still submitted and without a (live) coaching training, so two HR
admins pressing at once, or a double tap, assign once. Methods run in the caller's
transaction and never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.rules.skp import NEEDS_COACHING, Predicate
from storage.models import Employee, Evaluation, EvaluationPeriod, Training, Unit
from storage.repositories.evaluations import SUBMITTED

_BOSS = aliased(Employee, name="boss")
_ACTOR = aliased(Employee, name="actor")
_LOW = sorted(p.value for p in NEEDS_COACHING)
# Most severe first in HR's list.
_SEVERITY = case(
    (Evaluation.predicate == Predicate.SANGAT_KURANG.value, 0),
    (Evaluation.predicate == Predicate.KURANG.value, 1),
    else_=2,
)


@dataclass(frozen=True, slots=True)
class FlaggedEvaluation:
    """An employee to coach, with the evaluation that flagged them."""

    evaluation_id: int
    employee_id: int
    name: str
    nip: str
    position: str
    unit: str
    supervisor_id: int | None
    supervisor_name: str | None
    year: int
    month: int
    predicate: str
    work_result: str | None
    ratings: dict[str, str]


@dataclass(frozen=True, slots=True)
class AssignedCoaching:
    """An evaluation whose coaching training HR has assigned."""

    evaluation_id: int
    name: str
    unit: str
    year: int
    month: int
    predicate: str
    training_id: int
    training_title: str
    training_code: str
    starts_at: dt.datetime
    cancelled: bool
    assigned_at: dt.datetime | None
    assigned_by: str | None


def _latest_submitted() -> Any:
    """``(evaluation id)`` of each employee's latest submitted evaluation."""
    ranked = (
        select(
            Evaluation.id.label("evaluation_id"),
            func.row_number()
            .over(
                partition_by=Evaluation.employee_id,
                order_by=(EvaluationPeriod.year.desc(), EvaluationPeriod.month.desc()),
            )
            .label("position"),
        )
        .join(EvaluationPeriod, EvaluationPeriod.id == Evaluation.period_id)
        .where(Evaluation.status == SUBMITTED)
        .subquery()
    )
    return select(ranked.c.evaluation_id).where(ranked.c.position == 1)


def _without_coaching() -> Any:
    """No coaching training, or only a cancelled one."""
    cancelled = exists().where(
        Training.id == Evaluation.coaching_training_id, Training.cancelled_at.is_not(None)
    )
    return or_(Evaluation.coaching_training_id.is_(None), cancelled)


def _flagged_where() -> tuple[Any, ...]:
    return (
        Evaluation.id.in_(_latest_submitted()),
        Evaluation.predicate.in_(_LOW),
        Employee.active.is_(True),
        _without_coaching(),
    )


class CoachingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _select_flagged(self) -> Any:
        boss = _BOSS
        return (
            select(
                Evaluation.id,
                Employee.id,
                Employee.name,
                Employee.nip,
                Employee.position,
                Unit.name,
                boss.id,
                boss.name,
                EvaluationPeriod.year,
                EvaluationPeriod.month,
                Evaluation.predicate,
                Evaluation.work_result,
                Evaluation.behaviour_ratings,
            )
            .select_from(Evaluation)
            .join(Employee, Employee.id == Evaluation.employee_id)
            .join(Unit, Unit.id == Employee.unit_id)
            .join(EvaluationPeriod, EvaluationPeriod.id == Evaluation.period_id)
            .outerjoin(
                boss, boss.id == func.coalesce(Employee.supervisor_id, Evaluation.evaluator_id)
            )
            .where(*_flagged_where())
        )

    @staticmethod
    def _flagged(row: Any) -> FlaggedEvaluation:
        values = list(row)
        values[-1] = {str(k): str(v) for k, v in dict(values[-1] or {}).items()}
        return FlaggedEvaluation(*values)

    async def flagged(
        self, *, offset: int = 0, limit: int = 6
    ) -> tuple[list[FlaggedEvaluation], int]:
        """A page of the flagged employees (the latest month first, then the most severe
        predicate, the unit and the name) and how many there are in all."""
        total = await self.session.scalar(
            select(func.count(Evaluation.id))
            .join(Employee, Employee.id == Evaluation.employee_id)
            .where(*_flagged_where())
        )
        rows = await self.session.execute(
            self._select_flagged()
            .order_by(
                EvaluationPeriod.year.desc(),
                EvaluationPeriod.month.desc(),
                _SEVERITY,
                Unit.name,
                Employee.name,
                Evaluation.id,
            )
            .offset(offset)
            .limit(limit)
        )
        return [self._flagged(row) for row in rows], int(total or 0)

    async def flagged_one(self, evaluation_id: int) -> FlaggedEvaluation | None:
        """The evaluation if it still flags its employee (see the module doc), else ``None``."""
        row = (
            await self.session.execute(self._select_flagged().where(Evaluation.id == evaluation_id))
        ).first()
        return None if row is None else self._flagged(row)

    async def assigned(self, *, limit: int = 15) -> tuple[list[AssignedCoaching], int]:
        """The latest coaching assignments (newest first) and how many there are."""
        total = await self.assigned_count()
        actor = _ACTOR
        rows = await self.session.execute(
            select(
                Evaluation.id,
                Employee.name,
                Unit.name,
                EvaluationPeriod.year,
                EvaluationPeriod.month,
                Evaluation.predicate,
                Training.id,
                Training.title,
                Training.code,
                Training.starts_at,
                Training.cancelled_at.is_not(None),
                Evaluation.coaching_assigned_at,
                actor.name,
            )
            .select_from(Evaluation)
            .join(Employee, Employee.id == Evaluation.employee_id)
            .join(Unit, Unit.id == Employee.unit_id)
            .join(EvaluationPeriod, EvaluationPeriod.id == Evaluation.period_id)
            .join(Training, Training.id == Evaluation.coaching_training_id)
            .outerjoin(actor, actor.id == Evaluation.coaching_assigned_by_id)
            .order_by(Evaluation.coaching_assigned_at.desc(), Evaluation.id.desc())
            .limit(limit)
        )
        return [AssignedCoaching(*row) for row in rows], total

    async def assigned_count(self) -> int:
        return int(
            await self.session.scalar(
                select(func.count(Evaluation.id)).where(
                    Evaluation.coaching_training_id.is_not(None)
                )
            )
            or 0
        )

    async def assign(
        self, evaluation_id: int, training_id: int, *, actor_id: int | None, now: dt.datetime
    ) -> bool:
        """Record the coaching training of a flagged evaluation; ``False`` when it already has
        one (or is not a submitted low one): nothing changes then."""
        result = await self.session.execute(
            update(Evaluation)
            .where(
                Evaluation.id == evaluation_id,
                Evaluation.status == SUBMITTED,
                Evaluation.predicate.in_(_LOW),
                _without_coaching(),
            )
            .values(
                coaching_training_id=training_id,
                coaching_assigned_at=now,
                coaching_assigned_by_id=actor_id,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))
