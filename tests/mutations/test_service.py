"""The mutation service on a real database: stage changes, their events and their notices."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.config import Settings
from bot.i18n import get_translator
from bot.mutations import card_html, change_stage, create_mutation, process_events
from bot.rules.stages import MutationType, Stage, StageChange, TransitionProblem
from storage.models import AuditLog, Employee, MutationEvent, OutboxMessage
from storage.repositories.mutations import MutationRepository
from tests.support.factories import add_target_unit, add_unit_with_staff

STAFF_CHAT = 5001
BOSS_CHAT = 5002
NEW_BOSS_CHAT = 5003


def _settings(database_url: str) -> Settings:
    return Settings(bot_token="", database_url=database_url)


async def _target_unit(sessionmaker) -> int:
    async with sessionmaker() as session, session.begin():
        _unit, head, _clerk = add_target_unit(session, head_telegram_id=NEW_BOSS_CHAT)
        await session.flush()
        return head.id


async def _keys(sessionmaker) -> list[str]:
    async with sessionmaker() as session:
        return list(
            await session.scalars(select(OutboxMessage.idempotency_key).order_by(OutboxMessage.id))
        )


async def test_a_mutation_walks_the_path_and_tells_everyone_once(sessionmaker, database_url):
    settings = _settings(database_url)
    boss_id, staff_id = await add_unit_with_staff(
        sessionmaker, staff_telegram_id=STAFF_CHAT, supervisor_telegram_id=BOSS_CHAT
    )
    head_id = await _target_unit(sessionmaker)
    async with sessionmaker() as session, session.begin():
        mutation_id, queued = await create_mutation(
            session,
            settings,
            employee_id=staff_id,
            mutation_type=MutationType.ROTASI,
            to_unit="Bappeda",
            to_position="Perencana Ahli Pertama",
            actor_id=boss_id,
        )
    assert queued == 1
    steps = [
        (Stage.DIUSULKAN, Stage.VERIFIKASI, StageChange()),
        (
            Stage.VERIFIKASI,
            Stage.DIKEMBALIKAN,
            StageChange(reason="Berkas belum lengkap", missing_documents=("SKP 2025",)),
        ),
        (Stage.DIKEMBALIKAN, Stage.VERIFIKASI, StageChange()),
        (Stage.VERIFIKASI, Stage.PERTIMBANGAN_TPK, StageChange()),
        (
            Stage.PERTIMBANGAN_TPK,
            Stage.SK_TERBIT,
            StageChange(
                sk_number="821.2/45/BKPSDM-2026",
                sk_date=dt.date(2026, 11, 2),
                tmt_date=dt.date(2026, 11, 2),
            ),
        ),
        (Stage.SK_TERBIT, Stage.PELANTIKAN, StageChange()),
        (Stage.PELANTIKAN, Stage.SELESAI, StageChange()),
    ]
    for current, target, change in steps:
        async with sessionmaker() as session, session.begin():
            outcome = await change_stage(
                session,
                settings,
                mutation_id,
                expected=current.value,
                target=target.value,
                change=change,
                actor_id=boss_id,
            )
        assert outcome.event_id is not None, (current, target, outcome)
    keys = await _keys(sessionmaker)
    assert len([k for k in keys if k.startswith("mutation_stage:")]) == 8
    assert f"mutation_joined:{mutation_id}:{head_id}" in keys
    assert f"mutation_left:{mutation_id}:{boss_id}" in keys
    async with sessionmaker() as session:
        staff = await session.get(Employee, staff_id)
        assert staff.supervisor_id == head_id
        assert staff.position == "Perencana Ahli Pertama"
        assert (
            await session.scalar(
                select(func.count())
                .select_from(MutationEvent)
                .where(MutationEvent.notified_at.is_(None))
            )
            == 0
        )
        assert (
            await session.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "mutation_stage")
            )
            == 7
        )
        view = await MutationRepository(session).get(mutation_id)
    # Nothing new the second time round.
    async with sessionmaker() as session, session.begin():
        assert await process_events(session, settings) == 0
    t = get_translator("id")
    text = card_html(view, t, hr_contact="BKPSDM")
    assert "821.2/45/BKPSDM-2026" in text


async def test_refused_moves_change_nothing(sessionmaker, database_url):
    settings = _settings(database_url)
    boss_id, staff_id = await add_unit_with_staff(sessionmaker, staff_telegram_id=STAFF_CHAT)
    async with sessionmaker() as session, session.begin():
        mutation_id, _ = await create_mutation(
            session,
            settings,
            employee_id=staff_id,
            mutation_type=MutationType.PROMOSI,
            to_unit="Bappeda",
            to_position="Kepala Bidang",
            actor_id=boss_id,
        )
    async with sessionmaker() as session, session.begin():
        skip = await change_stage(
            session, settings, mutation_id, expected="diusulkan", target="sk_terbit", actor_id=None
        )
        stale = await change_stage(
            session,
            settings,
            mutation_id,
            expected="verifikasi",
            target="pertimbangan_tpk",
            actor_id=None,
        )
    assert skip.problems == [TransitionProblem.NOT_ALLOWED]
    assert stale.stale
    async with sessionmaker() as session:
        assert (await MutationRepository(session).stage_of(mutation_id))[1] == "diusulkan"
