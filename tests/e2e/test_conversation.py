"""What a person sees in the chat, over real HTTP through the emulator."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import LiveBot
from tests.support.factories import add_unit_with_staff

pytestmark = pytest.mark.e2e

STRANGER = 6660001
STAFF = 6660002


async def test_start_greets_a_stranger_in_indonesian(live_bot: LiveBot):
    client = live_bot.client
    await client.create_user(STRANGER, "Andika", language_code="en")
    await client.send_text(STRANGER, "/start")
    reply = await client.wait_for_bot_message(STRANGER)
    assert reply["parse_mode"] == "HTML"
    assert reply["plain_text"].startswith("Selamat datang di Bot Mutasi & Kinerja ASN")
    assert "Bagikan nomor HP" in reply["plain_text"]


async def test_default_menu_is_published_per_language(live_bot: LiveBot):
    stored = await live_bot.client.commands(scope={"type": "default"})
    by_language = {entry["language_code"]: entry["commands"] for entry in stored}
    default, english = by_language[""], by_language["en"]
    assert [c["command"] for c in default] == ["start", "help", "bahasa"]
    assert default[0]["description"] == "Mulai dan tautkan akun"
    assert english[0]["description"] == "Start and link your account"


async def test_language_switch_edits_the_message_in_place(live_bot: LiveBot):
    client = live_bot.client
    await client.create_user(STRANGER, "Andika")
    await client.send_text(STRANGER, "/bahasa")
    question = await client.wait_for_bot_message(STRANGER)
    assert question["plain_text"] == "Silakan pilih bahasa:"
    await client.press_button(STRANGER, question["message_id"], "bahasa:en")
    edited = await client.wait_for_bot_message(STRANGER)
    assert edited["message_id"] == question["message_id"]
    assert edited["plain_text"] == "Language set to English."
    await client.send_text(STRANGER, "/help")
    help_text = await client.wait_for_bot_message(STRANGER)
    assert help_text["plain_text"].startswith("What you can do:")


async def test_forged_button_is_refused(live_bot: LiveBot):
    client = live_bot.client
    await client.create_user(STRANGER, "Andika")
    await client.send_text(STRANGER, "/bahasa")
    question = await client.wait_for_bot_message(STRANGER)
    await client.press_button(STRANGER, question["message_id"], "bahasa:zz", forge=True)
    for _ in range(100):
        answers = await client.callback_answers(STRANGER)
        if answers and answers[-1]["answered"]:
            break
        await asyncio.sleep(0.05)
    assert answers[-1]["answer"]["text"] == "Tombol ini sudah tidak berlaku."
    assert (await client.message(STRANGER, question["message_id"]))["edits"] == []


async def test_linked_employee_gets_a_personal_greeting_and_menu(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(
        sessionmaker, staff_name="Rina <Marlina> & Co", staff_telegram_id=STAFF
    )
    client = live_bot.client
    await client.create_user(STAFF, "Rina")
    await client.send_text(STAFF, "/start")
    reply = await client.wait_for_bot_message(STAFF)
    assert "Bapak/Ibu Rina <Marlina> & Co" in reply["plain_text"]
    assert "Analis Transportasi, Dinas Perhubungan" in reply["plain_text"]
    (menu,) = await client.commands(scope={"type": "chat", "chat_id": STAFF})
    assert [c["command"] for c in menu["commands"]] == [
        "start",
        "help",
        "bahasa",
        "status",
        "kinerja",
        "saya",
        "pelatihan",
    ]
    assert menu["commands"][2]["description"] == "Pilih bahasa (Bahasa Indonesia / English)"


async def test_stickers_and_voice_get_a_polite_pointer(live_bot: LiveBot):
    client = live_bot.client
    await client.create_user(STRANGER, "Andika")
    await client.send_sticker(STRANGER)
    reply = await client.wait_for_bot_message(STRANGER)
    assert "/help" in reply["plain_text"]
    await client.send_voice(STRANGER)
    assert "/help" in (await client.wait_for_bot_message(STRANGER))["plain_text"]


async def test_a_reply_survives_a_429(live_bot: LiveBot):
    client = live_bot.client
    await client.create_user(STRANGER, "Andika")
    await client.add_fault("429", methods=["sendMessage"], count=1, retry_after=1)
    await client.send_text(STRANGER, "/help")
    reply = await client.wait_for_bot_message(STRANGER, timeout=15)
    assert reply["plain_text"].startswith("Layanan yang dapat")
    statuses = [c["status"] for c in await client.calls("sendMessage")]
    assert statuses[0] == 429 and statuses[-1] == 200
