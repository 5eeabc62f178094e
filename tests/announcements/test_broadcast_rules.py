"""Layer 1: the pure rules of announcements (``bot.rules.broadcast``)."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest

from bot.rules.broadcast import (
    MAX_AHEAD,
    MIN_LEAD,
    ScheduleProblem,
    progress_bar,
    schedule_problem,
    seconds_left,
)

WIB = ZoneInfo("Asia/Jakarta")
QUIET = {"timezone": "Asia/Jakarta", "quiet_start": dt.time(21, 0), "quiet_end": dt.time(6, 0)}


def wib(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """A wall-clock time in December 2026 in Bukittinggi, as an aware UTC datetime."""
    return dt.datetime(2026, 12, day, hour, minute, second, tzinfo=WIB).astimezone(dt.UTC)


NOW = wib(7, 10, 0)  # Monday 7 December 2026, 10.00 WIB


# --------------------------------------------------------------------------- progress_bar
@pytest.mark.parametrize(
    ("done", "total", "expected"),
    [
        (0, 10, "░░░░░░░░░░ 0%"),
        (4, 10, "▓▓▓▓░░░░░░ 40%"),
        (1, 3, "▓▓▓░░░░░░░ 33%"),  # floored, never rounded up
        (2, 3, "▓▓▓▓▓▓░░░░ 66%"),
        (999, 1000, "▓▓▓▓▓▓▓▓▓░ 99%"),  # not 100% before everything is handled
        (10, 10, "▓▓▓▓▓▓▓▓▓▓ 100%"),
        (0, 0, "▓▓▓▓▓▓▓▓▓▓ 100%"),  # nothing to send: complete
        (12, 10, "▓▓▓▓▓▓▓▓▓▓ 100%"),  # done > total: capped
        (-3, 10, "░░░░░░░░░░ 0%"),
    ],
)
def test_progress_bar(done, total, expected):
    assert progress_bar(done, total) == expected


def test_progress_bar_width():
    assert progress_bar(1, 2, width=4) == "▓▓░░ 50%"
    assert progress_bar(3, 4, width=20) == "▓" * 15 + "░" * 5 + " 75%"


# --------------------------------------------------------------------------- seconds_left
def test_seconds_left_uses_the_rate_seen_so_far():
    # 50 finished in 10 s: 5 per second; 100 waiting take 20 s (not the fallback's 4 s).
    assert seconds_left(100, 50, 10.0, fallback_rate=25.0) == pytest.approx(20.0)


def test_seconds_left_falls_back_before_anything_went_out():
    assert seconds_left(50, 0, 0.0, fallback_rate=25.0) == pytest.approx(2.0)
    # Something finished, but less than a second ago: no rate yet either.
    assert seconds_left(50, 3, 0.5, fallback_rate=25.0) == pytest.approx(2.0)


def test_seconds_left_is_zero_when_nothing_waits():
    assert seconds_left(0, 0, 0.0, fallback_rate=0.0) == 0.0
    assert seconds_left(0, 1800, 90.0, fallback_rate=25.0) == 0.0


def test_seconds_left_without_any_rate_is_infinite():
    assert math.isinf(seconds_left(10, 0, 0.0, fallback_rate=0.0))


# --------------------------------------------------------------------------- schedule_problem
def problem(moment: dt.datetime, now: dt.datetime = NOW, **quiet) -> ScheduleProblem | None:
    return schedule_problem(moment, now, **(QUIET | quiet))


def test_a_fine_time():
    assert problem(wib(8, 8, 0)) is None


@pytest.mark.parametrize(
    "moment",
    [
        NOW - dt.timedelta(days=1),  # yesterday
        NOW - dt.timedelta(minutes=1),
        NOW,
        NOW + dt.timedelta(minutes=1),
        NOW + MIN_LEAD - dt.timedelta(seconds=1),
    ],
)
def test_too_soon(moment):
    assert problem(moment) is ScheduleProblem.TOO_SOON


def test_exactly_the_lead_is_accepted():
    assert MIN_LEAD == dt.timedelta(minutes=2)
    assert problem(NOW + MIN_LEAD) is None


def test_too_far():
    assert MAX_AHEAD == dt.timedelta(days=60)
    assert problem(NOW + MAX_AHEAD) is None  # 60 days ahead, 10.00 WIB
    assert problem(NOW + MAX_AHEAD + dt.timedelta(minutes=1)) is ScheduleProblem.TOO_FAR
    assert problem(NOW + dt.timedelta(days=365)) is ScheduleProblem.TOO_FAR


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (wib(7, 20, 59), None),
        (wib(7, 21, 0), ScheduleProblem.QUIET_HOURS),  # the start is inside
        (wib(7, 23, 30), ScheduleProblem.QUIET_HOURS),
        (wib(8, 0, 0), ScheduleProblem.QUIET_HOURS),  # after midnight too
        (wib(8, 3, 15), ScheduleProblem.QUIET_HOURS),
        (wib(8, 5, 59, 59), ScheduleProblem.QUIET_HOURS),
        (wib(8, 6, 0), None),  # the end is outside
        (wib(8, 12, 0), None),
    ],
)
def test_quiet_hours_cross_midnight_in_wib(moment, expected):
    assert problem(moment) is expected


def test_quiet_hours_are_judged_in_the_configured_zone():
    # 22.00 WIB is 15.00 UTC: quiet in Jakarta, not in UTC.
    moment = wib(7, 22, 0)
    assert problem(moment) is ScheduleProblem.QUIET_HOURS
    assert problem(moment, timezone="UTC") is None


def test_quiet_hours_off():
    late = wib(7, 23, 0)
    same = dt.time(21, 0)
    assert problem(late, quiet_start=same, quiet_end=same) is None
    assert problem(late, quiet_start=None, quiet_end=None) is None
    assert problem(late, quiet_start=dt.time(21, 0), quiet_end=None) is None


def test_too_soon_wins_over_quiet_hours():
    now = wib(7, 20, 59)
    assert problem(wib(7, 21, 0), now=now) is ScheduleProblem.TOO_SOON
    assert problem(wib(7, 21, 1), now=now) is ScheduleProblem.QUIET_HOURS
