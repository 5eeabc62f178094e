"""The queries of the talent map (``/hr_talenta``) and of a supervisor's team (``/tim``).

* :meth:`TalentRepository.people`: every **active** employee (or those of one unit) with
  their post (TMT jabatan), potential, the predicates of their *submitted* monthly
  evaluations of the months from ``since`` on (newest first), and the trainings they attended
  (attendance ``hadir``, training ended, not cancelled). Three queries, whatever the number
  of people: employees, evaluations, trainings (the last two filtered by the same
  condition as the first, as a subquery, never a long ``IN`` list).
* :meth:`TalentRepository.team`: a supervisor's active direct reports with their latest
  submitted predicate and their upcoming trainings (not cancelled, not ended, not declined).
* :meth:`TalentRepository.units_like`: units by part of their name.

Methods run in the caller's transaction and never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Employee,
    Evaluation,
    EvaluationPeriod,
    Training,
    TrainingParticipant,
    Unit,
    utcnow,
)

SUBMITTED = "submitted"
ATTENDED = "hadir"
DECLINED = "tidak_hadir"


@dataclass(frozen=True, slots=True)
class MonthPredicate:
    year: int
    month: int
    predicate: str


@dataclass(frozen=True, slots=True)
class DoneTraining:
    title: str
    ended_at: dt.datetime


@dataclass(frozen=True, slots=True)
class UpcomingTraining:
    title: str
    starts_at: dt.datetime
    attendance: str  # unknown | hadir (a declined one is not listed)


@dataclass(frozen=True, slots=True)
class TalentPerson:
    employee_id: int
    nip: str
    name: str
    unit: str
    position: str
    post_since: dt.date | None
    potential: str | None  # rendah | menengah | tinggi, as stored
    predicates: tuple[MonthPredicate, ...] = ()  # newest first
    trainings: tuple[DoneTraining, ...] = ()  # latest first


@dataclass(frozen=True, slots=True)
class TeamMember:
    employee_id: int
    nip: str
    name: str
    position: str
    post_since: dt.date | None
    last: MonthPredicate | None
    upcoming: tuple[UpcomingTraining, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class UnitMatch:
    id: int
    name: str


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


class TalentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ units
    async def units_like(self, text: str, *, limit: int = 10) -> list[UnitMatch]:
        """Units whose name contains ``text`` (case-insensitive), an exact name first."""
        needle = text.strip().casefold()
        if not needle:
            return []
        pattern = f"%{_like_escape(needle)}%"
        rows = await self.session.execute(
            select(Unit.id, Unit.name)
            .where(func.lower(Unit.name).like(pattern, escape="\\"))
            .order_by(Unit.name, Unit.id)
            .limit(200)
        )
        found = [UnitMatch(*row) for row in rows]
        found.sort(key=lambda unit: unit.name.casefold() != needle)  # stable: exact first
        return found[:limit]

    async def unit(self, unit_id: int) -> UnitMatch | None:
        row = (
            await self.session.execute(select(Unit.id, Unit.name).where(Unit.id == unit_id))
        ).first()
        return None if row is None else UnitMatch(*row)

    # ------------------------------------------------------------------ the talent map
    async def people(
        self,
        *,
        since: tuple[int, int],
        unit_id: int | None = None,
        now: dt.datetime | None = None,
    ) -> list[TalentPerson]:
        """Active employees (of ``unit_id``, or all) by unit, name and NIP, with their
        predicates of the months ``since`` (year, month) and later, and the trainings done."""
        now = now or utcnow()
        wanted: list[Any] = [Employee.active.is_(True)]
        if unit_id is not None:
            wanted.append(Employee.unit_id == unit_id)
        ids = select(Employee.id).where(*wanted)
        rows = (
            await self.session.execute(
                select(
                    Employee.id,
                    Employee.nip,
                    Employee.name,
                    Unit.name,
                    Employee.position,
                    Employee.post_since,
                    Employee.potential,
                )
                .join(Unit, Unit.id == Employee.unit_id)
                .where(*wanted)
                .order_by(Unit.name, Employee.name, Employee.nip)
            )
        ).all()
        if not rows:
            return []
        first = month_index(*since)
        predicates: dict[int, list[MonthPredicate]] = {}
        evaluations = await self.session.execute(
            select(
                Evaluation.employee_id,
                EvaluationPeriod.year,
                EvaluationPeriod.month,
                Evaluation.predicate,
            )
            .join(EvaluationPeriod, EvaluationPeriod.id == Evaluation.period_id)
            .where(
                Evaluation.employee_id.in_(ids),
                Evaluation.status == SUBMITTED,
                Evaluation.predicate.is_not(None),
                EvaluationPeriod.year * 12 + EvaluationPeriod.month - 1 >= first,
            )
            .order_by(
                Evaluation.employee_id, EvaluationPeriod.year.desc(), EvaluationPeriod.month.desc()
            )
        )
        for employee_id, year, month, predicate in evaluations:
            predicates.setdefault(employee_id, []).append(MonthPredicate(year, month, predicate))
        done: dict[int, list[DoneTraining]] = {}
        trainings = await self.session.execute(
            select(TrainingParticipant.employee_id, Training.title, Training.ends_at)
            .join(Training, Training.id == TrainingParticipant.training_id)
            .where(
                TrainingParticipant.employee_id.in_(ids),
                TrainingParticipant.attendance == ATTENDED,
                Training.cancelled_at.is_(None),
                Training.ends_at <= now,
            )
            .order_by(TrainingParticipant.employee_id, Training.ends_at.desc(), Training.id)
        )
        for employee_id, title, ended_at in trainings:
            done.setdefault(employee_id, []).append(DoneTraining(title, ended_at))
        return [
            TalentPerson(
                *row,
                predicates=tuple(predicates.get(row[0], ())),
                trainings=tuple(done.get(row[0], ())),
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ a supervisor's team
    async def team(self, supervisor_id: int, *, now: dt.datetime | None = None) -> list[TeamMember]:
        """The supervisor's active direct reports by name, each with their latest submitted
        predicate and their upcoming trainings (soonest first)."""
        now = now or utcnow()
        wanted = and_(Employee.supervisor_id == supervisor_id, Employee.active.is_(True))
        rows = (
            await self.session.execute(
                select(
                    Employee.id, Employee.nip, Employee.name, Employee.position, Employee.post_since
                )
                .where(wanted)
                .order_by(Employee.name, Employee.nip)
            )
        ).all()
        if not rows:
            return []
        ids = select(Employee.id).where(wanted)
        latest: dict[int, MonthPredicate] = {}
        evaluations = await self.session.execute(
            select(
                Evaluation.employee_id,
                EvaluationPeriod.year,
                EvaluationPeriod.month,
                Evaluation.predicate,
            )
            .join(EvaluationPeriod, EvaluationPeriod.id == Evaluation.period_id)
            .where(
                Evaluation.employee_id.in_(ids),
                Evaluation.status == SUBMITTED,
                Evaluation.predicate.is_not(None),
            )
            .order_by(
                Evaluation.employee_id, EvaluationPeriod.year.desc(), EvaluationPeriod.month.desc()
            )
        )
        for employee_id, year, month, predicate in evaluations:
            latest.setdefault(employee_id, MonthPredicate(year, month, predicate))
        upcoming: dict[int, list[UpcomingTraining]] = {}
        trainings = await self.session.execute(
            select(
                TrainingParticipant.employee_id,
                Training.title,
                Training.starts_at,
                TrainingParticipant.attendance,
            )
            .join(Training, Training.id == TrainingParticipant.training_id)
            .where(
                TrainingParticipant.employee_id.in_(ids),
                TrainingParticipant.attendance != DECLINED,
                Training.cancelled_at.is_(None),
                Training.ends_at > now,
            )
            .order_by(TrainingParticipant.employee_id, Training.starts_at, Training.id)
        )
        for employee_id, title, starts_at, attendance in trainings:
            upcoming.setdefault(employee_id, []).append(
                UpcomingTraining(title, starts_at, attendance)
            )
        return [
            TeamMember(*row, last=latest.get(row[0]), upcoming=tuple(upcoming.get(row[0], ())))
            for row in rows
        ]
