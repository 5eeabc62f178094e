"""Mutations (mutasi) and their stage history: every query the chat and the notices need.

A mutation's ``stage`` is its current stage (``bot.rules.stages``); every change adds a
:class:`~storage.models.MutationEvent` (when, who, from, to, a note). A change is applied only
if the mutation is still at the stage the caller saw (:meth:`MutationRepository.change_stage`
returns ``None`` otherwise), so a double tap or two HR staff at once record one change.
Events start with ``notified_at`` unset: whoever processes them (``bot.mutations``) tells the
people concerned and marks them, in one transaction. Methods run in the caller's transaction
and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.rules.stages import FINAL_STAGES, MOVED_STAGES, Stage
from storage.models import (
    Employee,
    Mutation,
    MutationEvent,
    TelegramUser,
    Training,
    TrainingParticipant,
    Unit,
    utcnow,
)

_FINAL = tuple(stage.value for stage in FINAL_STAGES)
# Made once: an alias built per call costs more than the query on this hot path (/status).
_SUPERVISOR = aliased(Employee)
_ACTOR = aliased(Employee)
_REPORT = aliased(Employee)
_USER = aliased(TelegramUser)
_MOVED = tuple(stage.value for stage in MOVED_STAGES)


@dataclass(frozen=True, slots=True)
class StageEvent:
    id: int
    from_stage: str | None
    to_stage: str
    changed_at: dt.datetime
    changed_by: str  # the name of the HR staff, else the label ("import", "cli")
    note: str | None


@dataclass(frozen=True, slots=True)
class LinkedTraining:
    """A training tied to the mutation that the employee takes part in."""

    id: int
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str
    online_link: str | None


@dataclass(frozen=True, slots=True)
class MutationView:
    id: int
    employee_id: int
    employee_name: str
    employee_nip: str
    mutation_type: str
    from_unit: str
    from_position: str
    to_unit: str
    to_position: str
    external: bool
    stage: str
    stage_changed_at: dt.datetime
    sk_number: str | None
    sk_date: dt.date | None
    tmt_date: dt.date | None
    note: str | None
    missing_documents: tuple[str, ...]
    inauguration_at: dt.datetime | None
    to_supervisor_id: int | None
    to_supervisor_name: str | None
    created_at: dt.datetime
    events: tuple[StageEvent, ...] = ()
    trainings: tuple[LinkedTraining, ...] = ()

    @property
    def active(self) -> bool:
        return self.stage not in _FINAL

    def reached(self, stage: str) -> StageEvent | None:
        """The latest event that brought the mutation to ``stage``."""
        for event in reversed(self.events):
            if event.to_stage == stage:
                return event
        return None


@dataclass(frozen=True, slots=True)
class StuckMutation:
    id: int
    employee_name: str
    employee_nip: str
    unit: str
    mutation_type: str
    to_unit: str
    stage: str
    since: dt.datetime


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A stage change whose people have not been told yet."""

    id: int
    mutation_id: int
    from_stage: str | None
    to_stage: str
    changed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a notice may go to (``telegram_user_id`` is ``None`` when not linked)."""

    employee_id: int
    name: str
    position: str
    unit_id: int
    unit: str
    supervisor_id: int | None
    telegram_user_id: int | None
    language: str | None
    reachable: bool

    @property
    def can_be_told(self) -> bool:
        return self.telegram_user_id is not None and self.reachable


def split_lines(text: str | None) -> tuple[str, ...]:
    return tuple(line for line in (text or "").splitlines() if line.strip())


def _view_columns() -> tuple[object, ...]:
    m = Mutation
    return (
        m.id,
        m.employee_id,
        Employee.name,
        Employee.nip,
        m.mutation_type,
        m.from_unit,
        m.from_position,
        m.to_unit,
        m.to_position,
        m.external,
        m.stage,
        m.stage_changed_at,
        m.sk_number,
        m.sk_date,
        m.tmt_date,
        m.note,
        m.missing_documents,
        m.inauguration_at,
        m.to_supervisor_id,
        m.created_at,
    )


# The reading statements are built once (``/status`` runs them for every request).
# Whether any training is tied to the mutation: most have none, so the trainings query is
# skipped for them.
_HAS_TRAININGS = (
    select(Training.id)
    .where(Training.mutation_id == Mutation.id, Training.cancelled_at.is_(None))
    .exists()
)
# One row per (mutation, event): the mutations and their whole history in one statement.
_VIEWS = (
    select(
        *_view_columns(),
        _SUPERVISOR.name,
        _HAS_TRAININGS,
        MutationEvent.id,
        MutationEvent.from_stage,
        MutationEvent.to_stage,
        MutationEvent.changed_at,
        func.coalesce(_ACTOR.name, MutationEvent.changed_by_label),
        MutationEvent.note,
    )
    .join(Employee, Employee.id == Mutation.employee_id)
    .outerjoin(_SUPERVISOR, _SUPERVISOR.id == Mutation.to_supervisor_id)
    .outerjoin(MutationEvent, MutationEvent.mutation_id == Mutation.id)
    .outerjoin(_ACTOR, _ACTOR.id == MutationEvent.changed_by_id)
    .order_by(
        Mutation.created_at.desc(),
        Mutation.id.desc(),
        MutationEvent.changed_at,
        MutationEvent.id,
    )
)
_MUTATION_COLUMNS = 22  # the columns of _VIEWS before the event's
_BY_ID = _VIEWS.where(Mutation.id == bindparam("mutation_id"))
_BY_IDS = _VIEWS.where(Mutation.id.in_(bindparam("ids", expanding=True)))
_OF_EMPLOYEE = _VIEWS.where(Mutation.employee_id == bindparam("employee_id"))
_BY_EMPLOYEE: dict[bool | None, Select[Any]] = {
    None: _OF_EMPLOYEE,
    True: _OF_EMPLOYEE.where(Mutation.stage.not_in(_FINAL)),
    False: _OF_EMPLOYEE.where(Mutation.stage.in_(_FINAL)),
}
# The upcoming trainings tied to the mutations that the employee takes part in.
_TRAININGS = (
    select(
        Training.mutation_id,
        Training.id,
        Training.title,
        Training.starts_at,
        Training.ends_at,
        Training.place,
        Training.online_link,
    )
    .join(Mutation, Mutation.id == Training.mutation_id)
    .join(
        TrainingParticipant,
        and_(
            TrainingParticipant.training_id == Training.id,
            TrainingParticipant.employee_id == Mutation.employee_id,
        ),
    )
    .where(
        Training.mutation_id.in_(bindparam("ids", expanding=True)),
        Training.cancelled_at.is_(None),
        Training.ends_at > bindparam("now"),
    )
    .order_by(Training.starts_at, Training.id)
)


class MutationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ reading
    async def _views(
        self, statement: Select[Any], params: dict[str, Any], now: dt.datetime | None
    ) -> list[MutationView]:
        """The mutations ``statement`` selects, with their events and upcoming trainings."""
        mutations: dict[int, Any] = {}  # id -> the mutation's columns, newest first
        events: dict[int, list[StageEvent]] = {}
        for row in await self.session.execute(statement, params):
            mutation_id = row[0]
            if mutation_id not in mutations:
                mutations[mutation_id] = row[:_MUTATION_COLUMNS]
                events[mutation_id] = []
            if row[_MUTATION_COLUMNS] is not None:
                events[mutation_id].append(StageEvent(*row[_MUTATION_COLUMNS:]))
        trainings: dict[int, list[LinkedTraining]] = {i: [] for i in mutations}
        with_trainings = [i for i, row in mutations.items() if row[21]]
        if with_trainings:
            params = {"ids": with_trainings, "now": now or utcnow()}
            for row in await self.session.execute(_TRAININGS, params):
                trainings[row[0]].append(LinkedTraining(*row[1:]))
        return [
            MutationView(
                *row[:16],
                missing_documents=split_lines(row[16]),
                inauguration_at=row[17],
                to_supervisor_id=row[18],
                created_at=row[19],
                to_supervisor_name=row[20],
                events=tuple(events[mutation_id]),
                trainings=tuple(trainings[mutation_id]),
            )
            for mutation_id, row in mutations.items()
        ]

    async def many(
        self, mutation_ids: Iterable[int], *, now: dt.datetime | None = None
    ) -> dict[int, MutationView]:
        ids = list(set(mutation_ids))
        if not ids:
            return {}
        views = await self._views(_BY_IDS, {"ids": ids}, now)
        return {view.id: view for view in views}

    async def get(self, mutation_id: int, *, now: dt.datetime | None = None) -> MutationView | None:
        views = await self._views(_BY_ID, {"mutation_id": mutation_id}, now)
        return views[0] if views else None

    async def for_employee(
        self, employee_id: int, *, active: bool | None = None, now: dt.datetime | None = None
    ) -> list[MutationView]:
        """The employee's mutations, newest first: all, only active, or only past ones."""
        return await self._views(_BY_EMPLOYEE[active], {"employee_id": employee_id}, now)

    async def stage_of(self, mutation_id: int) -> tuple[int, str] | None:
        """``(employee id, stage)`` of a mutation, for checking a button press."""
        row = (
            await self.session.execute(
                select(Mutation.employee_id, Mutation.stage).where(Mutation.id == mutation_id)
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def stage_counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(Mutation.stage, func.count(Mutation.id)).group_by(Mutation.stage)
        )
        return {stage: int(count) for stage, count in rows}

    async def stuck(self, before: dt.datetime, *, limit: int | None = None) -> list[StuckMutation]:
        """Active mutations whose stage has not changed since ``before``, longest first."""
        statement = (
            select(
                Mutation.id,
                Employee.name,
                Employee.nip,
                Unit.name,
                Mutation.mutation_type,
                Mutation.to_unit,
                Mutation.stage,
                Mutation.stage_changed_at,
            )
            .join(Employee, Employee.id == Mutation.employee_id)
            .join(Unit, Unit.id == Employee.unit_id)
            .where(Mutation.stage.not_in(_FINAL), Mutation.stage_changed_at < before)
            .order_by(Mutation.stage_changed_at, Mutation.id)
        )
        if limit is not None:
            statement = statement.limit(limit)
        return [StuckMutation(*row) for row in await self.session.execute(statement)]

    async def count_stuck(self, before: dt.datetime) -> int:
        return int(
            await self.session.scalar(
                select(func.count(Mutation.id)).where(
                    Mutation.stage.not_in(_FINAL), Mutation.stage_changed_at < before
                )
            )
            or 0
        )

    async def recently_moved(
        self, employee_ids: Iterable[int], since: dt.datetime
    ) -> dict[int, dt.datetime]:
        """Employee → when a mutation of theirs reached ``pelantikan``/``selesai``, for those
        moved since ``since`` ("baru dimutasi")."""
        ids = list(employee_ids)
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Mutation.employee_id, func.max(MutationEvent.changed_at))
            .join(MutationEvent, MutationEvent.mutation_id == Mutation.id)
            .where(
                Mutation.employee_id.in_(ids),
                Mutation.stage.in_(_MOVED),
                MutationEvent.to_stage.in_(_MOVED),
                MutationEvent.changed_at >= since,
            )
            .group_by(Mutation.employee_id)
        )
        return {employee_id: at for employee_id, at in rows}

    # ------------------------------------------------------------------ people
    async def person(self, employee_id: int) -> Person | None:
        return (await self.people([employee_id])).get(employee_id)

    async def people(self, employee_ids: Iterable[int]) -> dict[int, Person]:
        ids = list(set(employee_ids))
        if not ids:
            return {}
        user = _USER
        rows = (
            await self.session.execute(
                select(
                    Employee.id,
                    Employee.name,
                    Employee.position,
                    Employee.unit_id,
                    Unit.name,
                    Employee.supervisor_id,
                    Employee.telegram_user_id,
                    func.coalesce(Employee.language, user.language),
                    Employee.reachable,
                )
                .join(Unit, Unit.id == Employee.unit_id)
                .outerjoin(user, user.id == Employee.telegram_user_id)
                .where(Employee.id.in_(ids))
            )
        ).all()
        return {row[0]: Person(*row) for row in rows}

    async def unit_by_name(self, name: str) -> tuple[int, str] | None:
        row = (
            await self.session.execute(
                select(Unit.id, Unit.name).where(func.lower(Unit.name) == name.strip().lower())
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def unit_head(self, unit_id: int, *, excluding: int | None = None) -> int | None:
        """The active employee of the unit with the most direct reports in it (ties: the
        lowest id); ``None`` if nobody in the unit supervises anyone there."""
        report = _REPORT
        statement = (
            select(Employee.id)
            .join(report, report.supervisor_id == Employee.id)
            .where(
                Employee.unit_id == unit_id,
                Employee.active.is_(True),
                report.unit_id == unit_id,
                report.active.is_(True),
            )
            .group_by(Employee.id)
            .order_by(func.count(report.id).desc(), Employee.id)
            .limit(1)
        )
        if excluding is not None:
            statement = statement.where(Employee.id != excluding)
        return await self.session.scalar(statement)

    async def move_employee(
        self,
        employee_id: int,
        *,
        unit_id: int,
        position: str,
        supervisor_id: int | None,
        post_since: dt.date | None = None,
    ) -> None:
        """The employee's new unit, post (kept if empty), supervisor and, when given, the
        date since when they hold the post (TMT Jabatan)."""
        values: dict[str, object] = {
            "unit_id": unit_id,
            "supervisor_id": supervisor_id,
            "updated_at": utcnow(),
        }
        if post_since is not None:
            values["post_since"] = post_since
        if position.strip():
            values["position"] = position.strip()
        await self.session.execute(
            update(Employee).where(Employee.id == employee_id).values(values)
        )

    # ------------------------------------------------------------------ writing
    async def create(
        self,
        *,
        employee_id: int,
        mutation_type: str,
        from_unit: str,
        from_position: str,
        to_unit: str,
        to_position: str,
        external: bool,
        to_supervisor_id: int | None,
        note: str | None,
        actor_id: int | None,
        actor_label: str,
        now: dt.datetime | None = None,
    ) -> tuple[int, int]:
        """A new mutation at ``diusulkan``; returns ``(mutation id, event id)``."""
        now = now or utcnow()
        mutation = Mutation(
            employee_id=employee_id,
            mutation_type=mutation_type,
            from_unit=from_unit,
            from_position=from_position,
            to_unit=to_unit,
            to_position=to_position,
            external=external,
            stage=Stage.DIUSULKAN.value,
            stage_changed_at=now,
            note=note,
            to_supervisor_id=to_supervisor_id,
            created_at=now,
            updated_at=now,
        )
        self.session.add(mutation)
        await self.session.flush()
        event = MutationEvent(
            mutation_id=mutation.id,
            from_stage=None,
            to_stage=Stage.DIUSULKAN.value,
            changed_at=now,
            changed_by_id=actor_id,
            changed_by_label=actor_label,
            note=note,
        )
        self.session.add(event)
        await self.session.flush()
        return mutation.id, event.id

    async def change_stage(
        self,
        mutation_id: int,
        *,
        expected: str,
        target: str,
        note: str | None,
        actor_id: int | None,
        actor_label: str,
        missing_documents: Sequence[str] = (),
        sk_number: str | None = None,
        sk_date: dt.date | None = None,
        tmt_date: dt.date | None = None,
        inauguration_at: dt.datetime | None = None,
        now: dt.datetime | None = None,
    ) -> int | None:
        """Move the mutation from ``expected`` to ``target`` and record the event; ``None``
        (nothing written) if it is no longer at ``expected``. Checking the transition is the
        caller's job (``bot.rules.stages.check_transition``)."""
        now = now or utcnow()
        values: dict[str, object] = {
            "stage": target,
            "stage_changed_at": now,
            "updated_at": now,
            "missing_documents": "\n".join(missing_documents) or None,
        }
        if note is not None:
            values["note"] = note
        if target == Stage.SK_TERBIT.value:
            values |= {"sk_number": sk_number, "sk_date": sk_date, "tmt_date": tmt_date}
        if inauguration_at is not None:
            values["inauguration_at"] = inauguration_at
        result = await self.session.execute(
            update(Mutation)
            .where(Mutation.id == mutation_id, Mutation.stage == expected)
            .values(values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        event = MutationEvent(
            mutation_id=mutation_id,
            from_stage=expected,
            to_stage=target,
            changed_at=now,
            changed_by_id=actor_id,
            changed_by_label=actor_label,
            note=note,
        )
        self.session.add(event)
        await self.session.flush()
        return event.id

    async def set_inauguration(self, mutation_id: int, at: dt.datetime | None) -> None:
        await self.session.execute(
            update(Mutation)
            .where(Mutation.id == mutation_id)
            .values(inauguration_at=at, updated_at=utcnow())
        )

    # ------------------------------------------------------------------ notices
    async def pending_events(
        self, *, ids: Iterable[int] | None = None, limit: int = 500
    ) -> list[PendingEvent]:
        """Stage changes nobody was told of yet, oldest first (``ids``: only those)."""
        e = MutationEvent
        statement = (
            select(e.id, e.mutation_id, e.from_stage, e.to_stage, e.changed_at)
            .where(e.notified_at.is_(None))
            .order_by(e.id)
            .limit(limit)
        )
        if ids is not None:
            statement = statement.where(e.id.in_(list(ids)))
        return [PendingEvent(*row) for row in await self.session.execute(statement)]

    async def claim_events(
        self, event_ids: Iterable[int], now: dt.datetime | None = None
    ) -> set[int]:
        """Mark the events told; returns those this call marked (not another process)."""
        ids = list(event_ids)
        if not ids:
            return set()
        result = await self.session.execute(
            update(MutationEvent)
            .where(MutationEvent.id.in_(ids), MutationEvent.notified_at.is_(None))
            .values(notified_at=now or utcnow())
            .returning(MutationEvent.id)
        )
        return set(result.scalars())

    async def moved_before(self, mutation_id: int, event_id: int) -> bool:
        """Whether an earlier event already brought the mutation to pelantikan/selesai."""
        found = await self.session.scalar(
            select(MutationEvent.id)
            .where(
                MutationEvent.mutation_id == mutation_id,
                MutationEvent.id < event_id,
                MutationEvent.to_stage.in_(_MOVED),
            )
            .limit(1)
        )
        return found is not None
