"""The control API: simulated users, reading chats, faults bookkeeping, threads."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.emulator import EmulatorClient, EmulatorControlError, EmulatorThread, RunningEmulator

from ._support import PNG_2X3, TOKEN


async def _updates(bot: telegram.Bot) -> list[telegram.Update]:
    updates = list(await bot.get_updates(timeout=0))
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return updates


async def test_create_user_is_idempotent(emu: RunningEmulator) -> None:
    first = await emu.client.create_user(7, "Rina", username="rina")
    again = await emu.client.create_user(7, "Rina", username="rina")
    assert first["chat"]["id"] == again["chat"]["id"] == 7
    assert [u["id"] for u in await emu.client.users()] == [7]
    with pytest.raises(EmulatorControlError) as exc:
        await emu.client.send_text(8, "who am I")
    assert exc.value.status == 404


async def test_user_message_kinds_reach_the_bot(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    c = emu.client
    text = await c.send_text(user, "/cek@bukittinggi_asn_bot 123")
    await c.edit_text(user, text["message_id"], "/cek 456")
    await c.send_sticker(user, "🎉")
    await c.send_voice(user, duration=3)
    await c.send_contact(user, "+6281234", "Ani")
    await c.send_contact(user, "+6289999", "Budi", contact_user_id=2002)
    await c.send_contact(user, "+6280000", "Tanpa Akun", contact_user_id=None)
    doc = await c.send_document(user, "sk.pdf", b"%PDF", "application/pdf", caption="SK")
    photo = await c.send_photo(user, PNG_2X3, caption="foto")
    updates = await _updates(bot)
    assert len(updates) == 9
    first, edited, sticker, voice, own, forwarded, no_account, document, photo_u = updates
    assert first.message.text == "/cek@bukittinggi_asn_bot 123"
    assert first.message.entities[0].length == len("/cek@bukittinggi_asn_bot")
    assert edited.edited_message.text == "/cek 456" and edited.edited_message.edit_date
    assert edited.edited_message.message_id == text["message_id"]
    assert sticker.message.sticker.emoji == "🎉"
    assert voice.message.voice.mime_type == "audio/ogg"
    assert own.message.contact.user_id == user
    assert forwarded.message.contact.user_id == 2002
    assert no_account.message.contact.user_id is None
    assert document.message.document.file_id == doc["file_id"]
    assert document.message.document.mime_type == "application/pdf"
    assert document.message.caption == "SK"
    assert photo_u.message.photo[-1].file_id == photo["file_id"]
    assert (photo_u.message.photo[-1].width, photo_u.message.photo[-1].height) == (2, 3)
    kinds = [m["kind"] for m in await c.messages(user)]
    assert kinds == [
        "text",
        "sticker",
        "voice",
        "contact",
        "contact",
        "contact",
        "document",
        "photo",
    ]
    assert await c.download_file(doc["file_id"]) == b"%PDF"


async def test_button_press_validation_and_forgery(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Setuju", callback_data="ok:1")]])
    sent = await bot.send_message(user, "Setuju?", reply_markup=markup)
    with pytest.raises(EmulatorControlError) as exc:
        await emu.client.press_button(user, sent.message_id, "ok:2")
    assert exc.value.status == 400
    pressed = await emu.client.press_button_text(user, sent.message_id, "Setuju")
    forged = await emu.client.press_button(user, sent.message_id, "admin:hapus", forge=True)
    ghost = await emu.client.press_button(user, 999, "x", forge=True)
    first, second, third = await _updates(bot)
    assert first.callback_query.id == pressed["callback_query_id"]
    assert first.callback_query.data == "ok:1"
    assert first.callback_query.message.text == "Setuju?"
    assert first.callback_query.message.reply_markup == markup
    assert second.callback_query.data == "admin:hapus"
    assert third.callback_query.id == ghost["callback_query_id"]
    # Telegram marks an inaccessible message with date 0; PTB exposes that as is_accessible.
    assert third.callback_query.message.is_accessible is False
    assert first.callback_query.message.is_accessible is True
    assert first.callback_query.chat_instance == second.callback_query.chat_instance
    assert await bot.answer_callback_query(pressed["callback_query_id"], "Tersimpan", True)
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(pressed["callback_query_id"])
    answers = {a["callback_query_id"]: a for a in await emu.client.callback_answers(user)}
    assert answers[pressed["callback_query_id"]]["answer"]["text"] == "Tersimpan"
    assert answers[pressed["callback_query_id"]]["answer"]["show_alert"] is True
    assert answers[forged["callback_query_id"]]["answered"] is False
    assert answers[forged["callback_query_id"]]["forged"] is True


async def test_wait_for_bot_message_sees_new_messages_and_edits(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    async def later() -> None:
        await asyncio.sleep(0.1)
        msg = await bot.send_message(user, "satu")
        await asyncio.sleep(0.1)
        await bot.edit_message_text("dua", chat_id=user, message_id=msg.message_id)

    task = asyncio.create_task(later())
    first = await emu.client.wait_for_bot_message(user, timeout=3)
    assert first["plain_text"] == "satu"
    edited = await emu.client.wait_for_bot_message(user, timeout=3)
    assert edited["message_id"] == first["message_id"] and edited["plain_text"] == "dua"
    await task
    await emu.client.send_text(user, "halo")
    with pytest.raises(AssertionError, match=r"(?s)timed out.*#1 bot\s*: 'dua'.*#2 user: 'halo'"):
        await emu.client.wait_for_bot_message(user, timeout=0.3)
    await bot.send_message(user, "tiga")
    await bot.send_message(user, "empat")
    found = await emu.client.wait_for_bot_message(user, lambda m: m["plain_text"] == "empat")
    assert found["message_id"] == 4
    assert (await emu.client.last_bot_message(user))["plain_text"] == "empat"
    assert [m["plain_text"] for m in await emu.client.bot_messages(user)] == [
        "dua",
        "tiga",
        "empat",
    ]


async def test_faults_listing_reset_and_http_errors(emu: RunningEmulator, user: int) -> None:
    rule = await emu.client.add_fault("timeout", methods=["sendMessage"], chat_id=user, count=2)
    assert rule["delay"] == 30.0 and rule["methods"] == ["sendmessage"]
    assert [f["kind"] for f in await emu.client.faults()] == ["timeout"]
    await emu.client.clear_faults()
    assert await emu.client.faults() == []
    with pytest.raises(EmulatorControlError) as exc:
        await emu.client.add_fault("explode")
    assert exc.value.status == 400
    await emu.client.reset()
    assert await emu.client.users() == [] and await emu.client.chats() == []
    assert emu.state.users == {}
    async with httpx.AsyncClient(trust_env=False) as http:
        r = await http.post(f"{emu.control_url}/messages", content=b"not json")
        assert r.status_code == 400 and "JSON" in r.json()["error"]


def test_emulator_thread_serves_a_synchronous_client() -> None:
    with EmulatorThread(tokens=[TOKEN], bot_username="thread_bot") as emu:
        with httpx.Client(trust_env=False, timeout=5) as http:
            r = http.post(f"{emu.control_url}/users", json={"id": 5, "first_name": "T"})
            assert r.status_code == 200
            r = http.post(f"{emu.base_url}{TOKEN}/sendMessage", data={"chat_id": "5", "text": "x"})
            assert r.json()["result"]["from"]["username"] == "thread_bot"
            other = "999:" + "B" * 35
            assert http.post(f"{emu.base_url}{other}/getMe").status_code == 401
        assert emu.state.chats[5].messages[1].plain_text == "x"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{emu.control_url}/health", timeout=1)


async def test_client_accepts_root_url(emu: RunningEmulator) -> None:
    async with EmulatorClient(emu.root_url) as c:
        health = await c.health()
    assert health["ok"] is True and health["base_url"] == emu.base_url
