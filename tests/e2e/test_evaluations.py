"""/nilai over real HTTP through the emulator: the whole evaluation in both languages with the
employee told for real, a restart in the middle, a forged press, a double Kirim, the lock
after the deadline and HR's reopening.

The live bot runs on the real clock (its scheduler also pauses idle conversations, which must
not happen here), so the open period is whichever is open today: the tests read it from the
database and never name a month.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.evaluation_cards import BACK, NEXT, SEND, SKIP, open_data
from bot.evaluations import month_name
from bot.i18n import get_translator
from bot.rules.periods import BEHAVIOUR, FEEDBACK, SUMMARY, WORK
from bot.rules.skp import BERAKHLAK, PREDICATE_LABELS, Predicate, Rating
from storage.models import EvaluationPeriod, OutboxMessage, utcnow
from storage.repositories.evaluations import EvaluationRepository
from tests.e2e.conftest import LiveBot, start_live_bot, stop_live_bot
from tests.evaluations.conversation_support import (
    BOSS_CHAT,
    OTHER_BOSS_CHAT,
    STAFF_CHAT,
    STAFF_NAME,
    add_people,
    answer,
    audit_entries,
    evaluation_of,
    evaluations,
    outbox_keys,
)
from tests.support.chat import buttons_of

pytestmark = pytest.mark.e2e

ID = get_translator("id")


def has_text(text: str):
    return lambda m: text in (m.get("plain_text") or "")


def edited_with(message_id: int, data: str | None = None):
    """The message ``message_id`` shown again (edited), with the button ``data`` if given."""
    return lambda m: m["message_id"] == message_id and (data is None or data in buttons_of(m))


async def wait_until(condition, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def answer_of(client, chat_id: int, pressed: dict[str, Any]) -> dict[str, Any]:
    """The bot's answer to one button press (waits for it)."""
    found: dict[str, Any] = {}

    async def answered() -> bool:
        for item in await client.callback_answers(chat_id):
            if item["callback_query_id"] == pressed["callback_query_id"] and item["answered"]:
                found.update(item["answer"] or {})
                return True
        return False

    await wait_until(answered)
    return found


async def open_evaluation(bot: LiveBot, sessionmaker, employee_id: int) -> tuple[int, int]:
    """/nilai and the person's button: (evaluation id, the conversation's message id)."""
    client = bot.client
    await client.send_text(BOSS_CHAT, "/nilai")
    listing = await client.wait_for_bot_message(
        BOSS_CHAT, lambda m: any(d.startswith("nl:o:") for d in buttons_of(m))
    )
    data = next(d for d in buttons_of(listing) if d.endswith(f":{employee_id}"))
    await client.press_button(BOSS_CHAT, listing["message_id"], data)
    shown = await client.wait_for_bot_message(
        BOSS_CHAT, lambda m: m["message_id"] == listing["message_id"] and ":w:a" in str(m)
    )
    evaluation = await evaluation_of(sessionmaker, employee_id)
    assert evaluation is not None
    assert answer(evaluation.id, WORK, Rating.SESUAI) in buttons_of(shown)
    return evaluation.id, listing["message_id"]


async def step(bot: LiveBot, message_id: int, data: str, then: str | None) -> dict[str, Any]:
    """Press ``data`` on the conversation's message; the message once it shows ``then``."""
    await bot.client.press_button(BOSS_CHAT, message_id, data)
    return await bot.client.wait_for_bot_message(BOSS_CHAT, edited_with(message_id, then))


async def rate_all(
    bot: LiveBot, evaluation_id: int, message_id: int, work: Rating, values: list[Rating]
) -> dict[str, Any]:
    """Hasil Kerja and the seven values; the Perilaku Kerja step."""
    steps = [WORK, *BERAKHLAK]
    ratings = [work, *values]
    shown: dict[str, Any] = {}
    for index, (at, rating) in enumerate(zip(steps, ratings, strict=True)):
        after = steps[index + 1] if index + 1 < len(steps) else BEHAVIOUR
        expected = answer(evaluation_id, after, NEXT if after == BEHAVIOUR else Rating.SESUAI)
        shown = await step(bot, message_id, answer(evaluation_id, at, rating), expected)
    return shown


