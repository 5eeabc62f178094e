"""Mutation planning rules (bot.rules.talent): pure."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.rules.skp import Predicate
from bot.rules.talent import (
    BOXES,
    Eligibility,
    Level,
    anniversary,
    eligibility,
    full_years,
    parse_potential,
    performance_level,
    talent_box,
)

B, SB, BP, K = Predicate.BAIK, Predicate.SANGAT_BAIK, Predicate.BUTUH_PERBAIKAN, Predicate.KURANG


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2024, 3, 14), Eligibility.NOT_YET),  # the day before two years
        (dt.date(2024, 3, 15), Eligibility.ELIGIBLE),  # exactly two years
        (dt.date(2027, 3, 15), Eligibility.ELIGIBLE),  # exactly five years
        (dt.date(2027, 3, 16), Eligibility.DUE),  # five years and a day
    ],
)
def test_the_two_and_five_year_boundaries(today, expected):
    assert eligibility(dt.date(2022, 3, 15), today) is expected


def test_a_leap_day_appointment_completes_its_years_on_1_march():
    start = dt.date(2020, 2, 29)
    assert anniversary(start, 2) == dt.date(2022, 3, 1)
    assert anniversary(start, 4) == dt.date(2024, 2, 29)
    assert eligibility(start, dt.date(2022, 2, 28)) is Eligibility.NOT_YET
    assert eligibility(start, dt.date(2022, 3, 1)) is Eligibility.ELIGIBLE
    assert eligibility(start, dt.date(2025, 3, 1)) is Eligibility.ELIGIBLE
    assert eligibility(start, dt.date(2025, 3, 2)) is Eligibility.DUE
    assert full_years(start, dt.date(2021, 2, 28)) == 0
    assert full_years(start, dt.date(2021, 3, 1)) == 1


def test_full_years():
    assert full_years(dt.date(2020, 6, 1), dt.date(2026, 5, 31)) == 5
    assert full_years(dt.date(2020, 6, 1), dt.date(2026, 6, 1)) == 6
    assert full_years(dt.date(2027, 1, 1), dt.date(2026, 6, 1)) == 0


@pytest.mark.parametrize(
    ("predicates", "level"),
    [
        ([], None),
        ([SB, SB], None),  # two months: not enough data
        ([SB, SB, B], Level.TINGGI),  # three months is enough
        ([SB] * 6 + [B] * 6, Level.TINGGI),  # half the year Sangat Baik, none below Baik
        ([SB] * 11 + [BP], Level.MENENGAH),  # one month below Baik
        ([B] * 12, Level.MENENGAH),
        ([B] * 6 + [BP] * 6, Level.MENENGAH),  # half Baik or better
        ([B] * 5 + [BP] * 6 + [K], Level.RENDAH),  # fewer than half
        ([K, K, BP], Level.RENDAH),
    ],
)
def test_the_performance_level_from_0_2_3_and_12_months(predicates, level):
    assert performance_level(predicates) == level


def test_the_nine_boxes_are_numbered_from_low_low_to_high_high():
    assert sorted(BOXES.values()) == list(range(1, 10))
    assert talent_box(Level.RENDAH, Level.RENDAH) == 1
    assert talent_box(Level.TINGGI, Level.TINGGI) == 9
    assert talent_box(Level.MENENGAH, Level.MENENGAH) == 5


@pytest.mark.parametrize(
    ("text", "level"),
    [("Rendah", Level.RENDAH), (" menengah ", Level.MENENGAH), ("TINGGI", Level.TINGGI)],
)
def test_potential_as_hr_types_it(text, level):
    assert parse_potential(text) is level
    assert parse_potential("luar biasa") is None
