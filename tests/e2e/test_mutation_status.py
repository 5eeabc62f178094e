"""/status and /mutasi over real HTTP through the emulator, which checks what Telegram checks
(well-formed HTML, text length, callback data) before a message reaches the user."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.i18n import get_translator
from bot.rules.stages import MutationType, Stage
from handlers.mutation_status import HISTORY
from storage.models import utcnow
from tests.e2e.conftest import LiveBot
from tests.mutations.status_support import add_mutation
from tests.support.factories import add_unit_with_staff

pytestmark = pytest.mark.e2e

ID = get_translator("id")
STAFF = 5570001
BOSS = 5570002
STRANGER = 5570009


def with_button(data: str):
    def matches(message: dict) -> bool:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return any(b.get("callback_data") == data for row in rows for b in row)

    return matches


def has_text(text: str):
    return lambda message: text in (message.get("plain_text") or "")


def ago(days: int) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


async def people(sessionmaker) -> int:
    """The staff member's employee id (linked to STAFF; the supervisor to BOSS)."""
    _, staff = await add_unit_with_staff(
        sessionmaker, staff_telegram_id=STAFF, supervisor_telegram_id=BOSS
    )
    return staff


async def test_no_mutation_then_one_then_a_cancelled_one_in_history(
    live_bot: LiveBot, sessionmaker
):
    staff = await people(sessionmaker)
    client = live_bot.client
    await client.create_user(STAFF, "Rina")

    await client.send_text(STAFF, "/status")
    nothing = await client.wait_for_bot_message(STAFF)
    assert nothing["plain_text"].startswith("Saat ini Bapak/Ibu tidak sedang dalam proses mutasi.")
    assert "BKPSDM Kota Bukittinggi" in nothing["plain_text"]
    assert not with_button(HISTORY)(nothing)

    await add_mutation(
        sessionmaker,
        staff,
        stage=Stage.DIBATALKAN,
        to_unit="Inspektorat",
        note="Formasi <penuh> & ditunda",
        started=ago(200),
    )
    await add_mutation(
        sessionmaker,
        staff,
        stage=Stage.PERTEK_BKN,
        mutation_type=MutationType.ANTAR_INSTANSI,
        to_unit="Pemerintah Kota <Padang> & Sekitarnya",
        started=ago(20),
    )
    await client.send_text(STAFF, "/status")
    card = await client.wait_for_bot_message(STAFF, with_button(HISTORY))
    text = card["plain_text"]
    assert "🏛 Mutasi antar-instansi" in text
    assert "Ke: Analis Kebijakan, Pemerintah Kota <Padang> & Sekitarnya" in text
    assert "▶️ Pertimbangan teknis (Pertek BKN) — sejak" in text
    assert "Inspektorat" not in text
    # Telegram parsed the HTML: the type is bold ("🏛 " is three UTF-16 units).
    assert {"type": "bold", "offset": 3, "length": len("Mutasi antar-instansi")} in card["entities"]

    await client.press_button(STAFF, card["message_id"], HISTORY)
    history = await client.wait_for_bot_message(STAFF, has_text("Riwayat mutasi Bapak/Ibu:"))
    assert "Rotasi: Analis Kebijakan, Inspektorat" in history["plain_text"]
    assert "❌ Dibatalkan — " in history["plain_text"]
    assert "Alasan: Formasi <penuh> & ditunda" in history["plain_text"]
    assert "Padang" not in history["plain_text"]
    (answer,) = await client.callback_answers(STAFF)
    assert answer["answered"]


async def test_mutasi_alias_and_english(live_bot: LiveBot, sessionmaker):
    staff = await people(sessionmaker)
    await add_mutation(sessionmaker, staff, stage=Stage.VERIFIKASI, to_unit="Bappeda")
    client = live_bot.client
    await client.create_user(STAFF, "Rina")

    await client.send_text(STAFF, "/mutasi")
    card = await client.wait_for_bot_message(STAFF, with_button(HISTORY))
    assert "▶️ Verifikasi berkas — sejak" in card["plain_text"]
    assert "Ke: Analis Kebijakan, Bappeda" in card["plain_text"]

    await client.send_text(STAFF, "/bahasa")
    question = await client.wait_for_bot_message(STAFF, with_button("bahasa:en"))
    await client.press_button(STAFF, question["message_id"], "bahasa:en")
    await client.wait_for_bot_message(STAFF, has_text("Language set to English."))

    await client.send_text(STAFF, "/status")
    english = await client.wait_for_bot_message(STAFF, with_button(HISTORY))
    assert english["plain_text"].startswith("🔁 Rotation\nFrom: Analis Transportasi")
    assert "▶️ Document verification — since" in english["plain_text"]
    assert "BKPSDM is checking the documents." in english["plain_text"]
    assert english["reply_markup"]["inline_keyboard"][0][0]["text"] == "📜 History"

    await client.press_button(STAFF, english["message_id"], HISTORY)
    empty = await client.wait_for_bot_message(STAFF, has_text("You have no past transfers."))
    assert empty["plain_text"] == "You have no past transfers."


async def test_unlinked_user_is_asked_to_link_and_a_forged_history_press_is_refused(
    live_bot: LiveBot, sessionmaker
):
    staff = await people(sessionmaker)
    await add_mutation(sessionmaker, staff, stage=Stage.SELESAI)
    client = live_bot.client
    await client.create_user(STRANGER, "Asing")
    link_first = ID(
        "Please link your Telegram account first: send /start and share your phone number."
    )
    for command in ("/status", "/mutasi"):
        await client.send_text(STRANGER, command)
        reply = await client.wait_for_bot_message(STRANGER)
        assert reply["plain_text"] == link_first
    await client.press_button(STRANGER, reply["message_id"], HISTORY, forge=True)
    for _ in range(100):
        answers = await client.callback_answers(STRANGER)
        if answers and answers[-1]["answered"]:
            break
        await asyncio.sleep(0.05)
    assert answers[-1]["answer"]["text"] == link_first
    assert answers[-1]["answer"]["show_alert"] is True
    assert len(await client.bot_messages(STRANGER)) == 2  # the two refusals, no history
