"""Evaluation periods and the steps of one evaluation (bot.rules.periods): pure."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.rules.periods import (
    BEHAVIOUR,
    EVALUATION_STEPS,
    SUMMARY,
    WORK,
    add_months,
    first_unanswered,
    next_step,
    open_windows,
    period_window,
    previous_step,
    working_days_before,
)
from bot.rules.skp import BERAKHLAK


def test_a_period_closes_on_the_fifth_working_day_of_the_next_month():
    november = period_window(2026, 11)
    assert november.opens_on == dt.date(2026, 11, 1)
    # 1–4 December 2026 are Tuesday to Friday; Monday 7 December is the fifth working day.
    assert november.closes_on == dt.date(2026, 12, 7)
    assert november.key == "2026-11"


def test_holidays_and_days_off_push_the_deadline():
    # 1 January is a national holiday; HR's day off on 4 January pushes it again.
    plain = period_window(2026, 12)
    with_day_off = period_window(2026, 12, days_off={dt.date(2027, 1, 4)})
    assert with_day_off.closes_on > plain.closes_on
    assert plain.closes_on.weekday() < 5


def test_configurable_opening_day_and_deadline():
    window = period_window(2026, 11, opens_day=25, deadline_working_day=3)
    assert window.opens_on == dt.date(2026, 11, 25)
    assert window.closes_on == dt.date(2026, 12, 3)


def test_the_older_period_comes_first_while_both_are_open():
    both = open_windows(dt.date(2026, 12, 3))
    assert [(w.year, w.month) for w in both] == [(2026, 11), (2026, 12)]
    after_deadline = open_windows(dt.date(2026, 12, 8))
    assert [(w.year, w.month) for w in after_deadline] == [(2026, 12)]
    # Opening on the 25th: on 20 November October's deadline has passed, November is not open.
    assert open_windows(dt.date(2026, 11, 20), opens_day=25) == []


def test_the_deadline_day_itself_is_open():
    assert [w.month for w in open_windows(dt.date(2026, 12, 7))] == [11, 12]


def test_working_days_before_the_deadline_skip_weekends():
    deadline = dt.date(2026, 12, 7)  # a Monday
    assert working_days_before(deadline, 1) == dt.date(2026, 12, 4)  # Friday
    assert working_days_before(deadline, 3) == dt.date(2026, 12, 2)


@pytest.mark.parametrize(
    ("year", "month", "months", "expected"),
    [(2026, 12, 1, (2027, 1)), (2026, 1, -1, (2025, 12)), (2026, 6, 14, (2027, 8))],
)
def test_month_arithmetic(year, month, months, expected):
    assert add_months(year, month, months) == expected


def test_the_steps_run_from_work_results_to_the_summary():
    assert EVALUATION_STEPS[0] == WORK and EVALUATION_STEPS[-1] == SUMMARY
    assert EVALUATION_STEPS[1:8] == BERAKHLAK
    assert next_step(WORK) == BERAKHLAK[0]
    assert next_step(BERAKHLAK[-1]) == BEHAVIOUR
    assert next_step(SUMMARY) == SUMMARY
    assert previous_step(WORK) is None
    assert previous_step(BERAKHLAK[0]) == WORK


def test_an_interrupted_evaluation_continues_at_the_first_unanswered_step():
    assert first_unanswered(None, {}) == WORK
    assert first_unanswered("sesuai", {"berorientasi_pelayanan": "sesuai"}) == "akuntabel"
    assert first_unanswered("sesuai", dict.fromkeys(BERAKHLAK, "sesuai")) == BEHAVIOUR
