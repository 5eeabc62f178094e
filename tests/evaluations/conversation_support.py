"""Shared set-up for the /nilai conversation tests (handler layer and end to end).

People: Dinas Perhubungan with its head (a supervisor, ``BOSS_CHAT``) and Rina
(``STAFF_CHAT``, linked, so she is told of her result); Bappeda with its head (another
supervisor, ``OTHER_BOSS_CHAT``) and a clerk, Budi.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.evaluation_cards import RATING_CODES, STEP_CODES
from bot.rules.skp import Rating
from storage.models import AuditLog, Draft, Employee, Evaluation, OutboxMessage
from tests.support.factories import add_target_unit, add_unit_with_staff

Maker = async_sessionmaker[AsyncSession]

BOSS_CHAT = 7730001
STAFF_CHAT = 7730002
OTHER_BOSS_CHAT = 7730003
STAFF_NAME = "Rina Marlina, S.E."
# Thursday 3 December 2026, 10.00 WIB: November 2026 is open until Monday 7 December.
CLOCK = dt.datetime(2026, 12, 3, 3, 0, tzinfo=dt.UTC)
AFTER_DEADLINE = dt.datetime(2026, 12, 8, 3, 0, tzinfo=dt.UTC)  # Tuesday 8 December


@dataclass(frozen=True)
class People:
    boss: int
    staff: int
    other_boss: int
    clerk: int


async def add_people(sessionmaker: Maker, *, boss_language: str | None = None) -> People:
    boss, staff = await add_unit_with_staff(
        sessionmaker,
        staff_name=STAFF_NAME,
        staff_telegram_id=STAFF_CHAT,
        supervisor_telegram_id=BOSS_CHAT,
    )
    async with sessionmaker() as session, session.begin():
        _unit, head, clerk = add_target_unit(
            session, head_telegram_id=OTHER_BOSS_CHAT, clerk_name="Budi"
        )
        await session.flush()
        if boss_language is not None:
            await session.execute(
                update(Employee).where(Employee.id == boss).values(language=boss_language)
            )
        return People(boss, staff, head.id, clerk.id)


def answer(evaluation_id: int, step: str, value: str | Rating) -> str:
    """The callback data of a button at ``step`` (a rating, or an action code)."""
    code = RATING_CODES[value] if isinstance(value, Rating) else value
    return f"nl:{evaluation_id}:{STEP_CODES[step]}:{code}"


def buttons(params: dict[str, Any]) -> list[str]:
    """The callback data of a sent or edited message's inline keyboard."""
    markup = params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def evaluation_of(sessionmaker: Maker, employee_id: int) -> Evaluation | None:
    async with sessionmaker() as session:
        return await session.scalar(select(Evaluation).where(Evaluation.employee_id == employee_id))


async def evaluations(sessionmaker: Maker) -> list[Evaluation]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(Evaluation).order_by(Evaluation.id)))


async def audit_entries(sessionmaker: Maker, action: str) -> list[AuditLog]:
    async with sessionmaker() as session:
        return list(
            await session.scalars(
                select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
            )
        )


async def outbox_keys(sessionmaker: Maker, prefix: str = "") -> list[str]:
    async with sessionmaker() as session:
        return list(
            await session.scalars(
                select(OutboxMessage.idempotency_key)
                .where(OutboxMessage.idempotency_key.like(f"{prefix}%"))
                .order_by(OutboxMessage.id)
            )
        )


async def drafts(sessionmaker: Maker) -> list[tuple[int, str, str, dict[str, Any]]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Draft.telegram_user_id, Draft.flow, Draft.step, Draft.data)
        )
        return [(a, b, c, dict(d or {})) for a, b, c, d in rows]
