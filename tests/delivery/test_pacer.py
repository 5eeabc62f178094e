"""The sender's rate bookkeeping on a fake clock: no sleeping, no timing thresholds."""

from __future__ import annotations

import bisect
import itertools
import random

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
        clock.now += pacer.global_delay()
        pacer.note_send(chat)
        times.append((chat, clock.now))
    return times


def most_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The largest number of ``times`` inside one half-open window of ``window`` seconds."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + window) - i for i, t in enumerate(times)), default=0)


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


def test_the_global_limit_is_a_sliding_window_over_send_times():
    clock = FakeClock()
    pacer = Pacer(global_rate=25, per_chat_rate=1, clock=clock)
    start = clock.now
    # Sends as soon as allowed: spread at half the average interval (20 ms), 25 in a second;
    # the 26th waits until the first is a second old.
    times = [t - start for _, t in send_all(pacer, clock, list(range(26)))]
    assert times[:25] == pytest.approx([n * 0.02 for n in range(25)])
    assert times[25] == pytest.approx(1.0)
    clock.now = start + 1.3
    assert pacer.global_delay() == 0  # the sends of 0.00 … 0.28 have left the window
    # Nothing is booked in advance, and idle time is not saved up beyond one window.
    clock.now += 10
    start = clock.now
    times = [t - start for _, t in send_all(pacer, clock, list(range(26)))]
    assert (times[0], times[25]) == pytest.approx((0.0, 1.0))


def test_the_window_holds_under_event_loop_stalls():
    """Chat coroutines wait for their slot, but the event loop stalls now and then (a GC
    pause, a slow callback): sends start late. In no window of one second (plus the margin)
    do more than N sends start, and the rate lost to the stalls is made up within the
    window: the average stays near N/s."""
    rate, margin = 30, 0.02
    clock = FakeClock()
    pacer = Pacer(global_rate=rate, per_chat_rate=1, clock=clock, margin=margin)
    rng = random.Random(4)
    start = clock.now
    times: list[float] = []
    while clock.now < start + 20:
        # The sleeping coroutine wakes up late: by a little, or by a long stall.
        late = rng.choice([0.0, 0.001, 0.004]) if rng.random() > 0.005 else rng.uniform(0.1, 0.6)
        clock.now += pacer.global_delay() + late
        if pacer.global_delay() == 0:
            pacer.note_send(len(times))
            times.append(clock.now)
            clock.now += 0.0005  # building the request
    assert most_in_any_window(times, 1.0 + margin) <= rate
    assert most_in_any_window(times, 1.0) <= rate
    achieved = len(times) / (times[-1] - times[0])
    assert achieved >= 0.95 * rate


def test_a_stall_delays_sends_instead_of_bunching_booked_slots():
    """Why the window is over actual start times: had slots been booked 1/N s apart, the
    sends due during a stall would all fire together when it ends, and a window could hold
    N + 1. Here the stall only delays them: N per window, never closer than 1/(2N) s."""
    rate = 10
    clock = FakeClock()
    pacer = Pacer(global_rate=rate, per_chat_rate=0, clock=clock)
    times = []
    for chat in range(rate):  # evenly spread: one every 0.1 s
        clock.now = 1000.0 + chat * 0.1
        assert pacer.global_delay() == 0
        pacer.note_send(chat)
        times.append(clock.now)
    clock.now = 1000.95
    assert clock.now + pacer.global_delay() == pytest.approx(1001.0)  # the next slot ...
    clock.now = 1001.3  # ... but the loop stalls until 1001.3
    while clock.now < 1003:
        clock.now += pacer.global_delay()
        pacer.note_send(len(times))
        times.append(clock.now)
    after = [t for t in times if t >= 1001.3]
    assert after[:4] == pytest.approx([1001.3, 1001.35, 1001.4, 1001.45])  # catching up
    assert most_in_any_window(times) <= rate
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.05 - 1e-9


def test_rates_are_configurable_and_zero_means_unlimited():
    clock = FakeClock()
    pacer = Pacer(global_rate=2, per_chat_rate=0.5, clock=clock)
    times = send_all(pacer, clock, [1, 2, 3, 1])
    # Two sends in any second (a quarter of a second apart at least): the third waits for
    # the first to leave the window; chat 1 waits two seconds for its second message.
    assert [t - times[0][1] for _, t in times] == pytest.approx([0.0, 0.25, 1.0, 2.0])
    slow = Pacer(global_rate=0.5, per_chat_rate=0, clock=clock)
    slow.note_send(1)
    assert slow.global_delay() == pytest.approx(2.0)  # one send per two seconds
    margin = Pacer(global_rate=1, per_chat_rate=1, clock=clock, margin=0.05)
    margin.note_send(1)
    assert (margin.global_delay(), margin.chat_delay(1)) == pytest.approx((1.05, 1.05))
    free = Pacer(global_rate=0, per_chat_rate=0, clock=clock)
    for chat in range(100):
        assert free.global_delay() == 0
        free.note_send(chat)
    assert free.chat_delay(1) == 0
