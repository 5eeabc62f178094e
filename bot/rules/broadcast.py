"""Pure rules of HR announcements: the progress bar, the time left, when one may be scheduled.

Decisions (see README, "Announcements"):

* A scheduled time must be at least :data:`MIN_LEAD` in the future and at most
  :data:`MAX_AHEAD` ahead, and outside the quiet hours (messages that are not urgent are
  held during them, so a time inside would not be kept).
* The time left is the messages still waiting divided by the rate seen so far (messages
  finished per second since the first went out); before anything went out, the configured
  send rate.
"""

from __future__ import annotations

import datetime as dt
import enum
import math

from bot.rules.quiet import in_quiet_hours

MIN_LEAD = dt.timedelta(minutes=2)
MAX_AHEAD = dt.timedelta(days=60)
BAR_WIDTH = 10
FILLED, EMPTY = "▓", "░"


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``▓▓▓▓░░░░░░ 40%``: ``done`` of ``total`` (100% for an empty total)."""
    share = 1.0 if total <= 0 else min(1.0, max(0.0, done / total))
    filled = math.floor(share * width + 1e-9)
    return f"{FILLED * filled}{EMPTY * (width - filled)} {math.floor(share * 100 + 1e-9)}%"


def seconds_left(
    waiting: int, finished: int, elapsed_seconds: float, fallback_rate: float
) -> float:
    """Estimated seconds until ``waiting`` messages are out, at the rate seen so far
    (``finished`` in ``elapsed_seconds``), or ``fallback_rate`` per second before that."""
    if waiting <= 0:
        return 0.0
    rate = finished / elapsed_seconds if finished > 0 and elapsed_seconds >= 1 else 0.0
    if rate <= 0:
        rate = fallback_rate
    return waiting / rate if rate > 0 else math.inf


class ScheduleProblem(enum.Enum):
    TOO_SOON = "too_soon"
    TOO_FAR = "too_far"
    QUIET_HOURS = "quiet_hours"


def schedule_problem(
    moment: dt.datetime,
    now: dt.datetime,
    *,
    timezone: str,
    quiet_start: dt.time | None,
    quiet_end: dt.time | None,
) -> ScheduleProblem | None:
    """Why ``moment`` (aware) cannot be the time an announcement goes out, or ``None``."""
    if moment < now + MIN_LEAD:
        return ScheduleProblem.TOO_SOON
    if moment > now + MAX_AHEAD:
        return ScheduleProblem.TOO_FAR
    if (
        quiet_start is not None
        and quiet_end is not None
        and quiet_start != quiet_end
        and in_quiet_hours(moment, timezone, quiet_start, quiet_end)
    ):
        return ScheduleProblem.QUIET_HOURS
    return None
