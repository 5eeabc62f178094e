"""The evaluation service on a real database: periods, answers, Kirim once, the notice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.config import Settings
from bot.evaluations import answer_values, open_period_for, save, submit
from bot.rules.periods import BEHAVIOUR, SUMMARY, WORK
from bot.rules.skp import BERAKHLAK, Predicate, Rating
from storage.models import Evaluation, OutboxMessage
from storage.repositories.evaluations import EvaluationRepository
from tests.support.factories import add_unit_with_staff

STAFF_CHAT = 6001
TODAY = dt.date(2026, 12, 3)  # Thursday: November (deadline Mon 7 Dec) is still open


def _settings(database_url: str) -> Settings:
    return Settings(bot_token="", database_url=database_url, _env_file=None)


async def test_the_oldest_open_period_is_rated_and_a_double_kirim_submits_once(
    sessionmaker, database_url
):
    settings = _settings(database_url)
    boss_id, staff_id = await add_unit_with_staff(sessionmaker, staff_telegram_id=STAFF_CHAT)
    async with sessionmaker() as session, session.begin():
        period = await open_period_for(session, settings, boss_id, TODAY)
        assert period is not None and (period.year, period.month) == (2026, 11)
        assert period.closes_on == dt.date(2026, 12, 7)
        state = await EvaluationRepository(session).start(period.id, staff_id, boss_id)
        assert state.current_step == WORK
        state = await save(session, state, answer_values(state, WORK, Rating.DI_BAWAH))
        for value in BERAKHLAK:
            assert state.current_step == value
            state = await save(session, state, answer_values(state, value, Rating.SESUAI))
        assert state.current_step == BEHAVIOUR
    async with sessionmaker() as session, session.begin():
        first = await submit(session, settings, state, evaluator_id=boss_id)
    async with sessionmaker() as session, session.begin():
        second = await submit(session, settings, state, evaluator_id=boss_id)
    assert first.submitted and first.queued == 1
    assert first.state.predicate == Predicate.BUTUH_PERBAIKAN
    assert not second.submitted
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Evaluation)) == 1
        keys = list(await session.scalars(select(OutboxMessage.idempotency_key)))
        assert keys == [f"evaluation:{state.id}"]
        # A submitted evaluation takes no more answers.
        assert await save(session, first.state, {"work_result": "di_atas"}) is None


async def test_changing_an_answer_from_the_summary_returns_to_it(sessionmaker, database_url):
    settings = _settings(database_url)
    boss_id, staff_id = await add_unit_with_staff(sessionmaker)
    async with sessionmaker() as session, session.begin():
        period = await open_period_for(session, settings, boss_id, TODAY)
        state = await EvaluationRepository(session).start(period.id, staff_id, boss_id)
        state = await save(session, state, answer_values(state, WORK, Rating.SESUAI))
        for value in BERAKHLAK:
            state = await save(session, state, answer_values(state, value, Rating.DI_ATAS))
        state = await save(session, state, {"feedback": "Bagus", "current_step": SUMMARY})
        state = await save(session, state, {"current_step": "harmonis"})
        state = await save(session, state, answer_values(state, "harmonis", Rating.SESUAI))
        assert state.current_step == SUMMARY
        assert state.ratings["harmonis"] == "sesuai"
