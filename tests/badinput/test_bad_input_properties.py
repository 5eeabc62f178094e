"""Bad input, property-based (issue 9, item 4): arbitrary text and arbitrary callback data.

One application per test, reused across hypothesis' examples (each example is new updates
with new ids). Every example: no unhandled exception, no traceback shown, every request a
valid Telegram call, and where the input must be refused, the guarded tables unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from tests.badinput.bad_input_harness import (
    EXPLORE,
    ROLES,
    Bot,
    assert_unchanged,
    feed,
    press,
    running_bot,
    snapshot,
    text_message,
)
from tests.evaluations.office import BOSS_CHAT, HR_CHAT, STAFF_CHAT, Maker

FAST = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=not EXPLORE,
    max_examples=400 if EXPLORE else 40,
)
# A whole conversation per example: fewer of them in the CI-sized sample.
CONVERSATION = settings(FAST, max_examples=400 if EXPLORE else 20)
# Text Telegram could deliver: no surrogates, 1..4096 characters, not only a command.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=4096).filter(
    lambda value: value.strip() != ""
)
PREFIXES = (
    "umum:", "siaran:", "hrp:", "mut:", "impor:", "latih:", "hrl:", "tal:", "rot:", "hrm:",
    "rkp:", "kirim:", "hr:", "nl:", "bahasa:",
)  # fmt: skip


def _fits(data: str) -> bool:
    return 1 <= len(data.encode()) <= 64


CALLBACK_DATA = st.one_of(
    st.text(min_size=1, max_size=64),
    st.tuples(
        st.sampled_from(PREFIXES),
        st.text(st.sampled_from("0123456789:abcdefghijklmnopqrstuvwxyz!_-"), max_size=40),
    ).map("".join),
    st.tuples(
        st.sampled_from(PREFIXES),
        st.lists(st.integers(-(2**63), 2**70).map(str), min_size=1, max_size=4).map(":".join),
    ).map("".join),
).filter(_fits)


@pytest.fixture
async def bot(settings: Settings, sessionmaker: Maker) -> AsyncIterator[Bot]:
    async with running_bot(settings, sessionmaker) as running:
        yield running


def _not_a_command(value: str) -> bool:
    return not value.startswith("/")


@FAST
@given(value=TEXT.filter(_not_a_command))
async def test_any_text_to_a_linked_asn_changes_nothing(bot: Bot, value: str):
    before = await snapshot(bot.sessionmaker)
    await feed(bot, text_message(bot.app, STAFF_CHAT, value))
    assert_unchanged(before, await snapshot(bot.sessionmaker))


@CONVERSATION
@given(value=TEXT)
async def test_any_text_to_hr_in_the_middle_of_hr_umumkan(bot: Bot, value: str):
    # Each example starts the conversation again, then types the text at the content step
    # and once more at the audience step (where text is not an answer).
    await feed(bot, text_message(bot.app, HR_CHAT, "/hr_umumkan"))
    before = await snapshot(bot.sessionmaker)
    await feed(bot, text_message(bot.app, HR_CHAT, value))
    after = await snapshot(bot.sessionmaker)
    for table in ("employees", "mutations", "evaluations", "outbox", "announcements"):
        assert after[table] == before[table], table
    await feed(bot, text_message(bot.app, HR_CHAT, value))
    again = await snapshot(bot.sessionmaker)
    assert again["outbox"] == before["outbox"] and again["announcements"] == []


@CONVERSATION
@given(value=TEXT)
async def test_any_text_to_a_supervisor_in_the_middle_of_nilai(bot: Bot, value: str):
    from sqlalchemy import select

    from bot.evaluation_cards import NEXT, open_data
    from bot.rules.periods import BEHAVIOUR, WORK
    from bot.rules.skp import BERAKHLAK, Rating
    from storage.models import EvaluationPeriod
    from tests.evaluations.conversation_support import answer

    await feed(bot, text_message(bot.app, BOSS_CHAT, "/nilai"))
    async with bot.sessionmaker() as session:
        period = await session.scalar(select(EvaluationPeriod.id).order_by(EvaluationPeriod.id))
    assert period is not None
    await feed(bot, press(bot.app, BOSS_CHAT, open_data(period, bot.office.staff)))
    before = await snapshot(bot.sessionmaker)
    # At a button step, typed text is not an answer.
    await feed(bot, text_message(bot.app, BOSS_CHAT, value))
    after = await snapshot(bot.sessionmaker)
    for table in ("employees", "mutations", "outbox", "announcements"):
        assert after[table] == before[table], table
    # At the feedback step, it is the feedback (or refused as too long).
    from storage.models import Evaluation

    async with bot.sessionmaker() as session:
        evaluation = await session.scalar(
            select(Evaluation.id).where(Evaluation.employee_id == bot.office.staff)
        )
    assert evaluation is not None
    await feed(bot, press(bot.app, BOSS_CHAT, answer(evaluation, WORK, Rating.SESUAI)))
    for name in BERAKHLAK:
        await feed(bot, press(bot.app, BOSS_CHAT, answer(evaluation, name, Rating.SESUAI)))
    await feed(bot, press(bot.app, BOSS_CHAT, answer(evaluation, BEHAVIOUR, NEXT)))
    await feed(bot, text_message(bot.app, BOSS_CHAT, value))
    final = await snapshot(bot.sessionmaker)
    assert final["outbox"] == before["outbox"]  # nothing sent before Kirim


@pytest.mark.parametrize("role", list(ROLES))
@FAST
@given(data=CALLBACK_DATA)
async def test_any_callback_data_from_every_role(bot: Bot, role: str, data: str):
    before = await snapshot(bot.sessionmaker)
    await feed(bot, press(bot.app, ROLES[role], data))
    after = await snapshot(bot.sessionmaker)
    if role == "hr":  # random HR presses may open or close HR's own flows
        before["drafts"] = after["drafts"]
    assert_unchanged(before, after)
