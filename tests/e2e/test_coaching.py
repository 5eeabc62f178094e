"""/hr_pembinaan over real HTTP through the emulator: HR assigns a flagged employee to a
training in one press; the employee receives the training card (and answers Hadir from it),
the supervisor is told, and a second press changes nothing.

The application's clock is set to a Saturday at noon WIB: no evaluation reminder is due on a
non-working day, so the only pushes are the ones under test (quiet hours are off anyway).
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.i18n import get_translator
from storage.models import utcnow
from tests.e2e.conftest import LiveBot
from tests.evaluations.office import (
    BOSS_CHAT,
    HR_CHAT,
    STAFF_CHAT,
    WIB,
    add_evaluation,
    add_office,
    add_period,
    add_training,
    count_outbox,
    evaluation,
    outbox,
    participants,
)
from tests.trainings.support import answers as attendance

pytestmark = pytest.mark.e2e

ID = get_translator("id")


def has_text(text: str):
    return lambda m: text in (m.get("plain_text") or "")


def with_button(data: str):
    def matches(message: dict) -> bool:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return any(b.get("callback_data") == data for row in rows for b in row)

    return matches


async def wait_until(condition, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def callback_answers(client, chat_id: int, count: int) -> list[dict]:
    async def answered() -> bool:
        found = await client.callback_answers(chat_id)
        return sum(1 for item in found if item.get("answer")) >= count

    await wait_until(answered)
    return [item["answer"] for item in await client.callback_answers(chat_id) if item["answer"]]


def saturday_noon() -> dt.datetime:
    day = utcnow().astimezone(WIB).date()
    day += dt.timedelta(days=(5 - day.weekday()) % 7 or 7)
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=WIB).astimezone(dt.UTC)


async def test_hr_assigns_a_coaching_training_and_both_are_told(live_bot: LiveBot, sessionmaker):
    clock = saturday_noon()
    live_bot.app.bot_data.extras["clock"] = lambda: clock
    office = await add_office(sessionmaker)
    november = await add_period(sessionmaker, 2026, 11)
    rina = await add_evaluation(sessionmaker, november, office.staff, office.boss, work="di_bawah")
    await add_evaluation(sessionmaker, november, office.staff2, office.boss)  # Baik
    training = await add_training(
        sessionmaker,
        "Pelatihan Perencanaan Kerja dan Manajemen Kinerja",
        clock + dt.timedelta(days=10),
        code="PB-20",
    )
    client = live_bot.client
    for chat, name in ((HR_CHAT, "Admin"), (STAFF_CHAT, "Rina"), (BOSS_CHAT, "Sari")):
        await client.create_user(chat, name)

    await client.send_text(HR_CHAT, "/hr_pembinaan")
    pick = f"hrp:pick:{rina}:0"
    listing = await client.wait_for_bot_message(HR_CHAT, with_button(pick))
    assert "Rina Marlina" in listing["plain_text"] and "Doni" not in listing["plain_text"]
    await client.press_button(HR_CHAT, listing["message_id"], pick)
    give = f"hrp:give:{rina}:{training}"
    chooser = await client.wait_for_bot_message(HR_CHAT, with_button(give))
    assert chooser["message_id"] == listing["message_id"]  # edited in place
    await client.press_button(HR_CHAT, chooser["message_id"], give)
    done = await client.wait_for_bot_message(HR_CHAT, has_text("PB-20"))
    assert "Rina Marlina" in done["plain_text"]

    # The employee gets the training card with the answer buttons, for real.
    card = await client.wait_for_bot_message(
        STAFF_CHAT, with_button(f"latih:{training}:hadir"), timeout=15
    )
    assert "Pelatihan Perencanaan Kerja dan Manajemen Kinerja" in card["plain_text"]
    # The supervisor is told who, which training and why.
    notice = await client.wait_for_bot_message(
        BOSS_CHAT, has_text(ID("Coaching for {name}", name="Rina Marlina")), timeout=15
    )
    assert "Butuh Perbaikan" in notice["plain_text"]
    assert await participants(sessionmaker, training) == [office.staff]
    assert (await evaluation(sessionmaker, rina)).coaching_training_id == training

    async def delivered() -> bool:
        rows = await outbox(sessionmaker)
        return len(rows) == 2 and all(row.status == "sent" for row in rows)

    await wait_until(delivered)

    # The employee answers from the card: the assignment made them a real participant.
    await client.press_button(STAFF_CHAT, card["message_id"], f"latih:{training}:hadir")

    async def attending() -> bool:
        return (await attendance(sessionmaker, training)).get(office.staff, ("",))[0] == "hadir"

    await wait_until(attending)

    # A second press on the old button assigns and tells nobody again.
    await client.press_button(HR_CHAT, chooser["message_id"], give, forge=True)
    replies = await callback_answers(client, HR_CHAT, 3)
    assert replies[-1]["show_alert"] is True
    assert replies[-1]["text"] == ID(
        "This employee already has a coaching training, or is no longer flagged. "
        "Send /hr_pembinaan for the current list."
    )
    assert await count_outbox(sessionmaker) == 2
    heading = ID("Coaching for {name}", name="Rina Marlina")
    told = [m for m in await client.bot_messages(BOSS_CHAT) if heading in m["plain_text"]]
    assert len(told) == 1
