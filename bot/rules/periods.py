"""Monthly SKP evaluation periods and the steps of one evaluation (pure: no database).

Period *M* (the work of month M) opens on day ``opens_day`` of M (default the 1st) and closes
at the end of its deadline, the ``deadline_working_day``-th working day of month M+1 (default
the 5th; weekends, national holidays and HR's days off do not count). In the first days of a
month two periods are open: the older one (closing first) is the one supervisors are shown,
until its deadline has passed. After the deadline a period is locked; HR can reopen it for one
supervisor or for all until a given day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from bot.rules.skp import BERAKHLAK
from bot.rules.workdays import is_working_day, nth_working_day

# The guided evaluation, in order: Hasil Kerja, the seven BerAKHLAK values, the derived
# Perilaku Kerja (shown), the feedback, the summary with Kirim.
WORK = "work"
BEHAVIOUR = "behaviour"
FEEDBACK = "feedback"
SUMMARY = "summary"
EVALUATION_STEPS: tuple[str, ...] = (WORK, *BERAKHLAK, BEHAVIOUR, FEEDBACK, SUMMARY)
FEEDBACK_MAX = 1000
RECENTLY_MOVED_DAYS = 92  # "baru dimutasi": joined the unit in the last three months


@dataclass(frozen=True, slots=True)
class PeriodWindow:
    year: int
    month: int
    opens_on: dt.date
    closes_on: dt.date  # the deadline: the last day evaluations are taken

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def contains(self, day: dt.date) -> bool:
        return self.opens_on <= day <= self.closes_on


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def period_window(
    year: int,
    month: int,
    *,
    opens_day: int = 1,
    deadline_working_day: int = 5,
    days_off: Collection[dt.date] = frozenset(),
) -> PeriodWindow:
    """When period ``year``-``month`` takes evaluations."""
    next_year, next_month = add_months(year, month, 1)
    closes_on = nth_working_day(dt.date(next_year, next_month, 1), deadline_working_day, days_off)
    return PeriodWindow(year, month, dt.date(year, month, opens_day), closes_on)


def open_windows(
    today: dt.date,
    *,
    opens_day: int = 1,
    deadline_working_day: int = 5,
    days_off: Collection[dt.date] = frozenset(),
) -> list[PeriodWindow]:
    """The periods taking evaluations on ``today``, the one closing first first."""
    windows = [
        period_window(
            *add_months(today.year, today.month, delta),
            opens_day=opens_day,
            deadline_working_day=deadline_working_day,
            days_off=days_off,
        )
        for delta in (-1, 0)
    ]
    return [window for window in windows if window.contains(today)]


def working_days_before(
    deadline: dt.date, count: int, days_off: Collection[dt.date] = frozenset()
) -> dt.date:
    """The working day ``count`` working days before ``deadline`` (1: the one just before)."""
    day, found = deadline, 0
    while found < count:
        day -= dt.timedelta(days=1)
        if is_working_day(day, days_off):
            found += 1
    return day


def next_step(step: str) -> str:
    """The step after ``step`` (the summary is last)."""
    index = EVALUATION_STEPS.index(step)
    return EVALUATION_STEPS[min(index + 1, len(EVALUATION_STEPS) - 1)]


def previous_step(step: str) -> str | None:
    """The step before ``step``; ``None`` for the first."""
    index = EVALUATION_STEPS.index(step)
    return EVALUATION_STEPS[index - 1] if index > 0 else None


def first_unanswered(work_result: str | None, ratings: dict[str, str]) -> str:
    """Where an evaluation with these answers continues."""
    if work_result is None:
        return WORK
    for value in BERAKHLAK:
        if value not in ratings:
            return value
    return BEHAVIOUR
