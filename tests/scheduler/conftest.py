"""Scheduler tests: pure rules, reminders on both databases, the tick through the emulator.

Time is always given explicitly (``now=``, or the application's ``extras["clock"]``); the
process time zone is irrelevant (the rule tests run under several ``TZ`` values).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from storage.models import Employee, OutboxMessage, Training, TrainingParticipant, Unit

# The live_bot fixture of the end-to-end tests (the real application on the emulator).
from tests.e2e.conftest import emulator, live_bot  # noqa: F401

WIB = ZoneInfo("Asia/Jakarta")
_nips = itertools.count(1)


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """A wall-clock time in Bukittinggi as an aware UTC datetime."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=WIB).astimezone(dt.UTC)


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "quiet_hours_start": dt.time(21, 0),
        "quiet_hours_end": dt.time(6, 0),
        "training_reminders": "7d,1d,2h",
        "timezone": "Asia/Jakarta",
        "default_language": "id",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@dataclass
class Person:
    id: int
    chat_id: int | None


async def add_people(
    sessionmaker: async_sessionmaker[AsyncSession],
    count: int,
    *,
    first_chat: int = 7710001,
    language: str | None = "id",
    linked: bool = True,
    active: bool = True,
) -> list[Person]:
    async with sessionmaker() as session, session.begin():
        unit = await session.scalar(select(Unit).where(Unit.name == "Dinas Kesehatan"))
        if unit is None:
            unit = Unit(name="Dinas Kesehatan")
            session.add(unit)
        people = []
        for n in range(count):
            serial = next(_nips)
            employee = Employee(
                nip=f"19860926201505{1 if serial % 2 else 2}{serial:03d}",
                name=f"Pegawai {serial}",
                position="Perawat",
                unit=unit,
                telegram_user_id=first_chat + n if linked else None,
                language=language,
                active=active,
            )
            session.add(employee)
            people.append(employee)
        await session.flush()
        return [Person(e.id, e.telegram_user_id) for e in people]


async def add_training(
    sessionmaker: async_sessionmaker[AsyncSession],
    starts_at: dt.datetime,
    participants: list[Person],
    *,
    title: str = "Pelatihan Pelayanan Prima",
    hours: int = 3,
    place: str = "Aula Balai Kota Bukittinggi",
    online_link: str | None = None,
    code: str | None = None,
) -> int:
    async with sessionmaker() as session, session.begin():
        training = Training(
            code=code or f"PL-{next(_nips)}",
            title=title,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(hours=hours),
            place=place,
            online_link=online_link,
        )
        session.add(training)
        await session.flush()
        for person in participants:
            session.add(TrainingParticipant(training_id=training.id, employee_id=person.id))
        return training.id


async def set_training(
    sessionmaker: async_sessionmaker[AsyncSession], training_id: int, **values: object
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Training).where(Training.id == training_id).values(**values))


async def answer(
    sessionmaker: async_sessionmaker[AsyncSession], training_id: int, person: Person, value: str
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(TrainingParticipant)
            .where(
                TrainingParticipant.training_id == training_id,
                TrainingParticipant.employee_id == person.id,
            )
            .values(attendance=value)
        )


async def outbox(sessionmaker: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        return list((await session.scalars(query)).all())
