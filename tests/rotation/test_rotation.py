"""Who is due for rotation: the boundaries, the talent box, the formasi suggestions, the counts
(``bot.rotation`` on a hand-made organisation; every date relative to one fixed today)."""

from __future__ import annotations

import datetime as dt

from bot.i18n import get_translator
from bot.rotation import Opening, box_text, build_report, opening_text, rotation_report
from bot.rules.talent import Eligibility, Level
from storage.repositories.rotation import Formation, PostHolder
from tests.rotation.support import add_org, years_ago

TODAY = dt.date(2026, 3, 15)
ID = get_translator("id")


def holder(
    n: int, since: dt.date | None, *, unit_id: int = 1, position: str = "Analis"
) -> PostHolder:
    return PostHolder(n, f"nip{n}", f"P{n}", unit_id, f"U{unit_id}", position, since, None)


def test_five_years_exactly_is_not_due_and_a_day_more_is():
    people = [
        holder(1, years_ago(TODAY, 5)),
        holder(2, years_ago(TODAY, 5, 1)),
        holder(3, years_ago(TODAY, 2)),  # two full years today: eligible
        holder(4, years_ago(TODAY, 2) + dt.timedelta(days=1)),  # a day short: not yet
        holder(5, None),
        holder(6, years_ago(TODAY, 12)),
    ]
    report = build_report(people, {}, [], {}, TODAY)
    assert [c.employee_id for c in report.candidates] == [6, 2]  # longest first
    assert [c.years for c in report.candidates] == [12, 5]
    assert report.counts == {
        Eligibility.NOT_YET: 1,
        Eligibility.ELIGIBLE: 2,
        Eligibility.DUE: 2,
        None: 1,
    }
    assert not report.has_formations


def test_leap_day_appointment():
    since = dt.date(2016, 2, 29)
    assert build_report([holder(1, since)], {}, [], {}, dt.date(2021, 3, 1)).candidates == []
    due = build_report([holder(1, since)], {}, [], {}, dt.date(2021, 3, 2)).candidates
    assert [c.employee_id for c in due] == [1]


def test_suggestions_are_other_units_with_an_under_filled_post():
    person = holder(1, years_ago(TODAY, 6), unit_id=1, position="Analis  KEBIJAKAN")
    formations = [
        Formation(1, "Own unit", "Analis Kebijakan", 9),  # their own unit: never suggested
        Formation(2, "Bappeda", "analis kebijakan", 3),
        Formation(3, "Dinas Kesehatan", "Analis Kebijakan", 4),
        Formation(4, "Full", "Analis Kebijakan", 2),
        Formation(5, "Other post", "Perawat", 5),
    ]
    filled = {(2, "analis kebijakan"): 2, (4, "analis kebijakan"): 2, (1, "analis kebijakan"): 1}
    (candidate,) = build_report([person], {}, formations, filled, TODAY).candidates
    assert candidate.openings == (
        Opening("Dinas Kesehatan", "Analis Kebijakan", 0, 4),
        Opening("Bappeda", "analis kebijakan", 2, 3),
    )
    assert opening_text(candidate.openings[1], ID) == (
        "Formasi kosong: analis kebijakan di Bappeda (2 dari 3)"
    )


def test_the_box_or_what_is_missing():
    since = years_ago(TODAY, 7)
    people = [
        PostHolder(1, "n1", "A", 1, "U", "X", since, "tinggi"),
        PostHolder(2, "n2", "B", 1, "U", "X", since, "rendah"),
        PostHolder(3, "n3", "C", 1, "U", "X", since, None),
        PostHolder(4, "n4", "D", 1, "U", "X", since, None),
    ]
    predicates = {
        1: ["sangat_baik", "sangat_baik", "baik"],
        2: ["baik", "butuh_perbaikan", "kurang"],
        3: ["baik"] * 12,
        4: ["baik"],
    }
    report = build_report(people, predicates, [], {}, TODAY)
    boxes = {c.employee_id: (c.performance, c.potential, c.box) for c in report.candidates}
    assert boxes == {
        1: (Level.TINGGI, Level.TINGGI, 9),
        2: (Level.RENDAH, Level.RENDAH, 1),
        3: (Level.MENENGAH, None, None),
        4: (None, None, None),
    }
    texts = {c.employee_id: box_text(c, ID) for c in report.candidates}
    assert "9" in texts[1] and "potensi belum diisi" in texts[3]
    assert "belum cukup data" in texts[4] and "potensi belum diisi" in texts[4]


async def test_report_from_the_database(sessionmaker):
    org = await add_org(sessionmaker, TODAY)
    async with sessionmaker() as session:
        report = await rotation_report(session, TODAY)
    # Joko (inactive, 20 years) is not listed; Dewi (exactly 5 years) is not due.
    assert [c.name for c in report.candidates] == ["Hadi", "Eko"]
    hadi, eko = report.candidates
    assert (hadi.years, hadi.performance, hadi.potential, hadi.box) == (
        10,
        None,  # two predicates only
        Level.MENENGAH,
        None,
    )
    assert (eko.performance, eko.potential, eko.box) == (Level.TINGGI, Level.TINGGI, 9)
    # Eko (Bappeda): Dinas Kesehatan 0 of 4, Dinas Perhubungan 1 of 3 (Hadi, any case).
    assert eko.openings == (
        Opening("Dinas Kesehatan", "ANALIS KEBIJAKAN", 0, 4),
        Opening("Dinas Perhubungan", "Analis Kebijakan", 1, 3),
    )
    # Hadi (Dinas Perhubungan): Bappeda holds 2 of 2 (Dewi, Eko) — full.
    assert hadi.openings == (Opening("Dinas Kesehatan", "ANALIS KEBIJAKAN", 0, 4),)
    assert report.counts == {
        Eligibility.NOT_YET: 1,  # Intan
        Eligibility.ELIGIBLE: 2,  # Dewi, Fajar
        Eligibility.DUE: 2,
        None: 1,  # Gita
    }
    assert report.has_formations

    async with sessionmaker() as session:
        one = await rotation_report(session, TODAY, [org.bappeda])
    assert [c.name for c in one.candidates] == ["Eko"]
    assert [u.name for u in one.units] == ["Bappeda"]
    assert sum(one.counts.values()) == 4


async def test_without_formations_nothing_is_suggested(sessionmaker):
    await add_org(sessionmaker, TODAY, formations=False)
    async with sessionmaker() as session:
        report = await rotation_report(session, TODAY)
    assert not report.has_formations
    assert all(c.openings == () for c in report.candidates)