@pytest.mark.parametrize("language", ["id", "en"])
async def test_a_supervisor_rates_and_the_employee_is_told(
    live_bot: LiveBot, sessionmaker, language
):
    t = get_translator(language)
    people = await add_people(sessionmaker, boss_language=None if language == "id" else "en")
    client = live_bot.client
    await client.create_user(BOSS_CHAT, "Yusuf")
    await client.create_user(STAFF_CHAT, "Rina")
    await client.mark_seen(STAFF_CHAT)
    evaluation_id, message_id = await open_evaluation(live_bot, sessionmaker, people.staff)
    shown = await rate_all(
        live_bot, evaluation_id, message_id, Rating.DI_BAWAH, [Rating.SESUAI] * 7
    )
    assert (
        t("Rule: the rating given most often; on a tie, Meets expectations.")
        in (shown["plain_text"])
    )
    skip = answer(evaluation_id, FEEDBACK, SKIP)
    shown = await step(live_bot, message_id, answer(evaluation_id, BEHAVIOUR, NEXT), skip)
    assert t("Feedback (optional)") in shown["plain_text"]
    await client.send_text(BOSS_CHAT, "Target <laporan> & arsip perlu dikejar.")
    send = answer(evaluation_id, SUMMARY, SEND)
    summary = await client.wait_for_bot_message(BOSS_CHAT, lambda m: send in buttons_of(m))
    assert "Target <laporan> & arsip perlu dikejar." in summary["plain_text"]
    label = t(PREDICATE_LABELS[Predicate.BUTUH_PERBAIKAN])
    assert label in summary["plain_text"]
    await client.press_button(BOSS_CHAT, summary["message_id"], send)
    final = await client.wait_for_bot_message(BOSS_CHAT, edited_with(summary["message_id"]))
    assert buttons_of(final) == []
    assert t("{name} has been told.", name=STAFF_NAME) in final["plain_text"]

    # Rina is told (in her own language: Indonesian) with the predicate and the feedback.
    notice = await client.wait_for_bot_message(
        STAFF_CHAT, has_text(ID(PREDICATE_LABELS[Predicate.BUTUH_PERBAIKAN])), timeout=15
    )
    assert "Target <laporan> & arsip perlu dikejar." in notice["plain_text"]
    (row,) = await evaluations(sessionmaker)
    assert (row.status, row.work_result, row.behaviour) == ("submitted", "di_bawah", "sesuai")
    assert await outbox_keys(sessionmaker, "evaluation:") == [f"evaluation:{evaluation_id}"]
    # The whole conversation used two messages: the list/steps one and the summary.
    ours = [m for m in await client.bot_messages(BOSS_CHAT) if "nl:" in str(m)]
    assert len(ours) <= 2


async def test_a_restart_in_the_middle_resumes_at_the_same_step(live_bot: LiveBot, sessionmaker):
    people = await add_people(sessionmaker)
    client = live_bot.client
    await client.create_user(BOSS_CHAT, "Yusuf")
    evaluation_id, message_id = await open_evaluation(live_bot, sessionmaker, people.staff)
    await step(
        live_bot,
        message_id,
        answer(evaluation_id, WORK, Rating.DI_ATAS),
        answer(evaluation_id, BERAKHLAK[0], Rating.SESUAI),
    )
    await step(
        live_bot,
        message_id,
        answer(evaluation_id, BERAKHLAK[0], Rating.DI_ATAS),
        answer(evaluation_id, BERAKHLAK[1], Rating.SESUAI),
    )
    await stop_live_bot(live_bot)
    restarted = await start_live_bot(live_bot.emulator, live_bot.settings)
    try:
        await client.send_text(BOSS_CHAT, "/nilai")
        listing = await client.wait_for_bot_message(
            BOSS_CHAT, has_text(ID("✏️ draft, step {n} of {total}", n="3", total="11"))
        )
        resume = buttons_of(listing)[0]  # ▶️ Lanjutkan
        assert resume.startswith("nl:o:") and resume.endswith(f":{people.staff}")
        await client.press_button(BOSS_CHAT, listing["message_id"], resume)
        third = answer(evaluation_id, BERAKHLAK[1], Rating.SESUAI)
        shown = await client.wait_for_bot_message(
            BOSS_CHAT, edited_with(listing["message_id"], third)
        )
        assert ID("Step {n} of {total}", n="3", total="11") in shown["plain_text"]
        assert ID("Accountable") in shown["plain_text"]
        # The old message's buttons still work after the restart, at the stored step.
        await client.press_button(BOSS_CHAT, message_id, third)
        after = await client.wait_for_bot_message(
            BOSS_CHAT, edited_with(message_id, answer(evaluation_id, BERAKHLAK[2], BACK))
        )
        assert ID("Competent") in after["plain_text"]
        row = await evaluation_of(sessionmaker, people.staff)
        assert row is not None and row.behaviour_ratings == {
            BERAKHLAK[0]: "di_atas",
            BERAKHLAK[1]: "sesuai",
        }
    finally:
        await stop_live_bot(restarted)


