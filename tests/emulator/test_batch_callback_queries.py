"""``POST /_emulator/callback_queries/batch`` (many users press a button at once) and
``GET /_emulator/calls?since=`` (only the calls logged since): for load tests."""

from __future__ import annotations

import time

import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.emulator import EmulatorControlError, RunningEmulator


def _keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d)] for d in data])


async def test_batch_presses_every_button_at_once(bot: telegram.Bot, emu: RunningEmulator) -> None:
    c = emu.client
    for user_id in (11, 12):
        await c.create_user(user_id, f"Pegawai {user_id}")
    first = await bot.send_message(11, "Nilai?", reply_markup=_keyboard("a", "b"))
    second = await bot.send_message(12, "Nilai?", reply_markup=_keyboard("a", "b"))
    before = time.time()
    answer = await c.press_buttons(
        [(11, first.message_id, "b"), (12, second.message_id, "a"), (12, 99, "zz", True)]
    )
    assert before <= answer["time"] <= time.time()
    pressed = answer["pressed"]
    assert [p["update_id"] for p in pressed] == [pressed[0]["update_id"] + n for n in range(3)]
    assert len({p["callback_query_id"] for p in pressed}) == 3

    updates = list(await bot.get_updates(timeout=0))
    assert [u.update_id for u in updates] == [p["update_id"] for p in pressed]
    queries = [u.callback_query for u in updates]
    assert [(q.id, q.from_user.id, q.data) for q in queries] == [
        (pressed[0]["callback_query_id"], 11, "b"),
        (pressed[1]["callback_query_id"], 12, "a"),
        (pressed[2]["callback_query_id"], 12, "zz"),
    ]
    assert queries[0].message.message_id == first.message_id
    assert queries[0].message.text == "Nilai?"

    # Each can be answered; the answers are logged on the same clock as the batch's "time".
    assert await bot.answer_callback_query(queries[1].id, text="Tersimpan")
    answers = await c.callback_answers(12)
    assert [(a["data"], a["answered"]) for a in answers] == [("a", True), ("zz", False)]
    (call,) = await c.calls("answerCallbackQuery")
    assert call["time"] >= answer["time"]


async def test_batch_press_is_all_or_nothing(bot: telegram.Bot, emu: RunningEmulator) -> None:
    c = emu.client
    await c.create_user(11, "Ani")
    sent = await bot.send_message(11, "Nilai?", reply_markup=_keyboard("a"))
    for presses, status in (
        ([(11, sent.message_id, "a"), (99, sent.message_id, "a")], 404),  # unknown user
        ([(11, sent.message_id, "a"), (11, sent.message_id, "nope")], 400),  # no such button
        ([(11, sent.message_id, "a"), (11, 77, "a")], 400),  # no such message
    ):
        with pytest.raises(EmulatorControlError) as refused:
            await c.press_buttons(presses)
        assert refused.value.status == status
    for malformed in ([{"user_id": 11, "message_id": sent.message_id}], [3], "x"):
        with pytest.raises(EmulatorControlError) as bad:
            await c._post("/callback_queries/batch", presses=malformed)
        assert bad.value.status == 400
    assert await c.updates() == []
    assert await c.callback_answers() == []
    assert (await c.press_buttons([]))["pressed"] == []


async def test_calls_since_returns_only_newer_calls(
    bot: telegram.Bot, emu: RunningEmulator
) -> None:
    c = emu.client
    await c.create_user(11, "Ani")
    for text in ("satu", "dua", "tiga"):
        await bot.send_message(11, text)
    calls = await c.calls()
    assert [call["seq"] for call in calls] == sorted(call["seq"] for call in calls)
    first = next(call for call in calls if call["params"].get("text") == "satu")
    newer = await c.calls(since=first["seq"])
    assert [call["params"].get("text") for call in newer if call["method"] == "sendMessage"] == [
        "dua",
        "tiga",
    ]
    assert all(call["seq"] > first["seq"] for call in newer)
    assert [call["params"]["text"] for call in await c.calls("sendMessage", first["seq"])] == [
        "dua",
        "tiga",
    ]
    assert await c.calls(since=calls[-1]["seq"]) == []
    # The numbering goes on after the log is cleared: a reader's "since" stays valid.
    await c.clear_calls()
    await bot.send_message(11, "empat")
    (fourth,) = await c.calls(since=calls[-1]["seq"])
    assert fourth["params"]["text"] == "empat"
    with pytest.raises(EmulatorControlError) as bad:
        await c._call("GET", "/calls", params={"since": "x"})
    assert bad.value.status == 400


async def test_calls_name_the_message_they_sent_or_edited(
    bot: telegram.Bot, emu: RunningEmulator
) -> None:
    c = emu.client
    await c.create_user(11, "Ani")
    await c.send_text(11, "/nilai")
    sent = await bot.send_message(11, "Daftar", reply_markup=_keyboard("a"))
    await bot.edit_message_text("Langkah 1", chat_id=11, message_id=sent.message_id)
    with pytest.raises(telegram.error.BadRequest):
        await bot.edit_message_text("x", chat_id=11, message_id=99)
    await bot.get_updates(timeout=0)
    calls = {call["method"]: call for call in await c.calls()}
    assert sent.message_id == 2
    assert calls["sendMessage"]["result_message_id"] == 2
    assert calls["editMessageText"]["result_message_id"] is None  # the last one: refused
    edits = await c.calls("editMessageText")
    assert [(e["ok"], e["result_message_id"]) for e in edits] == [(True, 2), (False, None)]
    assert calls["getUpdates"]["result_message_id"] is None
