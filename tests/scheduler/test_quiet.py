"""Quiet hours across midnight, their edges, and when the current window ends."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.rules.quiet import in_quiet_hours, quiet_hours_end_after
from tests.scheduler.conftest import WIB, wib

START, END = dt.time(21, 0), dt.time(6, 0)


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [
        (20, 59, False),
        (21, 0, True),
        (23, 59, True),
        (0, 0, True),
        (5, 59, True),
        (6, 0, False),
        (12, 0, False),
    ],
)
def test_window_crossing_midnight(hour, minute, quiet):
    moment = wib(2026, 3, 2, hour, minute)
    assert in_quiet_hours(moment, "Asia/Jakarta", START, END) is quiet
    assert in_quiet_hours(moment, WIB, START, END) is quiet


def test_the_window_is_local_time_not_utc():
    # 14:00 UTC is 21:00 WIB.
    moment = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
    assert in_quiet_hours(moment, "Asia/Jakarta", START, END)
    assert not in_quiet_hours(moment, "UTC", START, END)


def test_end_of_the_window():
    evening = wib(2026, 3, 2, 22, 0)
    assert quiet_hours_end_after(evening, "Asia/Jakarta", START, END) == wib(2026, 3, 3, 6, 0)
    assert quiet_hours_end_after(evening, "Asia/Jakarta", START, END) == dt.datetime(
        2026, 3, 2, 23, 0, tzinfo=dt.UTC
    )
    night = wib(2026, 3, 3, 3, 0)
    assert quiet_hours_end_after(night, "Asia/Jakarta", START, END) == wib(2026, 3, 3, 6, 0)
    # The last day of a month: the window ends on the 1st.
    last = wib(2026, 3, 31, 21, 0)
    assert quiet_hours_end_after(last, "Asia/Jakarta", START, END) == wib(2026, 4, 1, 6, 0)
    day = wib(2026, 3, 3, 10, 0)
    assert quiet_hours_end_after(day, "Asia/Jakarta", START, END) == day


def test_a_window_within_one_day_and_none_at_all():
    lunch = (dt.time(12, 0), dt.time(13, 0))
    assert in_quiet_hours(wib(2026, 3, 2, 12, 30), "Asia/Jakarta", *lunch)
    assert not in_quiet_hours(wib(2026, 3, 2, 13, 0), "Asia/Jakarta", *lunch)
    assert not in_quiet_hours(wib(2026, 3, 2, 11, 59), "Asia/Jakarta", *lunch)
    assert quiet_hours_end_after(wib(2026, 3, 2, 12, 30), "Asia/Jakarta", *lunch) == wib(
        2026, 3, 2, 13, 0
    )
    same = (dt.time(21, 0), dt.time(21, 0))
    assert not in_quiet_hours(wib(2026, 3, 2, 21, 0), "Asia/Jakarta", *same)
    assert not in_quiet_hours(wib(2026, 3, 2, 3, 0), "Asia/Jakarta", *same)


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError):
        in_quiet_hours(dt.datetime(2026, 3, 2, 22, 0), "Asia/Jakarta", START, END)
