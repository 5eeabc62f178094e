"""Shared set-up for the /hr_mutasi tests (layer 2 and end to end).

People: Dinas Perhubungan with its head (an HR admin, ``HR_CHAT``) and Rina (``ASN_CHAT``);
Bappeda with its head (a supervisor, not HR, ``NEW_BOSS_CHAT``) and a clerk; Dinas Kesehatan
with Andi (``OTHER_CHAT``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.mutations import create_mutation
from bot.rules.stages import MutationType, Stage
from handlers.hr_mutations import STAGE_CODES
from storage.models import (
    Draft,
    Employee,
    Mutation,
    MutationEvent,
    OutboxMessage,
    Unit,
    utcnow,
)
from tests.support.factories import NIP_TARGET_HEAD, add_target_unit, add_unit_with_staff

Maker = async_sessionmaker[AsyncSession]

HR_CHAT = 7720001
ASN_CHAT = 7720002
NEW_BOSS_CHAT = 7720003
OTHER_CHAT = 7720004
NEW_BOSS_NIP = NIP_TARGET_HEAD
OTHER_NIP = "198801012012011002"
UNKNOWN_NIP = "199105052019031004"


@dataclass(frozen=True)
class People:
    hr: int
    staff: int
    new_boss: int
    clerk: int
    other: int


async def add_people(sessionmaker: Maker) -> People:
    hr, staff = await add_unit_with_staff(
        sessionmaker,
        staff_telegram_id=ASN_CHAT,
        supervisor_telegram_id=HR_CHAT,
        supervisor_is_hr_admin=True,
    )
    async with sessionmaker() as session, session.begin():
        _bappeda, head, clerk = add_target_unit(
            session, head_telegram_id=NEW_BOSS_CHAT, clerk_name="Budi"
        )
        health = Unit(name="Dinas Kesehatan")
        other = Employee(
            nip=OTHER_NIP,
            name="Andi Saputra",
            position="Perawat",
            unit=health,
            telegram_user_id=OTHER_CHAT,
        )
        session.add_all([health, other])
        await session.flush()
        return People(hr, staff, head.id, clerk.id, other.id)


async def add_mutation(
    sessionmaker: Maker,
    settings: Settings,
    employee_id: int,
    *,
    mutation_type: MutationType = MutationType.ROTASI,
    to_unit: str = "Bappeda",
    to_position: str = "Perencana Ahli Pertama",
    to_supervisor_id: int | None = None,
    stage: str | None = None,
    days_ago: float | None = None,
) -> int:
    """A mutation made by the service (told as HR's would be), optionally put straight at
    ``stage`` and dated ``days_ago``."""
    async with sessionmaker() as session, session.begin():
        mutation_id, _ = await create_mutation(
            session,
            settings,
            employee_id=employee_id,
            mutation_type=mutation_type,
            to_unit=to_unit,
            to_position=to_position,
            to_supervisor_id=to_supervisor_id,
            actor_id=None,
        )
        values: dict[str, Any] = {}
        if stage is not None:
            values["stage"] = stage
        if days_ago is not None:
            values["stage_changed_at"] = utcnow() - dt.timedelta(days=days_ago)
        if values:
            await session.execute(
                update(Mutation).where(Mutation.id == mutation_id).values(**values)
            )
        return mutation_id


async def stage_of(sessionmaker: Maker, mutation_id: int) -> str:
    async with sessionmaker() as session:
        return str(await session.scalar(select(Mutation.stage).where(Mutation.id == mutation_id)))


async def mutation(sessionmaker: Maker, mutation_id: int) -> Mutation:
    async with sessionmaker() as session:
        found = await session.get(Mutation, mutation_id)
        assert found is not None
        return found


async def events(sessionmaker: Maker, mutation_id: int) -> list[tuple[str | None, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(MutationEvent.from_stage, MutationEvent.to_stage)
            .where(MutationEvent.mutation_id == mutation_id)
            .order_by(MutationEvent.id)
        )
        return [(a, b) for a, b in rows]


async def outbox_keys(sessionmaker: Maker, prefix: str = "") -> list[str]:
    async with sessionmaker() as session:
        return list(
            await session.scalars(
                select(OutboxMessage.idempotency_key)
                .where(OutboxMessage.idempotency_key.like(f"{prefix}%"))
                .order_by(OutboxMessage.id)
            )
        )


async def outbox_row(sessionmaker: Maker, key: str) -> OutboxMessage | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        )


async def drafts(sessionmaker: Maker) -> list[tuple[int, str, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Draft.telegram_user_id, Draft.flow, Draft.step))
        return [(a, b, c) for a, b, c in rows]


async def count_mutations(sessionmaker: Maker) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Mutation)) or 0)


def buttons(params: dict[str, Any]) -> list[str]:
    """The callback data of a sent or edited message's inline keyboard."""
    markup = params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def go(employee_id: int, mutation_id: int, current: str, target: str) -> str:
    """The callback data of a stage button (as ``/hr_mutasi NIP`` makes it)."""
    return (
        f"hrm:go:{employee_id}:{mutation_id}:"
        f"{STAGE_CODES[Stage(current)]}:{STAGE_CODES[Stage(target)]}"
    )
