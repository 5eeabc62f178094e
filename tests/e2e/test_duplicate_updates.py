"""The same update delivered twice (same ``update_id``) is handled once, over real HTTP.

The emulator redelivers an update the bot already took (``POST
/_emulator/updates/{update_id}/redeliver``), as Telegram does after a poll or webhook retry;
the live bot polls it again and ``handlers.dedupe`` drops it: the data changes once and the
person is answered once.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

from bot.i18n import get_translator
from bot.trainings import BUTTON_HADIR
from storage.models import ProcessedUpdate, TrainingParticipant
from tests.conftest import ON_POSTGRES
from tests.e2e.conftest import LiveBot
from tests.trainings.support import ASN_CHAT, add_people, add_training, answers

pytestmark = pytest.mark.e2e

ID = get_translator("id")


def with_button(data: str):
    def matches(message: dict) -> bool:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return any(b.get("callback_data") == data for row in rows for b in row)

    return matches


async def ignored(caplog: pytest.LogCaptureFixture, update_id: int, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    """Wait until the bot has dropped the copy of ``update_id`` (its info log line)."""
    wanted = f"update {update_id} delivered again: ignored"
    deadline = asyncio.get_running_loop().time() + timeout
    while not any(r.getMessage() == wanted for r in caplog.records):
        assert asyncio.get_running_loop().time() < deadline, "the copy was not seen in time"
        await asyncio.sleep(0.05)


async def responded_at(sessionmaker, training: int, employee: int):
    async with sessionmaker() as session:
        return await session.scalar(
            select(TrainingParticipant.responded_at).where(
                TrainingParticipant.training_id == training,
                TrainingParticipant.employee_id == employee,
            )
        )


async def test_a_button_press_delivered_twice_changes_the_data_once_and_answers_once(
    live_bot: LiveBot, sessionmaker, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="handlers.dedupe")
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    client = live_bot.client
    await client.create_user(ASN_CHAT, "Rina")
    await client.send_text(ASN_CHAT, "/pelatihan")
    card = await client.wait_for_bot_message(ASN_CHAT, with_button(f"latih:{training}:hadir"))
    press = await client.press_button_text(ASN_CHAT, card["message_id"], ID(BUTTON_HADIR))
    edited = await client.wait_for_bot_message(
        ASN_CHAT, lambda m: m["message_id"] == card["message_id"]
    )
    assert ID("Your answer: {answer}", answer=ID("Attending")) in edited["plain_text"]
    assert (await answers(sessionmaker, training))[people.staff] == ("hadir", None)
    first_answer = await responded_at(sessionmaker, training, people.staff)
    assert first_answer is not None
    answered = await client.calls("answerCallbackQuery")
    edits = await client.calls("editMessageText")
    assert len(answered) == 1

    again = await client.redeliver_update(press["update_id"])
    assert again["update_id"] == press["update_id"]
    assert again["callback_query"]["data"] == f"latih:{training}:hadir"
    await ignored(caplog, press["update_id"])

    assert await client.calls("answerCallbackQuery") == answered
    assert await client.calls("editMessageText") == edits
    assert await responded_at(sessionmaker, training, people.staff) == first_answer
    assert (await answers(sessionmaker, training))[people.staff] == ("hadir", None)
    async with sessionmaker() as session:
        ids = list(await session.scalars(select(ProcessedUpdate.update_id)))
    assert ids.count(press["update_id"]) == (1 if ON_POSTGRES else 0)  # SQLite: in memory
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_command_delivered_twice_is_answered_once_and_the_next_one_runs(
    live_bot: LiveBot, sessionmaker, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="handlers.dedupe")
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    client = live_bot.client
    await client.create_user(ASN_CHAT, "Rina")
    sent = await client.send_text(ASN_CHAT, "/pelatihan")
    await client.wait_for_bot_message(ASN_CHAT, with_button(f"latih:{training}:hadir"))
    replies = await client.calls("sendMessage")

    await client.redeliver_update(sent["update_id"])
    await ignored(caplog, sent["update_id"])
    assert await client.calls("sendMessage") == replies

    await client.send_text(ASN_CHAT, "/pelatihan")  # a new message, a new id: answered
    await client.wait_for_bot_message(ASN_CHAT, with_button(f"latih:{training}:hadir"))
    assert len(await client.calls("sendMessage")) == 2 * len(replies)