async def test_a_forged_press_for_another_supervisors_staff_is_refused(
    live_bot: LiveBot, sessionmaker
):
    people = await add_people(sessionmaker)
    client = live_bot.client
    await client.create_user(BOSS_CHAT, "Yusuf")
    await client.create_user(OTHER_BOSS_CHAT, "Fitri")
    evaluation_id, _message_id = await open_evaluation(live_bot, sessionmaker, people.staff)
    # Fitri (Budi's supervisor) writes to the bot, then forges a press for Rina.
    await client.send_text(OTHER_BOSS_CHAT, "/nilai")
    theirs = await client.wait_for_bot_message(OTHER_BOSS_CHAT, has_text("Budi"))
    assert STAFF_NAME not in theirs["plain_text"]
    forged = answer(evaluation_id, WORK, Rating.DI_BAWAH)
    pressed = await client.press_button(OTHER_BOSS_CHAT, theirs["message_id"], forged, forge=True)
    reply = await answer_of(client, OTHER_BOSS_CHAT, pressed)
    assert reply["text"] == ID("Sorry, you can only rate your own direct reports.")
    assert reply["show_alert"] is True
    (entry,) = await audit_entries(sessionmaker, "evaluation_refused")
    assert entry.details["callback_data"] == forged
    assert entry.actor_id == people.other_boss
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and (row.work_result, row.current_step) == (None, WORK)


async def test_a_double_kirim_stores_one_evaluation(live_bot: LiveBot, sessionmaker):
    people = await add_people(sessionmaker)
    client = live_bot.client
    await client.create_user(BOSS_CHAT, "Yusuf")
    await client.create_user(STAFF_CHAT, "Rina")
    evaluation_id, message_id = await open_evaluation(live_bot, sessionmaker, people.staff)
    await rate_all(live_bot, evaluation_id, message_id, Rating.DI_ATAS, [Rating.DI_ATAS] * 7)
    skip = answer(evaluation_id, FEEDBACK, SKIP)
    await step(live_bot, message_id, answer(evaluation_id, BEHAVIOUR, NEXT), skip)
    send = answer(evaluation_id, SUMMARY, SEND)
    await step(live_bot, message_id, answer(evaluation_id, FEEDBACK, SKIP), send)
    first = await client.press_button(BOSS_CHAT, message_id, send)
    second = await client.press_button(BOSS_CHAT, message_id, send, forge=True)
    replies = [await answer_of(client, BOSS_CHAT, p) for p in (first, second)]
    assert (
        sum(1 for r in replies if r.get("text") == ID("This evaluation has already been sent."))
        == 1
    )
    (row,) = await evaluations(sessionmaker)
    assert (row.status, row.predicate) == ("submitted", Predicate.SANGAT_BAIK.value)
    await client.wait_for_bot_message(
        STAFF_CHAT, has_text(ID(PREDICATE_LABELS[Predicate.SANGAT_BAIK])), timeout=15
    )

    async def delivered() -> bool:
        async with sessionmaker() as session:
            rows = (await session.scalars(select(OutboxMessage))).all()
            return [(r.idempotency_key, r.status) for r in rows] == [
                (f"evaluation:{evaluation_id}", "sent")
            ]

    await wait_until(delivered)
    notices = [m for m in await client.bot_messages(STAFF_CHAT) if "📊" in m["plain_text"]]
    assert len(notices) == 1


async def test_after_the_deadline_it_is_locked_until_hr_reopens(live_bot: LiveBot, sessionmaker):
    people = await add_people(sessionmaker)
    client = live_bot.client
    await client.create_user(BOSS_CHAT, "Yusuf")
    evaluation_id, message_id = await open_evaluation(live_bot, sessionmaker, people.staff)
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None
    today = utcnow().astimezone(ID.timezone).date()
    yesterday = today - dt.timedelta(days=1)
    async with sessionmaker() as session, session.begin():  # the deadline was yesterday
        period = await session.get(EvaluationPeriod, row.period_id)
        assert period is not None
        await session.execute(
            update(EvaluationPeriod)
            .where(EvaluationPeriod.id == row.period_id)
            .values(opens_on=min(period.opens_on, yesterday), closes_on=yesterday)
        )
    press = answer(evaluation_id, WORK, Rating.SESUAI)
    pressed = await client.press_button(BOSS_CHAT, message_id, press)
    reply = await answer_of(client, BOSS_CHAT, pressed)
    assert reply["text"] == ID(
        "The evaluation period for {month} is closed. HR (BKPSDM) can reopen it.",
        month=month_name(ID, period.year, period.month),
    )
    assert reply["show_alert"] is True
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and row.work_result is None
    async with sessionmaker() as session, session.begin():
        await EvaluationRepository(session).reopen(
            row.period_id, evaluator_id=people.boss, until=today, actor_id=None
        )
    shown = await step(
        live_bot, message_id, press, answer(evaluation_id, BERAKHLAK[0], Rating.SESUAI)
    )
    assert ID("Service oriented") in shown["plain_text"]
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and row.work_result == "sesuai"
    # The list offers the reopened period.
    await client.send_text(BOSS_CHAT, "/nilai")
    listing = await client.wait_for_bot_message(
        BOSS_CHAT, lambda m: open_data(row.period_id, people.staff) in buttons_of(m)
    )
    assert month_name(ID, period.year, period.month) in listing["plain_text"]
