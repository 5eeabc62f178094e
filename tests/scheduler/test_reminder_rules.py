"""Which reminder is due, with the host in UTC or elsewhere: WIB wall-clock times decide."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from bot.rules.reminders import due_offset, is_urgent, plan_reminders
from tests.scheduler.conftest import wib

H7, H1, H2 = dt.timedelta(days=7), dt.timedelta(days=1), dt.timedelta(hours=2)
OFFSETS = [H7, H1, H2]
# Monday 9 March 2026, 09:00 WIB (02:00 UTC).
START = wib(2026, 3, 9, 9, 0)
SECOND = dt.timedelta(seconds=1)


@pytest.fixture(autouse=True, params=["UTC", "America/Los_Angeles", "Asia/Jakarta"])
def host_zone(request, monkeypatch):
    """The process time zone must not matter."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_start_is_stored_in_utc():
    assert START == dt.datetime(2026, 3, 9, 2, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (wib(2026, 3, 2, 8, 59) + 59 * SECOND, None),
        (wib(2026, 3, 2, 9, 0), H7),  # H-7 at 09:00 WIB, not 09:00 UTC
        (wib(2026, 3, 5, 12, 0), H7),
        (wib(2026, 3, 8, 9, 0), H1),
        (wib(2026, 3, 9, 6, 59), H1),
        (wib(2026, 3, 9, 7, 0), H2),
        (wib(2026, 3, 9, 8, 59), H2),
        (wib(2026, 3, 9, 9, 0), None),  # it has begun
    ],
)
def test_the_latest_passed_reminder_is_due(now, due):
    assert due_offset(START, OFFSETS, now) == due


def test_after_a_long_outage_only_the_latest_is_sent():
    # Down from before H-7 until 20 hours before the start: H-7 and H-1 both passed.
    plan = plan_reminders(START, OFFSETS, wib(2026, 3, 8, 13, 0), last_tick=wib(2026, 3, 1))
    assert plan.due == H1
    assert plan.superseded == (H7,)
    assert plan.dropped is None
    # Down across all three: one message, the 2-hour one, 30 minutes before.
    plan = plan_reminders(START, OFFSETS, wib(2026, 3, 9, 8, 30))
    assert (plan.due, plan.superseded) == (H2, (H7, H1))


def test_an_event_that_began_drops_its_reminder_once():
    just_after = wib(2026, 3, 9, 9, 1)
    plan = plan_reminders(START, OFFSETS, just_after, last_tick=wib(2026, 3, 9, 8, 59))
    assert plan.due is None
    assert plan.dropped == H2
    # The next tick has nothing more to report.
    later = plan_reminders(START, OFFSETS, wib(2026, 3, 9, 9, 2), last_tick=just_after)
    assert later.due is None and later.dropped is None
    # After a restart (no last tick) events that began within the largest offset are checked.
    restarted = plan_reminders(START, OFFSETS, wib(2026, 3, 10, 9, 0))
    assert restarted.dropped == H2
    assert plan_reminders(START, OFFSETS, wib(2026, 3, 17, 9, 0)).dropped is None


def test_no_reminder_passed_yet():
    plan = plan_reminders(START, OFFSETS, wib(2026, 2, 1))
    assert (plan.due, plan.superseded, plan.dropped) == (None, (), None)


def test_offsets_must_be_positive():
    with pytest.raises(ValueError):
        plan_reminders(START, [], wib(2026, 3, 1))
    with pytest.raises(ValueError):
        plan_reminders(START, [dt.timedelta(0)], wib(2026, 3, 1))


QUIET = ("Asia/Jakarta", dt.time(21, 0), dt.time(6, 0))


def test_urgent_when_holding_it_would_leave_less_than_an_hour():
    # Training at 06:30 WIB: its 2-hour reminder at 04:30 would wait until 06:00.
    early = wib(2026, 3, 9, 6, 30)
    assert is_urgent(early, wib(2026, 3, 9, 4, 30), *QUIET)
    # Training at 07:30: held until 06:00 it still comes 1 h 30 before: not urgent.
    assert not is_urgent(wib(2026, 3, 9, 7, 30), wib(2026, 3, 9, 5, 30), *QUIET)
    # Exactly one hour left after the hold: still in time, not urgent.
    assert not is_urgent(wib(2026, 3, 9, 7, 0), wib(2026, 3, 9, 5, 0), *QUIET)
    # An evening training at 22:00: its 2-hour reminder at 20:00 is outside quiet hours.
    assert not is_urgent(wib(2026, 3, 9, 22, 0), wib(2026, 3, 9, 20, 0), *QUIET)
    # H-1 reminder at 23:00 for a 23:00 training the next day: plenty of time after 06:00.
    assert not is_urgent(wib(2026, 3, 10, 23, 0), wib(2026, 3, 9, 23, 0), *QUIET)


def test_queued_just_before_quiet_hours_counts_as_held():
    # 20:50 WIB, training at 23:00: it may still wait when quiet hours start at 21:00.
    assert is_urgent(wib(2026, 3, 9, 23, 0), wib(2026, 3, 9, 20, 50), *QUIET)
    # 20:30 WIB: more than the 15-minute look-ahead before quiet hours.
    assert not is_urgent(wib(2026, 3, 9, 23, 0), wib(2026, 3, 9, 20, 30), *QUIET)


def test_outside_quiet_hours_urgent_means_within_the_hour():
    assert is_urgent(wib(2026, 3, 9, 14, 0), wib(2026, 3, 9, 13, 15), *QUIET)
    assert not is_urgent(wib(2026, 3, 9, 14, 0), wib(2026, 3, 9, 12, 0), *QUIET)
    no_quiet = ("Asia/Jakarta", dt.time(0, 0), dt.time(0, 0))
    assert not is_urgent(wib(2026, 3, 9, 6, 30), wib(2026, 3, 9, 4, 30), *no_quiet)
