"""Working days: weekends, Indonesian national holidays (the holidays package), HR's days off."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.rules.workdays import (
    is_national_holiday,
    is_working_day,
    national_holiday_name,
    next_working_day,
    nth_working_day,
)

D = dt.date


def test_weekdays_work_weekends_do_not():
    assert is_working_day(D(2026, 3, 2))  # Monday
    assert is_working_day(D(2026, 3, 6))  # Friday
    assert not is_working_day(D(2026, 3, 7))  # Saturday
    assert not is_working_day(D(2026, 3, 8))  # Sunday


def test_national_holidays_of_2026_are_not_working_days():
    independence = D(2026, 8, 17)  # a Monday
    assert independence.weekday() == 0
    assert is_national_holiday(independence)
    assert not is_working_day(independence)
    assert national_holiday_name(independence) == "Hari Kemerdekaan Republik Indonesia"
    assert national_holiday_name(independence, "en") == "Independence Day"
    # Idul Adha 1447 H (a Wednesday) and Nyepi (a Thursday), as the package has them.
    assert not is_working_day(D(2026, 5, 27))
    assert not is_working_day(D(2026, 3, 19))
    assert national_holiday_name(D(2026, 3, 18)) is None


def test_an_extra_day_off_is_not_a_working_day():
    cuti_bersama = D(2026, 3, 20)  # Friday after Nyepi: not a national holiday
    assert is_working_day(cuti_bersama)
    assert not is_working_day(cuti_bersama, {cuti_bersama})


def test_nth_working_day_counts_the_start_and_crosses_a_month_end():
    assert nth_working_day(D(2026, 7, 30), 1) == D(2026, 7, 30)  # Thursday
    assert nth_working_day(D(2026, 7, 30), 2) == D(2026, 7, 31)  # last day of July, Friday
    assert nth_working_day(D(2026, 7, 30), 3) == D(2026, 8, 3)  # over the weekend and month end
    # The evaluation deadline: the 5th working day of the next month.
    assert nth_working_day(D(2026, 9, 1), 5) == D(2026, 9, 7)


def test_nth_working_day_from_a_last_day_of_month_on_a_weekend():
    assert D(2026, 1, 31).weekday() == 5
    assert nth_working_day(D(2026, 1, 31), 1) == D(2026, 2, 2)
    # The 5th working day of August 2026 skips 17 August; an extra day off pushes it further.
    assert nth_working_day(D(2026, 8, 13), 5) == D(2026, 8, 20)
    assert nth_working_day(D(2026, 8, 13), 5, {D(2026, 8, 18)}) == D(2026, 8, 21)


def test_next_working_day_is_strictly_after():
    assert next_working_day(D(2026, 3, 2)) == D(2026, 3, 3)
    assert next_working_day(D(2026, 1, 30)) == D(2026, 2, 2)  # Friday, end of January
    # Nyepi on Thursday 19 March 2026; HR's cuti bersama on the 20th and the 23rd.
    assert next_working_day(D(2026, 3, 18)) == D(2026, 3, 20)
    assert next_working_day(D(2026, 3, 18), {D(2026, 3, 20), D(2026, 3, 23)}) == D(2026, 3, 24)
    # 31 December 2026 (Thursday): 1 January 2027 is New Year's Day, then the weekend.
    assert next_working_day(D(2026, 12, 31)) == D(2027, 1, 4)


def test_n_must_be_positive():
    with pytest.raises(ValueError):
        nth_working_day(D(2026, 3, 2), 0)
