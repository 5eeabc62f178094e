"""Queries for mutation planning: who is in which post since when, their submitted
predicates, the formasi (``UnitFormation``) and how many hold each post (``bot.rotation``)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Employee, Evaluation, EvaluationPeriod, Unit, UnitFormation
from storage.repositories.talent import month_index

PREDICATES_KEPT = 12  # a month has one evaluation: at most 12 in the last 12 months
_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True, slots=True)
class PostHolder:
    """An active employee and their current post."""

    id: int
    nip: str
    name: str
    unit_id: int
    unit: str
    position: str
    post_since: dt.date | None
    potential: str | None


@dataclass(frozen=True, slots=True)
class Formation:
    """Formasi: ``required`` posts named ``position`` in a unit."""

    unit_id: int
    unit: str
    position: str
    required: int


@dataclass(frozen=True, slots=True)
class UnitRef:
    id: int
    name: str


def position_key(position: str) -> str:
    """Positions compare case-insensitively, with runs of spaces as one."""
    return " ".join(position.split()).casefold()


def _like(text: str) -> str:
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class RotationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def post_since(self, employee_id: int) -> dt.date | None:
        """The TMT Jabatan of one employee (``None``: not filled in, or no such employee)."""
        return await self.session.scalar(
            select(Employee.post_since).where(Employee.id == employee_id)
        )

    async def units_matching(self, text: str) -> list[UnitRef]:
        """Units whose name contains ``text`` (case-insensitive), by name."""
        rows = await self.session.execute(
            select(Unit.id, Unit.name)
            .where(func.lower(Unit.name).like(func.lower(_like(text)), escape="\\"))
            .order_by(Unit.name)
        )
        return [UnitRef(unit_id, name) for unit_id, name in rows]

    async def units(self, ids: Iterable[int]) -> list[UnitRef]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        rows = await self.session.execute(
            select(Unit.id, Unit.name).where(Unit.id.in_(wanted)).order_by(Unit.name)
        )
        return [UnitRef(unit_id, name) for unit_id, name in rows]

    async def holders(self, unit_ids: Iterable[int] | None = None) -> list[PostHolder]:
        """The active employees (of ``unit_ids`` if given), longest in their post first
        (unknown TMT last), then by name."""
        query = (
            select(
                Employee.id,
                Employee.nip,
                Employee.name,
                Employee.unit_id,
                Unit.name,
                Employee.position,
                Employee.post_since,
                Employee.potential,
            )
            .join(Unit, Unit.id == Employee.unit_id)
            .where(Employee.active.is_(True))
        )
        if unit_ids is not None:
            query = query.where(Employee.unit_id.in_(sorted(set(unit_ids))))
        rows = await self.session.execute(query)
        found = [PostHolder(*row) for row in rows]
        found.sort(key=lambda h: (h.post_since is None, h.post_since or dt.date.max, h.name, h.id))
        return found

    async def recent_predicates(
        self, employee_ids: Iterable[int], since: tuple[int, int]
    ) -> dict[int, list[str]]:
        """Each employee's submitted predicates from the period ``since`` (year, month) on,
        newest first: the last 12 months, as the talent map counts them."""
        ids = sorted(set(employee_ids))
        found: dict[int, list[str]] = defaultdict(list)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = await self.session.execute(
                select(Evaluation.employee_id, Evaluation.predicate)
                .join(EvaluationPeriod, EvaluationPeriod.id == Evaluation.period_id)
                .where(
                    Evaluation.employee_id.in_(chunk),
                    Evaluation.status == "submitted",
                    Evaluation.predicate.is_not(None),
                    EvaluationPeriod.year * 12 + EvaluationPeriod.month - 1 >= month_index(*since),
                )
                .order_by(
                    Evaluation.employee_id,
                    EvaluationPeriod.year.desc(),
                    EvaluationPeriod.month.desc(),
                )
            )
            for employee_id, predicate in rows:
                if len(found[employee_id]) < PREDICATES_KEPT:
                    found[employee_id].append(predicate)
        return dict(found)

    async def formations(self) -> list[Formation]:
        rows = await self.session.execute(
            select(UnitFormation.unit_id, Unit.name, UnitFormation.position, UnitFormation.required)
            .join(Unit, Unit.id == UnitFormation.unit_id)
            .order_by(Unit.name, UnitFormation.position)
        )
        return [Formation(*row) for row in rows]

    async def filled(self) -> dict[tuple[int, str], int]:
        """How many active employees hold each post: ``(unit id, position_key) -> count``."""
        rows = await self.session.execute(
            select(Employee.unit_id, Employee.position, func.count())
            .where(Employee.active.is_(True))
            .group_by(Employee.unit_id, Employee.position)
        )
        counts: dict[tuple[int, str], int] = defaultdict(int)
        for unit_id, position, count in rows:
            counts[(unit_id, position_key(position or ""))] += int(count)
        return dict(counts)
