"""Coaching (pembinaan): the recommendation rule (pure), who is flagged, and assigning a
training (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from bot.coaching import ASSIGNED, NOT_FLAGGED, TRAINING_CLOSED, assign_training
from bot.config import Settings
from bot.i18n import get_translator
from bot.rules.coaching import (
    GENERAL_TRAINING,
    VALUE_TRAININGS,
    WORK_TRAINING,
    fits,
    needs_coaching,
    recommended_trainings,
)
from bot.rules.skp import (
    BERAKHLAK,
    BehaviourRule,
    Predicate,
    Rating,
    predicate,
    summarise_behaviour,
)
from storage.models import utcnow
from storage.repositories.coaching import CoachingRepository
from tests.evaluations.office import (
    BOSS_CHAT,
    STAFF_CHAT,
    Maker,
    Office,
    add_evaluation,
    add_office,
    add_period,
    add_training,
    audit_actions,
    evaluation,
    outbox,
    participants,
)
from tests.support.telegram import TOKEN

ID = get_translator("id")
BELOW = Rating.DI_BAWAH.value


# --------------------------------------------------------------------------- the rule
def test_work_results_below_recommend_work_planning_first_then_each_value_below():
    assert recommended_trainings(BELOW, {}) == [WORK_TRAINING]
    ratings = {"kolaboratif": BELOW, "akuntabel": BELOW, "loyal": "sesuai"}
    assert recommended_trainings("sesuai", ratings) == [
        VALUE_TRAININGS["akuntabel"],
        VALUE_TRAININGS["kolaboratif"],
    ]
    assert recommended_trainings(BELOW, {"berorientasi_pelayanan": BELOW}) == [
        WORK_TRAINING,
        VALUE_TRAININGS["berorientasi_pelayanan"],
    ]
    everything = {value: BELOW for value in BERAKHLAK}
    assert recommended_trainings(BELOW, everything) == [
        WORK_TRAINING,
        *(VALUE_TRAININGS[v] for v in BERAKHLAK),
    ]
    assert recommended_trainings("di_atas", {"harmonis": "sesuai"}) == [GENERAL_TRAINING]
    assert recommended_trainings(None, None) == [GENERAL_TRAINING]


def test_the_trainings_have_the_indonesian_names_hr_uses():
    names = {value: ID(msgid) for value, msgid in VALUE_TRAININGS.items()}
    assert names == {
        "berorientasi_pelayanan": "Pelatihan Pelayanan Prima",
        "akuntabel": "Pelatihan Integritas dan Akuntabilitas",
        "kompeten": "Pelatihan Teknis Peningkatan Kompetensi",
        "harmonis": "Pembinaan Etika dan Komunikasi Kerja",
        "loyal": "Pembinaan Wawasan Kebangsaan dan Nilai Dasar ASN",
        "adaptif": "Pelatihan Manajemen Perubahan",
        "kolaboratif": "Pelatihan Kerja Sama Tim",
    }
    assert ID(WORK_TRAINING) == "Pelatihan Perencanaan Kerja dan Manajemen Kinerja"


@pytest.mark.parametrize("rule", list(BehaviourRule))
def test_every_flagged_answer_set_gets_a_specific_recommendation(rule):
    """Whatever the answers, a flagged predicate always has something rated Di Bawah."""
    scale = [r.value for r in Rating]
    for work, *values in itertools.product(scale, repeat=1 + len(BERAKHLAK)):
        ratings = dict(zip(BERAKHLAK, values, strict=True))
        result = predicate(work, summarise_behaviour(values, rule))
        if needs_coaching(result):
            assert GENERAL_TRAINING not in recommended_trainings(work, ratings)


def test_which_predicates_flag_and_which_titles_fit():
    assert [p for p in Predicate if needs_coaching(p)] == [
        Predicate.BUTUH_PERBAIKAN,
        Predicate.KURANG,
        Predicate.SANGAT_KURANG,
    ]
    assert not needs_coaching(None) and not needs_coaching("unknown")
    assert fits("PELATIHAN PELAYANAN PRIMA — Angkatan II", ["Pelatihan Pelayanan Prima"])
    assert fits("Kerja Sama Tim", ["Pelatihan Kerja Sama Tim"])
    assert not fits("Orientasi Jabatan Baru", ["Pelatihan Pelayanan Prima"])
    assert not fits("", ["Pelatihan Pelayanan Prima"])


# --------------------------------------------------------------------------- flagged
async def flag_some(sessionmaker: Maker, office: Office) -> dict[str, int]:
    """Rina: Butuh Perbaikan in November (flagged). Doni: Kurang in October, Baik in November
    (not flagged). Hendra: Kurang in November (flagged). Wati: Sangat Kurang in November
    with a coaching training assigned (not flagged)."""
    october = await add_period(sessionmaker, 2026, 10)
    november = await add_period(sessionmaker, 2026, 11)
    below_service = {  # four of seven Di Bawah: Perilaku Kerja Di Bawah
        value: BELOW for value in ("berorientasi_pelayanan", "akuntabel", "loyal", "kolaboratif")
    }
    ids = {
        "rina": await add_evaluation(sessionmaker, november, office.staff, office.boss, work=BELOW),
        "doni_oct": await add_evaluation(
            sessionmaker, october, office.staff2, office.boss, ratings=below_service
        ),
        "doni": await add_evaluation(sessionmaker, november, office.staff2, office.boss),
        "hendra": await add_evaluation(
            sessionmaker, november, office.boss2, office.head, ratings=below_service
        ),
        "wati": await add_evaluation(
            sessionmaker, november, office.staff3, office.boss2, work=BELOW, ratings=below_service
        ),
    }
    training = await add_training(
        sessionmaker, "Pelatihan Integritas", utcnow() + dt.timedelta(days=5), code="PB-1"
    )
    async with sessionmaker() as session, session.begin():
        assert await CoachingRepository(session).assign(
            ids["wati"], training, actor_id=office.hr, now=utcnow()
        )
    return ids


def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


async def test_flagged_are_the_latest_low_evaluations_without_coaching(sessionmaker):
    office = await add_office(sessionmaker)
    ids = await flag_some(sessionmaker, office)
    async with sessionmaker() as session:
        repository = CoachingRepository(session)
        items, total = await repository.flagged()
        assert total == 2
        # Kurang (more severe) before Butuh Perbaikan, both November.
        assert [item.evaluation_id for item in items] == [ids["hendra"], ids["rina"]]
        rina = items[1]
        assert (rina.name, rina.unit, rina.supervisor_name) == (
            "Rina Marlina",
            "Dinas Perhubungan",
            "Sari Dewi, S.T.",
        )
        assert (rina.year, rina.month, rina.predicate) == (2026, 11, "butuh_perbaikan")
        assert recommended_trainings(rina.work_result, rina.ratings) == [WORK_TRAINING]
        assert await repository.flagged_one(ids["doni_oct"]) is None  # superseded by Baik
        assert await repository.flagged_one(ids["wati"]) is None  # coaching assigned
        page, total = await repository.flagged(offset=1, limit=1)
        assert [item.evaluation_id for item in page] == [ids["rina"]] and total == 2
        assigned, count = await repository.assigned()
        assert count == 1 and [a.name for a in assigned] == ["Wati"]


async def test_an_inactive_employee_is_not_flagged(sessionmaker):
    from sqlalchemy import update

    from storage.models import Employee

    office = await add_office(sessionmaker)
    ids = await flag_some(sessionmaker, office)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee).where(Employee.id == office.staff).values(active=False)
        )
    async with sessionmaker() as session:
        items, total = await CoachingRepository(session).flagged()
    assert total == 1 and [item.evaluation_id for item in items] == [ids["hendra"]]


# --------------------------------------------------------------------------- assigning
async def test_assigning_adds_the_participant_marks_and_tells_both_once(sessionmaker, database_url):
    office = await add_office(sessionmaker)
    ids = await flag_some(sessionmaker, office)
    now = utcnow()
    training = await add_training(
        sessionmaker,
        "Pelatihan Perencanaan Kerja dan Manajemen Kinerja",
        now + dt.timedelta(days=10),
        code="PB-2",
    )
    async with sessionmaker() as session, session.begin():
        outcome = await assign_training(
            session,
            settings(database_url),
            evaluation_id=ids["rina"],
            training_id=training,
            actor_id=office.hr,
            now=now,
        )
    assert outcome.status == ASSIGNED and outcome.participant_added
    assert outcome.employee_told and outcome.supervisor_told and outcome.queued == 2
    assert await participants(sessionmaker, training) == [office.staff]
    marked = await evaluation(sessionmaker, ids["rina"])
    assert marked.coaching_training_id == training
    assert marked.coaching_assigned_by_id == office.hr
    assert marked.coaching_assigned_at is not None
    assert "coaching_assigned" in await audit_actions(sessionmaker)
    rows = await outbox(sessionmaker)
    assert [(r.idempotency_key, r.chat_id, r.employee_id) for r in rows] == [
        (f"training_new:{training}:{office.staff}", STAFF_CHAT, office.staff),
        (f"coaching:{ids['rina']}:{training}", BOSS_CHAT, office.boss),
    ]
    card = rows[0].payload
    buttons = [b["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == [f"latih:{training}:hadir", f"latih:{training}:absen"]
    assert "Pelatihan Perencanaan Kerja" in card["text"]
    assert "Butuh Perbaikan" not in card["text"]  # the employee is not told why
    boss = rows[1].payload["text"]
    assert "Rina Marlina" in boss and "Butuh Perbaikan" in boss and "November 2026" in boss

    async with sessionmaker() as session, session.begin():
        again = await assign_training(
            session,
            settings(database_url),
            evaluation_id=ids["rina"],
            training_id=training,
            actor_id=office.hr,
            now=now,
        )
    assert again.status == NOT_FLAGGED and again.queued == 0
    assert len(await outbox(sessionmaker)) == 2
    assert await participants(sessionmaker, training) == [office.staff]


async def test_a_closed_training_is_refused_and_an_existing_participant_is_kept(
    sessionmaker, database_url
):
    office = await add_office(sessionmaker)
    ids = await flag_some(sessionmaker, office)
    now = utcnow()
    cancelled = await add_training(
        sessionmaker, "Batal", now + dt.timedelta(days=3), code="PB-3", cancelled=True
    )
    ended = await add_training(sessionmaker, "Lalu", now - dt.timedelta(days=3), code="PB-4")
    joined = await add_training(
        sessionmaker,
        "Pelatihan Integritas dan Akuntabilitas",
        now + dt.timedelta(days=3),
        code="PB-5",
        participants=(office.boss2,),
    )
    for training in (cancelled, ended, 999_999):
        async with sessionmaker() as session, session.begin():
            outcome = await assign_training(
                session,
                settings(database_url),
                evaluation_id=ids["hendra"],
                training_id=training,
                actor_id=office.hr,
                now=now,
            )
        assert outcome.status == TRAINING_CLOSED
    assert (await evaluation(sessionmaker, ids["hendra"])).coaching_training_id is None
    assert await outbox(sessionmaker) == []

    async with sessionmaker() as session, session.begin():
        outcome = await assign_training(
            session,
            settings(database_url),
            evaluation_id=ids["hendra"],
            training_id=joined,
            actor_id=office.hr,
            now=now,
        )
    assert outcome.status == ASSIGNED and not outcome.participant_added
    assert await participants(sessionmaker, joined) == [office.boss2]
    # Hendra's supervisor is the head (the one who rated him); he is told, Hendra too.
    assert {r.idempotency_key for r in await outbox(sessionmaker)} == {
        f"training_new:{joined}:{office.boss2}",
        f"coaching:{ids['hendra']}:{joined}",
    }


async def test_a_cancelled_coaching_training_flags_the_employee_again(sessionmaker):
    from sqlalchemy import update

    from storage.models import Training

    office = await add_office(sessionmaker)
    ids = await flag_some(sessionmaker, office)
    wati = await evaluation(sessionmaker, ids["wati"])
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Training)
            .where(Training.id == wati.coaching_training_id)
            .values(cancelled_at=utcnow(), cancel_reason="Ditunda")
        )
    async with sessionmaker() as session:
        flagged = await CoachingRepository(session).flagged_one(ids["wati"])
    assert flagged is not None and flagged.predicate == "sangat_kurang"
    assert recommended_trainings(flagged.work_result, flagged.ratings)[0] == WORK_TRAINING
