"""When a training reminder is due, and whether it may skip quiet hours (pure rules).

Reminders are set at offsets before the start (``TRAINING_REMINDERS``, default H-7, H-1 and
2 hours: ``7d,1d,2h``). The scheduler ticks every few seconds and asks, for each event and
participant, which reminder is due *now*; the database (idempotency keys in the outbox)
remembers which were already queued, so this module needs no state.

Due
    A reminder is *passed* once its time (``starts_at - offset``) is ``<= now``. Of the passed
    reminders only the **latest** (the smallest offset) is due: after an outage that spanned
    the H-7 and H-1 times, the participant gets one message ("starts in 20 hours"), not
    H-7, H-1 and maybe 2h at once. The earlier ones are *superseded*: never sent later. A
    reminder whose time passed while the bot was down is therefore still sent, late, as long
    as the event has not begun and no later reminder is due; a participant added three days
    before a session gets the H-7 reminder then (its text says how long is left).

Dropped
    Once the event has begun (``starts_at <= now``) nothing is due. The last reminder (the
    smallest offset) is *dropped* if it was never queued; the tick that first sees the event
    begun (it began after the previous tick, ``last_tick``; after a restart, within the largest
    offset) reports it, so the service can log it once (training id and count, no names).

Urgent (exempt from quiet hours)
    A reminder is urgent when holding it until quiet hours end would deliver it after the
    event has started or less than :data:`URGENT_MARGIN` (one hour) before it. The hold is the
    current quiet window; one queued in the :data:`QUIET_LOOKAHEAD` (15 minutes) before quiet
    hours start is judged as if queued in them, because it may still wait in the outbox when
    they start. Outside quiet hours this means: urgent when the event starts within the hour
    (urgent rows are also claimed first). Example with quiet hours 21:00–06:00 WIB: a
    training at 07:30 WIB, its 2-hour reminder at 05:30 — held, it would go at 06:00, 1 h 30
    before the start: not urgent; a training at 06:30, reminder at 04:30 — it would go at
    06:00, 30 min before: urgent, sent at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from bot.rules.quiet import in_quiet_hours, quiet_hours_end_after

URGENT_MARGIN = dt.timedelta(hours=1)
QUIET_LOOKAHEAD = dt.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class ReminderPlan:
    """What to do for one event at ``now``."""

    due: dt.timedelta | None  # the offset to send now (unless it was queued before)
    superseded: tuple[dt.timedelta, ...]  # passed earlier ones, never sent late
    dropped: dt.timedelta | None  # the last reminder of an event that began since last tick


def _offsets(offsets: Iterable[dt.timedelta]) -> list[dt.timedelta]:
    ordered = sorted(set(offsets), reverse=True)
    if not ordered or ordered[-1] <= dt.timedelta(0):
        raise ValueError("reminder offsets must be positive and at least one")
    return ordered


def reminder_time(starts_at: dt.datetime, offset: dt.timedelta) -> dt.datetime:
    return starts_at - offset


def window_start(
    now: dt.datetime, offsets: Iterable[dt.timedelta], last_tick: dt.datetime | None
) -> dt.datetime:
    """Events that began after this moment are checked for a dropped reminder at ``now``."""
    if last_tick is not None and last_tick <= now:
        return last_tick
    return now - _offsets(offsets)[0]


def plan_reminders(
    starts_at: dt.datetime,
    offsets: Iterable[dt.timedelta],
    now: dt.datetime,
    last_tick: dt.datetime | None = None,
) -> ReminderPlan:
    """The reminder due now for an event starting at ``starts_at`` (see the module doc)."""
    ordered = _offsets(offsets)
    passed = [offset for offset in ordered if reminder_time(starts_at, offset) <= now]
    if not passed:
        return ReminderPlan(None, (), None)
    latest, earlier = passed[-1], tuple(passed[:-1])
    if starts_at > now:
        return ReminderPlan(latest, earlier, None)
    began_since_last_tick = starts_at > window_start(now, ordered, last_tick)
    return ReminderPlan(None, earlier, latest if began_since_last_tick else None)


def due_offset(
    starts_at: dt.datetime, offsets: Iterable[dt.timedelta], now: dt.datetime
) -> dt.timedelta | None:
    """The offset of the reminder due now, or ``None`` (none passed, or the event began)."""
    return plan_reminders(starts_at, offsets, now).due


def is_urgent(
    starts_at: dt.datetime,
    now: dt.datetime,
    tz: dt.tzinfo | str,
    quiet_start: dt.time,
    quiet_end: dt.time,
    *,
    margin: dt.timedelta = URGENT_MARGIN,
    lookahead: dt.timedelta = QUIET_LOOKAHEAD,
) -> bool:
    """Whether a reminder queued at ``now`` must not wait for quiet hours to end."""
    held_until = now
    for probe in (now, now + lookahead):
        if in_quiet_hours(probe, tz, quiet_start, quiet_end):
            held_until = quiet_hours_end_after(probe, tz, quiet_start, quiet_end)
            break
    return held_until > starts_at - margin
