"""Working days of the Bukittinggi civil service (pure: no database, no Telegram).

A working day is Monday to Friday, not an Indonesian national holiday and not one of the
extra days off HR declares (cuti bersama, local holidays: ``storage.repositories.days_off``).

National holidays come from the ``holidays`` package (``holidays.country_holidays("ID")``,
category ``public``: Tahun Baru, Idul Fitri, 17 Agustus, Natal …). The package also knows
the government's cuti bersama (category ``government``), but those are decided each year by
a joint ministerial decree and HR imports the ones that apply, so they are not assumed here.
Islamic holidays of future years are the package's estimates; HR can add a corrected day off.

Used for reminders tied to working days (the evaluation deadline, "the 5th working day of
the next month": ``nth_working_day(first_of_next_month, 5, extra)``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from functools import lru_cache

import holidays

COUNTRY = "ID"
# Searching further than this for a working day means the data is wrong (a year of days off).
_MAX_SEARCH_DAYS = 366


@lru_cache(maxsize=32)
def _national_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays(COUNTRY, years=year))


def national_holiday_name(day: dt.date, language: str = "id") -> str | None:
    """The national holiday on ``day`` in ``language`` ("id" or "en"), or ``None``."""
    if day not in _national_holidays(day.year):
        return None
    names = holidays.country_holidays(
        COUNTRY, years=day.year, language="id" if language == "id" else "en_US"
    )
    return names.get(day)


def is_national_holiday(day: dt.date) -> bool:
    return day in _national_holidays(day.year)


def is_working_day(day: dt.date, extra_days_off: Collection[dt.date] = frozenset()) -> bool:
    """Monday–Friday, not a national holiday, not an extra day off."""
    return day.weekday() < 5 and day not in extra_days_off and not is_national_holiday(day)


def nth_working_day(
    start: dt.date, n: int, extra_days_off: Collection[dt.date] = frozenset()
) -> dt.date:
    """The ``n``-th working day on or after ``start`` (``n = 1``: ``start`` itself if it is one).

    The 5th working day of March 2026 is ``nth_working_day(date(2026, 3, 1), 5, extra)``.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    day, found = start, 0
    for _ in range(_MAX_SEARCH_DAYS * n):
        if is_working_day(day, extra_days_off):
            found += 1
            if found == n:
                return day
        day += dt.timedelta(days=1)
    raise ValueError(f"no {n} working days within a year after {start.isoformat()}")


def next_working_day(day: dt.date, extra_days_off: Collection[dt.date] = frozenset()) -> dt.date:
    """The first working day strictly after ``day``."""
    return nth_working_day(day + dt.timedelta(days=1), 1, extra_days_off)
