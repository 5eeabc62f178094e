"""A small office for the reminder and coaching tests (layers 1–3).

Dinas Perhubungan: the head (``HEAD_CHAT``) supervises two supervisors — Bu Sari
(``BOSS_CHAT``; reports Rina ``STAFF_CHAT`` and Doni ``STAFF2_CHAT``) and Pak Hendra
(``BOSS2_CHAT``; report Wati, not linked). BKPSDM: an HR admin (``HR_CHAT``, no supervisor).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.rules.periods import period_window
from bot.rules.skp import BERAKHLAK, Rating, predicate, summarise_behaviour
from storage.models import (
    AuditLog,
    Employee,
    Evaluation,
    OutboxMessage,
    Training,
    TrainingParticipant,
    Unit,
)
from storage.repositories.evaluations import EvaluationRepository
from tests.storage.importing import pns_nip

Maker = async_sessionmaker[AsyncSession]
WIB = ZoneInfo("Asia/Jakarta")

HEAD_CHAT = 7730001
BOSS_CHAT = 7730002
BOSS2_CHAT = 7730003
STAFF_CHAT = 7730004
STAFF2_CHAT = 7730005
HR_CHAT = 7730009


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """A wall-clock time in Bukittinggi as an aware UTC datetime."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=WIB).astimezone(dt.UTC)


@dataclass(frozen=True)
class Office:
    head: int
    boss: int  # Bu Sari: Rina and Doni
    boss2: int  # Pak Hendra: Wati
    staff: int  # Rina
    staff2: int  # Doni
    staff3: int  # Wati (not linked)
    hr: int


async def add_office(
    sessionmaker: Maker, *, boss_language: str | None = "id", boss_reachable: bool = True
) -> Office:
    async with sessionmaker() as session, session.begin():
        transport = Unit(name="Dinas Perhubungan")
        hr_unit = Unit(name="BKPSDM")

        def person(n: int, name: str, unit: Unit, **values: Any) -> Employee:
            employee = Employee(nip=pns_nip(n), name=name, position="Staf", unit=unit, **values)
            session.add(employee)
            return employee

        head = person(1, "Ir. Yusuf Datuak", transport, telegram_user_id=HEAD_CHAT)
        boss = person(
            2,
            "Sari Dewi, S.T.",
            transport,
            supervisor=head,
            telegram_user_id=BOSS_CHAT,
            language=boss_language,
            reachable=boss_reachable,
        )
        boss2 = person(3, "Hendra Putra", transport, supervisor=head, telegram_user_id=BOSS2_CHAT)
        staff = person(4, "Rina Marlina", transport, supervisor=boss, telegram_user_id=STAFF_CHAT)
        staff2 = person(
            5, "Doni <Saputra>", transport, supervisor=boss, telegram_user_id=STAFF2_CHAT
        )
        staff3 = person(6, "Wati", transport, supervisor=boss2)
        hr = person(7, "Admin BKPSDM", hr_unit, role="hr_admin", telegram_user_id=HR_CHAT)
        session.add_all([transport, hr_unit])
        await session.flush()
        return Office(head.id, boss.id, boss2.id, staff.id, staff2.id, staff3.id, hr.id)


async def add_period(sessionmaker: Maker, year: int, month: int) -> int:
    async with sessionmaker() as session, session.begin():
        period = await EvaluationRepository(session).ensure_period(period_window(year, month))
        return period.id


async def add_evaluation(
    sessionmaker: Maker,
    period_id: int,
    employee_id: int,
    evaluator_id: int,
    *,
    work: str = "sesuai",
    ratings: dict[str, str] | None = None,
    submitted: bool = True,
) -> int:
    """An evaluation with these answers (the rest Sesuai), submitted with its predicate."""
    answers = {value: "sesuai" for value in BERAKHLAK} | (ratings or {})
    behaviour = summarise_behaviour(answers.values())
    async with sessionmaker() as session, session.begin():
        evaluation = Evaluation(
            period_id=period_id,
            employee_id=employee_id,
            evaluator_id=evaluator_id,
            status="submitted" if submitted else "draft",
            work_result=work,
            behaviour_ratings=answers,
            behaviour=behaviour.value if submitted else None,
            predicate=predicate(Rating(work), behaviour).value if submitted else None,
            submitted_at=dt.datetime.now(dt.UTC) if submitted else None,
        )
        session.add(evaluation)
        await session.flush()
        return evaluation.id


async def add_training(
    sessionmaker: Maker,
    title: str,
    starts_at: dt.datetime,
    *,
    code: str,
    participants: tuple[int, ...] = (),
    cancelled: bool = False,
) -> int:
    async with sessionmaker() as session, session.begin():
        training = Training(
            code=code,
            title=title,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(hours=6),
            place="Aula Balai Kota Bukittinggi",
            cancelled_at=starts_at - dt.timedelta(days=30) if cancelled else None,
            cancel_reason="Ditunda" if cancelled else None,
        )
        session.add(training)
        await session.flush()
        for employee_id in participants:
            session.add(TrainingParticipant(training_id=training.id, employee_id=employee_id))
        return training.id


async def outbox(sessionmaker: Maker) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def evaluation(sessionmaker: Maker, evaluation_id: int) -> Evaluation:
    async with sessionmaker() as session:
        found = await session.get(Evaluation, evaluation_id)
        assert found is not None
        return found


async def participants(sessionmaker: Maker, training_id: int) -> list[int]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(TrainingParticipant.employee_id)
            .where(TrainingParticipant.training_id == training_id)
            .order_by(TrainingParticipant.employee_id)
        )
        return list(rows)


async def audit_actions(sessionmaker: Maker) -> list[str]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


async def count_outbox(sessionmaker: Maker) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
