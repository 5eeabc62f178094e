"""Quiet hours: when non-urgent pushes wait (pure: no database, no Telegram).

The window is given in local wall-clock times (WIB by default, ``QUIET_HOURS_START`` /
``QUIET_HOURS_END``, 21:00–06:00): from ``start`` included to ``end`` excluded. When
``start > end`` the window crosses midnight (21:00 → 06:00 the next morning); when
``start == end`` there are no quiet hours at all. Moments are aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def _zone(tz: dt.tzinfo | str) -> dt.tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _local(moment_utc: dt.datetime, tz: dt.tzinfo | str) -> dt.datetime:
    if moment_utc.tzinfo is None:
        raise ValueError("naive datetime: give an aware UTC moment")
    return moment_utc.astimezone(_zone(tz))


def _inside(clock: dt.time, start: dt.time, end: dt.time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def in_quiet_hours(
    moment_utc: dt.datetime, tz: dt.tzinfo | str, start: dt.time, end: dt.time
) -> bool:
    """Whether ``moment_utc`` falls in the quiet window (``start`` ≤ local time < ``end``)."""
    local = _local(moment_utc, tz)
    return _inside(local.time().replace(tzinfo=None), start, end)


def quiet_hours_end_after(
    moment_utc: dt.datetime, tz: dt.tzinfo | str, start: dt.time, end: dt.time
) -> dt.datetime:
    """The UTC moment the quiet window holding ``moment_utc`` ends (the next local ``end``).

    Outside quiet hours (or with none) it is ``moment_utc`` itself: nothing has to wait.
    """
    local = _local(moment_utc, tz)
    clock = local.time().replace(tzinfo=None)
    if not _inside(clock, start, end):
        return moment_utc
    day = local.date()
    if start > end and clock >= start:  # evening part of a window crossing midnight
        day += dt.timedelta(days=1)
    ends = dt.datetime.combine(day, end, tzinfo=_zone(tz))
    return ends.astimezone(dt.UTC)


def last_quiet_end(
    moment_utc: dt.datetime, tz: dt.tzinfo | str, start: dt.time, end: dt.time
) -> dt.datetime | None:
    """The UTC moment the last quiet window before ``moment_utc`` ended (``None`` without
    quiet hours): non-urgent messages queued in the night are due from then, not before."""
    if start == end:
        return None
    local = _local(moment_utc, tz)
    ended = dt.datetime.combine(local.date(), end, tzinfo=_zone(tz))
    if ended > local:
        ended -= dt.timedelta(days=1)
    return ended.astimezone(dt.UTC)
