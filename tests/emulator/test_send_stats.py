"""``GET /_emulator/stats/sends``: how many sending calls fell in the busiest window, exactly
(a benchmark proves with it that a global send cap was never exceeded)."""

from __future__ import annotations

import asyncio

import pytest
import telegram
from telegram.error import BadRequest

from bot.emulator import EmulatorControlError, RunningEmulator
from bot.emulator.state import EmulatorError, EmulatorState, is_sending_method

from ._support import BOT_ID


def _brute_force(times: list[float], window: float) -> int:
    """The most of ``times`` in one ``[t, t + window)``: the best window starts at a call."""
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


def test_max_in_window_on_a_constructed_log() -> None:
    state = EmulatorState(bot_id=BOT_ID)
    pattern = [0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 2.5, 3.0]
    for t in pattern:
        state.log_call("sendMessage", {}, 200, started=100.0 + t)
    state.log_call("sendMessage", {}, 429, started=101.2)  # refused: not sent
    state.log_call("getUpdates", {}, 200, started=101.3)  # not a sending method
    state.log_call("editMessageText", {}, 200, started=102.3)
    stats = state.send_stats(1.0)
    assert stats == {
        "count": 9,
        "max_in_window": 4,  # [100.5, 101.5): 100.5, 101.0 x3
        "window": 1.0,
        "first": 100.0,
        "last": 103.0,
    }
    # Half-open: [100.0, 101.0) holds 100.0 x2 and 100.5, not the three at 101.0.
    assert state.send_stats(0.5)["max_in_window"] == 3  # [101.0, 101.5)
    assert state.send_stats(10.0)["max_in_window"] == 9
    # Only the calls logged after ``since``.
    third_seq = state.calls[2].seq
    assert state.send_stats(1.0, since=third_seq)["count"] == 6
    empty = state.send_stats(1.0, since=state.calls[-1].seq)
    assert empty == {"count": 0, "max_in_window": 0, "window": 1.0, "first": None, "last": None}
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(EmulatorError):
            state.send_stats(bad)


async def test_max_in_window_matches_a_brute_force_count(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    before = await emu.client.calls()
    first_seq = before[-1]["seq"] if before else 0
    # Bursts and pauses, concurrent and sequential sends, plus calls that do not count.
    for burst in (5, 1, 8, 2):
        await asyncio.gather(*(bot.send_message(user, f"b{burst}-{i}") for i in range(burst)))
        await asyncio.sleep(0.05 * burst)
    message = await bot.send_message(user, "to edit")
    await bot.edit_message_text("edited", chat_id=user, message_id=message.message_id)
    await bot.get_me()
    with pytest.raises(BadRequest):
        await bot.send_message(user, "")
    calls = await emu.client.calls(since=first_seq)
    times = [c["time"] for c in calls if c["ok"] and is_sending_method(c["method"])]
    assert len(times) == 18
    for window in (0.01, 0.05, 0.2, 1.0, 60.0):
        stats = await emu.client.send_stats(window=window, since=first_seq)
        assert stats["count"] == 18 and stats["window"] == window
        assert stats["max_in_window"] == _brute_force(times, window), window
        assert (stats["first"], stats["last"]) == (min(times), max(times))
    assert (await emu.client.send_stats(window=60.0))["max_in_window"] == 18
    with pytest.raises(EmulatorControlError) as exc:
        await emu.client.send_stats(window=0)
    assert exc.value.status == 400
