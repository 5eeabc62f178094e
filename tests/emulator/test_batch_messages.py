"""``POST /_emulator/messages/batch``: many users write at once (load tests)."""

from __future__ import annotations

import time

import pytest
import telegram

from bot.emulator import EmulatorControlError, RunningEmulator


async def test_batch_queues_every_message_at_once(bot: telegram.Bot, emu: RunningEmulator) -> None:
    c = emu.client
    for user_id in (11, 12, 13):
        await c.create_user(user_id, f"Pegawai {user_id}")
    before = time.time()
    answer = await c.send_texts([(11, "/status"), (12, "/status"), (13, "halo")])
    assert before <= answer["time"] <= time.time()
    sent = answer["sent"]
    assert [s["message_id"] for s in sent] == [1, 1, 1]
    assert sent[1]["update_id"] == sent[0]["update_id"] + 1

    updates = list(await bot.get_updates(timeout=0))
    assert [u.update_id for u in updates] == [s["update_id"] for s in sent]
    assert [(u.message.chat.id, u.message.text) for u in updates] == [
        (11, "/status"),
        (12, "/status"),
        (13, "halo"),
    ]
    assert updates[0].message.entities[0].type == "bot_command"
    assert [m["plain_text"] for m in await c.messages(12)] == ["/status"]

    # The reply is logged on the same clock as the batch's "time".
    await bot.send_message(11, "Tahap: verifikasi")
    (call,) = await c.calls("sendMessage")
    assert call["time"] >= answer["time"]


async def test_batch_is_all_or_nothing(emu: RunningEmulator) -> None:
    c = emu.client
    await c.create_user(11, "Ani")
    with pytest.raises(EmulatorControlError) as unknown:
        await c.send_texts([(11, "/status"), (99, "/status")])
    assert unknown.value.status == 404
    with pytest.raises(EmulatorControlError) as empty:
        await c.send_texts([(11, "/status"), (11, "  ")])
    assert empty.value.status == 400
    with pytest.raises(EmulatorControlError) as malformed:
        await c._post("/messages/batch", messages=[{"user_id": 11}])
    assert malformed.value.status == 400
    assert await c.updates() == []
    assert await c.messages(11) == []
    assert (await c.send_texts([]))["sent"] == []
