"""Trainings (pelatihan / diklat) and their participants: every query the chat needs.

Times are UTC. A training is *open* while it is not cancelled and has not ended; only an
open training takes answers, can be moved or cancelled. Answers (``attendance``) are
``unknown`` until the participant answers ``hadir`` or ``tidak_hadir`` (with an optional
reason). Moving a training resets every answer to ``unknown``: the participants confirm the
new date again. Methods run in the caller's transaction and never commit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Employee, TelegramUser, Training, TrainingParticipant, Unit, utcnow

UNKNOWN = "unknown"
HADIR = "hadir"
TIDAK_HADIR = "tidak_hadir"

CODE_PREFIX = "PLT"
_CODE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class TrainingInfo:
    id: int
    code: str
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str
    online_link: str | None
    cancelled_at: dt.datetime | None
    cancel_reason: str | None

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    def ended(self, now: dt.datetime | None = None) -> bool:
        return self.ends_at <= (now or utcnow())

    def is_open(self, now: dt.datetime | None = None) -> bool:
        """Takes answers and may still be moved or cancelled."""
        return not self.cancelled and not self.ended(now)


@dataclass(frozen=True, slots=True)
class Participation:
    """One employee's place in one training, with their answer."""

    training: TrainingInfo
    employee_id: int
    attendance: str
    absence_reason: str | None
    responded_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class AttendanceCounts:
    total: int = 0
    hadir: int = 0
    tidak_hadir: int = 0

    @property
    def unknown(self) -> int:
        return self.total - self.hadir - self.tidak_hadir


@dataclass(frozen=True, slots=True)
class TrainingSummary:
    training: TrainingInfo
    counts: AttendanceCounts


@dataclass(frozen=True, slots=True)
class Absentee:
    name: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class TrainingCard:
    training: TrainingInfo
    counts: AttendanceCounts
    absentees: list[Absentee]


@dataclass(frozen=True, slots=True)
class ParticipantRow:
    """A line of the attendance list."""

    name: str
    nip: str
    unit: str
    attendance: str
    absence_reason: str | None
    responded_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Recipient:
    """A participant the bot can write to."""

    employee_id: int
    telegram_user_id: int
    language: str | None


@dataclass(frozen=True, slots=True)
class UnitChoice:
    id: int
    name: str
    members: int


def _info_columns() -> tuple[object, ...]:
    t = Training
    return (
        t.id,
        t.code,
        t.title,
        t.starts_at,
        t.ends_at,
        t.place,
        t.online_link,
        t.cancelled_at,
        t.cancel_reason,
    )


def _info(row: object) -> TrainingInfo:
    return TrainingInfo(*row[:9])  # type: ignore[index]


def _participation_columns() -> tuple[object, ...]:
    p = TrainingParticipant
    return (*_info_columns(), p.employee_id, p.attendance, p.absence_reason, p.responded_at)


def _open(now: dt.datetime) -> object:
    return and_(Training.cancelled_at.is_(None), Training.ends_at > now)


