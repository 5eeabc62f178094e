"""Trainings in chat over real HTTP through the emulator: answers, creation, attendance list.

The outbox sender runs inside the live bot, so a participant receives HR's notice for real.
The application's clock is set to midday WIB so that quiet hours never hold the notices.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.i18n import get_translator
from bot.trainings import BUTTON_ABSENT, BUTTON_HADIR
from storage.models import OutboxMessage, Training, utcnow
from tests.e2e.conftest import LiveBot
from tests.trainings.support import (
    ASN_CHAT,
    HR_CHAT,
    OTHER_CHAT,
    OTHER_NIP,
    add_people,
    add_training,
    answers,
)

pytestmark = pytest.mark.e2e

ID = get_translator("id")
WIB = ZoneInfo("Asia/Jakarta")


def midday_clock(bot: LiveBot) -> None:
    """Quiet hours (21:00–06:00 WIB) must not hold the notices, whenever the test runs."""
    noon = utcnow().astimezone(WIB).replace(hour=12, minute=0, second=0, microsecond=0)
    bot.app.bot_data.extras["clock"] = lambda: noon.astimezone(dt.UTC)


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


async def test_asn_answers_hadir_from_pelatihan_and_sees_the_answer(
    live_bot: LiveBot, sessionmaker
):
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff], title="Bimtek SIASN & e-Kinerja")
    client = live_bot.client
    await client.create_user(ASN_CHAT, "Rina")
    await client.send_text(ASN_CHAT, "/pelatihan")
    card = await client.wait_for_bot_message(ASN_CHAT, with_button(f"latih:{training}:hadir"))
    assert "Bimtek SIASN & e-Kinerja" in card["plain_text"]
    assert ID("not answered yet") in card["plain_text"] and "WIB" in card["plain_text"]
    await client.press_button_text(ASN_CHAT, card["message_id"], ID(BUTTON_HADIR))
    edited = await client.wait_for_bot_message(
        ASN_CHAT, lambda m: m["message_id"] == card["message_id"]
    )
    assert ID("Your answer: {answer}", answer=ID("Attending")) in edited["plain_text"]
    assert with_button(f"latih:{training}:absen")(edited)  # the answer can still change
    assert (await answers(sessionmaker, training))[people.staff] == ("hadir", None)
    replies = await client.callback_answers(ASN_CHAT)
    assert replies[-1]["answer"]["text"] == ID("Thank you. Your answer is saved: attending.")


async def test_asn_answers_tidak_hadir_with_a_reason(live_bot: LiveBot, sessionmaker):
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    client = live_bot.client
    await client.create_user(ASN_CHAT, "Rina")
    await client.send_text(ASN_CHAT, "/pelatihan")
    card = await client.wait_for_bot_message(ASN_CHAT, with_button(f"latih:{training}:absen"))
    await client.press_button_text(ASN_CHAT, card["message_id"], ID(BUTTON_ABSENT))
    prompt = await client.wait_for_bot_message(ASN_CHAT, with_button(f"latih:{training}:lewati"))
    assert "/batal" in prompt["plain_text"]
    await client.send_text(ASN_CHAT, "Tugas luar <kota> & rapat")
    done = await client.wait_for_bot_message(
        ASN_CHAT, has_text(ID("Thank you. Your answer is saved: not attending."))
    )
    assert "Tugas luar <kota> & rapat" in done["plain_text"]
    assert (await answers(sessionmaker, training))[people.staff] == (
        "tidak_hadir",
        "Tugas luar <kota> & rapat",
    )


async def test_hr_creates_a_training_for_a_unit_and_a_participant_is_told(
    live_bot: LiveBot, sessionmaker
):
    midday_clock(live_bot)
    await add_people(sessionmaker)
    client = live_bot.client
    await client.create_user(HR_CHAT, "Yusuf")
    await client.create_user(OTHER_CHAT, "Andi")
    await client.send_text(HR_CHAT, "/hr_pelatihan")
    listing = await client.wait_for_bot_message(HR_CHAT, with_button("hrl:new"))
    await client.press_button(HR_CHAT, listing["message_id"], "hrl:new")
    start = (utcnow().astimezone(WIB) + dt.timedelta(days=5)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    for text, next_button in (
        (None, "hrl:stop:n"),
        ("Orientasi Tugas Pasca Mutasi", "hrl:back:n:start"),
        (f"{start:%d/%m/%Y} 08.00", "hrl:back:n:end"),
        ("15.00", "hrl:back:n:place"),
        ("Aula Dinas Kesehatan", "hrl:units:0"),
        ("kesehatan", "hrl:save"),
    ):
        if text is not None:
            await client.send_text(HR_CHAT, text)
        prompt = await client.wait_for_bot_message(HR_CHAT, with_button(next_button))
    assert "Orientasi Tugas Pasca Mutasi" in prompt["plain_text"]
    assert "Dinas Kesehatan" in prompt["plain_text"]
    await client.press_button(HR_CHAT, prompt["message_id"], "hrl:save")
    saved = await client.wait_for_bot_message(
        HR_CHAT, lambda m: m["message_id"] == prompt["message_id"]
    )
    async with sessionmaker() as session:
        training = await session.scalar(select(Training))
    assert training is not None and training.code in saved["plain_text"]
    assert training.starts_at == start.astimezone(dt.UTC)

    notice = await client.wait_for_bot_message(
        OTHER_CHAT, with_button(f"latih:{training.id}:hadir"), timeout=15
    )
    assert "Orientasi Tugas Pasca Mutasi" in notice["plain_text"]
    assert ID(BUTTON_ABSENT) in str(notice["reply_markup"])

    async def delivered() -> bool:
        async with sessionmaker() as session:
            status = await session.scalar(
                select(OutboxMessage.status).where(
                    OutboxMessage.idempotency_key.like(f"training_new:{training.id}:%")
                )
            )
        return status == "sent"

    await wait_until(delivered)
    # The participant answers straight from the notice.
    await client.press_button(OTHER_CHAT, notice["message_id"], f"latih:{training.id}:hadir")
    await client.wait_for_bot_message(OTHER_CHAT, lambda m: m["message_id"] == notice["message_id"])
    async with sessionmaker() as session:
        from storage.models import Employee

        other = await session.scalar(select(Employee.id).where(Employee.nip == OTHER_NIP))
    assert (await answers(sessionmaker, training.id))[other][0] == "hadir"


async def test_hr_downloads_the_attendance_list(live_bot: LiveBot, sessionmaker):
    people = await add_people(sessionmaker)
    training = await add_training(
        sessionmaker,
        [people.staff, people.other],
        code="PLT-2026-0003",
        attendance={people.other: "tidak_hadir"},
    )
    client = live_bot.client
    await client.create_user(HR_CHAT, "Yusuf")
    await client.send_text(HR_CHAT, "/hr_pelatihan")
    listing = await client.wait_for_bot_message(HR_CHAT, with_button(f"hrl:open:{training}"))
    await client.press_button(HR_CHAT, listing["message_id"], f"hrl:open:{training}")
    card = await client.wait_for_bot_message(HR_CHAT, with_button(f"hrl:xlsx:{training}"))
    assert "Andi Saputra — Sakit" in card["plain_text"]
    await client.press_button(HR_CHAT, card["message_id"], f"hrl:xlsx:{training}")
    document = await client.wait_for_bot_message(HR_CHAT, lambda m: m["kind"] == "document")
    assert document["document"]["file_name"] == ID("attendance-{code}.xlsx", code="PLT-2026-0003")
    content = await client.download_file(document["document"]["file_id"])
    rows = [
        tuple(c.value for c in row) for row in load_workbook(io.BytesIO(content)).active.iter_rows()
    ]
    assert rows[0][:3] == (ID("No."), ID("Name"), ID("NIP"))
    assert [row[1] for row in rows[1:]] == ["Andi Saputra", "Rina Marlina, S.E."]
    assert rows[1][4:6] == (ID("Not attending"), "Sakit")
    assert rows[2][4] == ID("not answered yet")
