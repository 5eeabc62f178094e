"""The sender's rate bookkeeping on a fake clock: no sleeping, no timing thresholds."""

from __future__ import annotations

import pytest

from bot.delivery import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send_all(pacer: Pacer, clock: FakeClock, chats: list[int]) -> list[tuple[int, float]]:
    """Send to ``chats`` one after the other as a single chat coroutine would; send times."""
    times = []
    for chat in chats:
        clock.now += pacer.chat_delay(chat)
        clock.now += pacer.reserve_global()
        pacer.note_chat(chat)
        times.append((chat, clock.now))
    return times


def test_three_messages_to_one_chat_take_two_seconds():
    clock = FakeClock()
    pacer = Pacer(global_rate=25, per_chat_rate=1, clock=clock)
    times = [t for _, t in send_all(pacer, clock, [7, 7, 7])]
    assert times[1] - times[0] == pytest.approx(1.0)
    assert times[2] - times[1] == pytest.approx(1.0)


def test_other_chats_are_not_held_back_by_a_busy_chat():
    clock = FakeClock()
    pacer = Pacer(global_rate=25, per_chat_rate=1, clock=clock)
    pacer.note_chat(7)
    assert pacer.chat_delay(7) == pytest.approx(1.0)
    assert pacer.chat_delay(8) == 0
    clock.now += 0.4
    assert pacer.chat_delay(7) == pytest.approx(0.6)


def test_global_slots_are_booked_for_concurrent_senders():
    clock = FakeClock()
    pacer = Pacer(global_rate=25, per_chat_rate=1, clock=clock)
    # 50 chat coroutines ask at the same instant: slots 40 ms apart, two seconds in all.
    waits = [pacer.reserve_global() for _ in range(50)]
    assert waits[0] == 0
    assert waits[1] == pytest.approx(0.04)
    assert waits[-1] == pytest.approx(49 * 0.04)
    # Later, after an idle period, the next send goes at once (no burst credit kept).
    clock.now += 10
    assert pacer.reserve_global() == 0
    assert pacer.reserve_global() == pytest.approx(0.04)


def test_rates_are_configurable_and_zero_means_unlimited():
    clock = FakeClock()
    pacer = Pacer(global_rate=2, per_chat_rate=0.5, clock=clock)
    times = send_all(pacer, clock, [1, 2, 1])
    assert [t - times[0][1] for _, t in times] == pytest.approx([0.0, 0.5, 2.0])
    free = Pacer(global_rate=0, per_chat_rate=0, clock=clock)
    assert [free.reserve_global() for _ in range(3)] == [0, 0, 0]
    free.note_chat(1)
    assert free.chat_delay(1) == 0