def _counts_columns() -> tuple[object, ...]:
    p = TrainingParticipant
    return (
        func.count(p.id),
        func.coalesce(func.sum(case((p.attendance == HADIR, 1), else_=0)), 0),
        func.coalesce(func.sum(case((p.attendance == TIDAK_HADIR, 1), else_=0)), 0),
    )


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class TrainingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ reading
    async def get(self, training_id: int) -> TrainingInfo | None:
        row = (
            await self.session.execute(select(*_info_columns()).where(Training.id == training_id))
        ).first()
        return None if row is None else _info(row)

    async def by_code(self, code: str) -> TrainingInfo | None:
        row = (
            await self.session.execute(
                select(*_info_columns()).where(func.upper(Training.code) == code.strip().upper())
            )
        ).first()
        return None if row is None else _info(row)

    async def participation(self, training_id: int, employee_id: int) -> Participation | None:
        """The employee's answer to the training, ``None`` if they are not a participant."""
        p = TrainingParticipant
        row = (
            await self.session.execute(
                select(*_participation_columns())
                .join(p, p.training_id == Training.id)
                .where(Training.id == training_id, p.employee_id == employee_id)
            )
        ).first()
        return None if row is None else _participation(row)

    async def upcoming_for_employee(
        self, employee_id: int, *, now: dt.datetime | None = None, limit: int = 10
    ) -> list[Participation]:
        """The employee's open trainings, soonest first."""
        now = now or utcnow()
        return await self._for_employee(
            employee_id, _open(now), (Training.starts_at, Training.id), limit
        )

    async def history_for_employee(
        self, employee_id: int, *, now: dt.datetime | None = None, limit: int = 10
    ) -> list[Participation]:
        """Ended or cancelled trainings of the employee, latest first."""
        now = now or utcnow()
        past = or_(Training.cancelled_at.is_not(None), Training.ends_at <= now)
        order = (Training.starts_at.desc(), Training.id.desc())
        return await self._for_employee(employee_id, past, order, limit)

    async def _for_employee(
        self, employee_id: int, where: object, order: tuple[object, ...], limit: int
    ) -> list[Participation]:
        p = TrainingParticipant
        rows = await self.session.execute(
            select(*_participation_columns())
            .join(p, p.training_id == Training.id)
            .where(p.employee_id == employee_id, where)  # type: ignore[arg-type]
            .order_by(*order)  # type: ignore[arg-type]
            .limit(limit)
        )
        return [_participation(row) for row in rows]

    async def upcoming_for_hr(
        self, *, now: dt.datetime | None = None, limit: int = 10
    ) -> list[TrainingSummary]:
        """Open trainings, soonest first, with their answer counts."""
        now = now or utcnow()
        p = TrainingParticipant
        rows = await self.session.execute(
            select(*_info_columns(), *_counts_columns())
            .outerjoin(p, p.training_id == Training.id)
            .where(_open(now))  # type: ignore[arg-type]
            .group_by(*_info_columns())
            .order_by(Training.starts_at, Training.id)
            .limit(limit)
        )
        return [
            TrainingSummary(_info(row), AttendanceCounts(*(int(n) for n in row[9:12])))
            for row in rows
        ]

    async def counts(self, training_id: int) -> AttendanceCounts:
        row = (
            await self.session.execute(
                select(*_counts_columns()).where(TrainingParticipant.training_id == training_id)
            )
        ).one()
        return AttendanceCounts(*(int(n) for n in row))

    async def card(self, training_id: int, *, absentees: int = 20) -> TrainingCard | None:
        """The training, its counts and the first ``absentees`` who will not come (reasons)."""
        training = await self.get(training_id)
        if training is None:
            return None
        p = TrainingParticipant
        rows = await self.session.execute(
            select(Employee.name, p.absence_reason)
            .join(Employee, Employee.id == p.employee_id)
            .where(p.training_id == training_id, p.attendance == TIDAK_HADIR)
            .order_by(p.responded_at, p.id)
            .limit(absentees)
        )
        return TrainingCard(
            training,
            await self.counts(training_id),
            [Absentee(name, reason) for name, reason in rows],
        )

    async def attendance_rows(self, training_id: int) -> list[ParticipantRow]:
        """Every participant with their answer, by unit then name."""
        p = TrainingParticipant
        rows = await self.session.execute(
            select(
                Employee.name,
                Employee.nip,
                Unit.name,
                p.attendance,
                p.absence_reason,
                p.responded_at,
            )
            .join(Employee, Employee.id == p.employee_id)
            .join(Unit, Unit.id == Employee.unit_id)
            .where(p.training_id == training_id)
            .order_by(Unit.name, Employee.name, Employee.id)
        )
        return [ParticipantRow(*row) for row in rows]

    async def recipients(self, training_id: int) -> list[Recipient]:
        """Participants with a linked, reachable Telegram account (their language too)."""
        p = TrainingParticipant
        rows = await self.session.execute(
            select(
                Employee.id,
                Employee.telegram_user_id,
                func.coalesce(Employee.language, TelegramUser.language),
            )
            .join(p, p.employee_id == Employee.id)
            .outerjoin(TelegramUser, TelegramUser.id == Employee.telegram_user_id)
            .where(
                p.training_id == training_id,
                Employee.telegram_user_id.is_not(None),
                Employee.active.is_(True),
                Employee.reachable.is_(True),
            )
            .order_by(Employee.id)
        )
        return [Recipient(*row) for row in rows]

    # ------------------------------------------------------------------ choosing people
    async def employees_by_nips(self, nips: Iterable[str]) -> dict[str, int]:
        """``{nip: employee id}`` of the active employees among ``nips``."""
        wanted = sorted(set(nips))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(Employee.nip, Employee.id).where(
                Employee.nip.in_(wanted), Employee.active.is_(True)
            )
        )
        return {nip: employee_id for nip, employee_id in rows}

    async def employee_names(self, employee_ids: Iterable[int], limit: int = 5) -> list[str]:
        ids = list(employee_ids)
        if not ids:
            return []
        rows = await self.session.scalars(
            select(Employee.name).where(Employee.id.in_(ids)).order_by(Employee.name).limit(limit)
        )
        return list(rows)

    def _unit_query(self) -> Select[Any]:
        members = (
            select(func.count(Employee.id))
            .where(Employee.unit_id == Unit.id, Employee.active.is_(True))
            .correlate(Unit)
            .scalar_subquery()
        )
        return select(Unit.id, Unit.name, members)

    async def units(self, *, offset: int = 0, limit: int = 8) -> tuple[list[UnitChoice], int]:
        """A page of units by name, and how many units there are."""
        total = int(await self.session.scalar(select(func.count(Unit.id))) or 0)
        rows = await self.session.execute(
            self._unit_query().order_by(Unit.name, Unit.id).offset(offset).limit(limit)
        )
        return [UnitChoice(*row) for row in rows], total

    async def search_units(self, text: str, *, limit: int = 10) -> list[UnitChoice]:
        """Units whose name contains ``text`` (any case); an exact name comes first."""
        needle = text.strip().lower()
        if not needle:
            return []
        pattern = f"%{_like_escape(needle)}%"
        rows = await self.session.execute(
            self._unit_query()
            .where(func.lower(Unit.name).like(pattern, escape="\\"))
            .order_by(case((func.lower(Unit.name) == needle, 0), else_=1), Unit.name)
            .limit(limit)
        )
        return [UnitChoice(*row) for row in rows]

    async def unit(self, unit_id: int) -> UnitChoice | None:
        row = (await self.session.execute(self._unit_query().where(Unit.id == unit_id))).first()
        return None if row is None else UnitChoice(*row)

    async def unit_member_ids(self, unit_id: int) -> list[int]:
        rows = await self.session.scalars(
            select(Employee.id)
            .where(Employee.unit_id == unit_id, Employee.active.is_(True))
            .order_by(Employee.id)
        )
        return list(rows)

    # ------------------------------------------------------------------ writing
    async def _next_code(self, year: int) -> str:
        prefix = f"{CODE_PREFIX}-{year}-"
        codes = await self.session.scalars(
            select(Training.code).where(Training.code.like(f"{_like_escape(prefix)}%", escape="\\"))
        )
        numbers = [
            int(code[len(prefix) :]) for code in codes if re.fullmatch(r"\d+", code[len(prefix) :])
        ]
        return f"{prefix}{max(numbers, default=0) + 1:04d}"

    async def create(
        self,
        *,
        title: str,
        starts_at: dt.datetime,
        ends_at: dt.datetime,
        place: str,
        online_link: str | None,
        employee_ids: Iterable[int],
        created_by_id: int | None,
        year: int,
    ) -> TrainingInfo:
        """A new training coded ``PLT-<year>-NNNN`` with its participants (all ``unknown``)."""
        for attempt in range(_CODE_ATTEMPTS):
            code = await self._next_code(year)
            training = Training(
                code=code,
                title=title,
                starts_at=starts_at,
                ends_at=ends_at,
                place=place,
                online_link=online_link,
                created_by_id=created_by_id,
            )
            try:
                async with self.session.begin_nested():
                    self.session.add(training)
                    await self.session.flush()
            except IntegrityError:  # another process took the code meanwhile
                if attempt == _CODE_ATTEMPTS - 1:
                    raise
                continue
            break
        ids = sorted(set(employee_ids))
        self.session.add_all(
            TrainingParticipant(training_id=training.id, employee_id=employee_id)
            for employee_id in ids
        )
        await self.session.flush()
        info = await self.get(training.id)
        assert info is not None
        return info

    async def add_participant(self, training_id: int, employee_id: int) -> bool:
        """Add one participant (answer ``unknown``); ``False`` if they already were one."""
        bind = self.session.bind
        dialect = bind.dialect.name if bind is not None else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(TrainingParticipant)
            .values(training_id=training_id, employee_id=employee_id, attendance=UNKNOWN)
            .on_conflict_do_nothing(
                index_elements=[TrainingParticipant.training_id, TrainingParticipant.employee_id]
            )
            .returning(TrainingParticipant.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def set_attendance(
        self,
        training_id: int,
        employee_id: int,
        attendance: str,
        *,
        reason: str | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Record an answer if the employee is a participant and the training is open."""
        if attendance not in (HADIR, TIDAK_HADIR):
            raise ValueError(f"unknown attendance {attendance!r}")
        now = now or utcnow()
        p = TrainingParticipant
        still_open = exists().where(
            Training.id == p.training_id, Training.cancelled_at.is_(None), Training.ends_at > now
        )
        result = await self.session.execute(
            update(p)
            .where(p.training_id == training_id, p.employee_id == employee_id, still_open)
            .values(
                attendance=attendance,
                absence_reason=reason if attendance == TIDAK_HADIR else None,
                responded_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def move(
        self,
        training_id: int,
        starts_at: dt.datetime,
        ends_at: dt.datetime,
        *,
        now: dt.datetime | None = None,
    ) -> TrainingInfo | None:
        """New times for an open training; every answer goes back to ``unknown``.

        ``None`` when the training is missing, cancelled or already ended.
        """
        now = now or utcnow()
        result = await self.session.execute(
            update(Training)
            .where(Training.id == training_id, _open(now))  # type: ignore[arg-type]
            .values(starts_at=starts_at, ends_at=ends_at, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            return None
        await self.session.execute(
            update(TrainingParticipant)
            .where(TrainingParticipant.training_id == training_id)
            .values(attendance=UNKNOWN, absence_reason=None, responded_at=None)
            .execution_options(synchronize_session=False)
        )
        return await self.get(training_id)

    async def cancel(
        self, training_id: int, reason: str, *, now: dt.datetime | None = None
    ) -> TrainingInfo | None:
        """Cancel an open training; ``None`` when it is missing, cancelled or ended."""
        now = now or utcnow()
        result = await self.session.execute(
            update(Training)
            .where(Training.id == training_id, _open(now))  # type: ignore[arg-type]
            .values(cancelled_at=now, cancel_reason=reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            return None
        return await self.get(training_id)


def _participation(row: object) -> Participation:
    values = tuple(row)  # type: ignore[call-overload]
    return Participation(_info(values), *values[9:13])
