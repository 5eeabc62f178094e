"""Redelivering an update: the same update, same ``update_id``, handed out once more.

Telegram sends an update again when it did not see it confirmed (the bot died before its
next ``getUpdates`` offset, a webhook answer was lost); ``POST
/_emulator/updates/{update_id}/redeliver`` does that on demand.
"""

from __future__ import annotations

import pytest
import telegram

from bot.emulator import EmulatorControlError, RunningEmulator
from bot.emulator.state import UPDATE_HISTORY, EmulatorError, EmulatorState

from ._support import BOT_ID


@pytest.fixture
def state() -> EmulatorState:
    s = EmulatorState(bot_id=BOT_ID, bot_username="bukittinggi_asn_bot", seed=7)
    s.create_user(10, "Ani")
    return s


def test_a_confirmed_update_is_handed_out_again_once(state: EmulatorState) -> None:
    first, _ = state.user_send_text(10, "/status")
    (original,) = state.get_updates()
    assert state.get_updates(offset=first + 1) == []  # confirmed
    again = state.redeliver_update(first)
    assert again == original
    # Handed out whatever offset the bot confirmed, then confirmed by the next offset.
    assert state.get_updates(offset=first + 1) == [original]
    assert state.get_updates(offset=first + 1) == []


def test_a_redelivered_update_comes_in_update_id_order(state: EmulatorState) -> None:
    ids = [state.user_send_text(10, f"m{i}")[0] for i in range(3)]
    state.get_updates(offset=ids[0] + 1)  # the first one confirmed; two still queued
    state.redeliver_update(ids[0])
    assert [u["update_id"] for u in state.get_updates(offset=ids[0] + 1)] == ids
    # A poller confirming the last id of the batch confirms the redelivered one too.
    assert state.get_updates(offset=ids[-1] + 1) == []


def test_a_button_press_keeps_its_payload(state: EmulatorState) -> None:
    state.send_message(
        10,
        "pick",
        reply_markup={"inline_keyboard": [[{"text": "Hadir", "callback_data": "latih:1:hadir"}]]},
    )
    update_id, _ = state.press_button(10, 1, "latih:1:hadir")
    (pressed,) = state.get_updates()
    state.get_updates(offset=update_id + 1)
    assert state.redeliver_update(update_id) == pressed
    assert state.get_updates(offset=update_id + 1) == [pressed]


def test_unknown_or_forgotten_updates_are_404(state: EmulatorState) -> None:
    with pytest.raises(EmulatorError) as exc:
        state.redeliver_update(12345)
    assert exc.value.error_code == 404
    first, _ = state.user_send_text(10, "a")
    for _ in range(UPDATE_HISTORY):
        state.user_send_text(10, "b")
    with pytest.raises(EmulatorError):
        state.redeliver_update(first)
    state.redeliver_update(first + 1)


async def test_redeliver_over_http_reaches_a_polling_bot(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    sent = await emu.client.send_text(user, "/status")
    (update,) = await bot.get_updates(timeout=0)
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    again = await emu.client.redeliver_update(sent["update_id"])
    assert again["update_id"] == sent["update_id"]
    assert [u["update_id"] for u in await emu.client.updates()] == [sent["update_id"]]
    (copy,) = await bot.get_updates(offset=update.update_id + 1, timeout=0)
    assert copy == update and copy.update_id == update.update_id
    assert copy.message.text == "/status"
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    with pytest.raises(EmulatorControlError) as exc:
        await emu.client.redeliver_update(sent["update_id"] + 100)
    assert exc.value.status == 404
