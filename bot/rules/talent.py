"""Mutation planning rules (pure): years in the current post, rotation eligibility, the
performance level from monthly evaluations, and the 3×3 talent box.

* Rotation (PP 11/2017 art. 190 as amended): a mutation after at least 2 and at most 5 years
  in a post. Under 2 full years: *belum dapat dimutasi*; from 2 up to and including 5 full
  years: *dapat dimutasi*; more than 5: *wajib dipertimbangkan*. Years are whole calendar
  years from the TMT of the post; someone appointed on 29 February completes a year on
  1 March of a common year (the full year has not passed on 28 February).
* Performance level (from the submitted monthly predicates of the last 12 months): fewer
  than 3 months: *belum cukup data*; **tinggi** when at least half are Sangat Baik and none
  is below Baik; **rendah** when fewer than half are Baik or better; else **menengah**.
* Talent box (PermenPAN-RB 3/2020, a 3×3 map of performance × potential), numbered 1–9 from
  low/low to high/high as the regulation's nine boxes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import IntEnum, StrEnum

from bot.i18n import N_
from bot.rules.skp import Predicate

MIN_YEARS = 2
MAX_YEARS = 5
MIN_MONTHS_OF_DATA = 3


class Eligibility(StrEnum):
    NOT_YET = "belum_dapat"  # under 2 years in the post
    ELIGIBLE = "dapat"  # 2 to 5 years
    DUE = "wajib_dipertimbangkan"  # more than 5 years


class Level(IntEnum):
    """A level of performance or of potential (the map's rows and columns)."""

    RENDAH = 1
    MENENGAH = 2
    TINGGI = 3


ELIGIBILITY_LABELS = {
    Eligibility.NOT_YET: N_("not yet eligible for transfer"),
    Eligibility.ELIGIBLE: N_("eligible for transfer"),
    Eligibility.DUE: N_("due for transfer"),
}
LEVEL_LABELS = {
    Level.RENDAH: N_("Low"),
    Level.MENENGAH: N_("Medium"),
    Level.TINGGI: N_("High"),
}
# (performance, potential) -> box number, as the regulation numbers the nine boxes.
BOXES: dict[tuple[Level, Level], int] = {
    (Level.RENDAH, Level.RENDAH): 1,
    (Level.MENENGAH, Level.RENDAH): 2,
    (Level.RENDAH, Level.MENENGAH): 3,
    (Level.TINGGI, Level.RENDAH): 4,
    (Level.MENENGAH, Level.MENENGAH): 5,
    (Level.RENDAH, Level.TINGGI): 6,
    (Level.TINGGI, Level.MENENGAH): 7,
    (Level.MENENGAH, Level.TINGGI): 8,
    (Level.TINGGI, Level.TINGGI): 9,
}


def anniversary(start: dt.date, years: int) -> dt.date:
    """``start`` plus whole calendar years; 29 February falls on 1 March in a common year."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February in a common year
        return dt.date(start.year + years, 3, 1)


def full_years(start: dt.date, today: dt.date) -> int:
    """Whole years from ``start`` (the TMT of the post) to ``today``; 0 if in the future."""
    if today <= start:
        return 0
    years = today.year - start.year
    while years > 0 and anniversary(start, years) > today:
        years -= 1
    return years


def eligibility(start: dt.date, today: dt.date) -> Eligibility:
    """Where someone in their post since ``start`` stands for a rotation on ``today``."""
    if today < anniversary(start, MIN_YEARS):
        return Eligibility.NOT_YET
    # "at most 5 years": up to and including the fifth anniversary.
    if today <= anniversary(start, MAX_YEARS):
        return Eligibility.ELIGIBLE
    return Eligibility.DUE


def performance_level(predicates: Iterable[Predicate | str]) -> Level | None:
    """The performance level from monthly predicates; ``None``: not enough data."""
    values = [Predicate(p) for p in predicates]
    if len(values) < MIN_MONTHS_OF_DATA:
        return None
    good = sum(p in (Predicate.BAIK, Predicate.SANGAT_BAIK) for p in values)
    best = sum(p is Predicate.SANGAT_BAIK for p in values)
    if best * 2 >= len(values) and good == len(values):
        return Level.TINGGI
    if good * 2 < len(values):
        return Level.RENDAH
    return Level.MENENGAH


def talent_box(performance: Level, potential: Level) -> int:
    return BOXES[(performance, potential)]


def parse_potential(text: str) -> Level | None:
    """``Rendah`` / ``Menengah`` / ``Tinggi`` (or English), as HR types it."""
    key = text.strip().casefold()
    return {
        "rendah": Level.RENDAH,
        "low": Level.RENDAH,
        "menengah": Level.MENENGAH,
        "sedang": Level.MENENGAH,
        "medium": Level.MENENGAH,
        "tinggi": Level.TINGGI,
        "high": Level.TINGGI,
    }.get(key)
